//! The `camel-wasm` command line, run as a process.

use std::process::Output;

use crate::fixture::{guest, guests_dir};

fn camel_wasm(args: &[&str]) -> Output {
    crate::fixture::cli_command().args(args).output().expect("run camel-wasm")
}

fn path(name: &str) -> String {
    guests_dir().join(guest(name)).to_string_lossy().into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn call_prints_the_resulting_exchange() {
    let out = camel_wasm(&["call", &path("upper"), "--body", "hi", "--header", "n=42"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let exchange: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(exchange["input"]["body"], serde_json::json!({"text": "HI"}));
    assert_eq!(exchange["input"]["headers"]["n"], serde_json::json!(42));
}

#[test]
fn call_sends_json_bodies() {
    let out = camel_wasm(&["call", &path("json-enrich"), "--json", "--body", r#"{"a":1}"#]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("\"enriched_by\": \"json-enrich\""), "{}", stdout(&out));
}

#[test]
fn call_invokes_bean_methods_and_evaluates_policies() {
    let out = camel_wasm(&["call", &path("text-utils"), "--method", "reverse", "--body", "abc"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(r#""text": "cba""#), "{}", stdout(&out));
    let out = camel_wasm(&["call", &path("role-check"), "--property", r#"camel.auth.roles=["admin"]"#]);
    assert_eq!(stdout(&out).trim(), "Granted");
    let out = camel_wasm(&["call", &path("role-check"), "--property", r#"camel.auth.roles=["guest"]"#]);
    assert_eq!(stdout(&out).trim(), "Denied: role-check: requires role 'admin'");
    let out = camel_wasm(&["call", &path("role-check"), "--config", "role=ops", "--property", r#"camel.auth.roles=["ops"]"#]);
    assert_eq!(stdout(&out).trim(), "Granted");
}

#[test]
fn inspect_names_the_world() {
    let out = camel_wasm(&["inspect", &path("text-utils")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("world: bean"), "{text}");
    assert!(text.contains("methods:") && text.contains("reverse"), "{text}");
    assert!(text.contains("camel:plugin/host@1.0.0"), "{text}");
    let out = camel_wasm(&["inspect", &path("upper")]);
    assert!(stdout(&out).contains("world: plugin"));
}

#[test]
fn inspect_names_the_source_world_and_its_plan_and_call_points_to_serve() {
    let out = camel_wasm(&["inspect", &path("stream-source")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("world: source"), "{text}");
    assert!(text.contains("plan: one http-listener on 0.0.0.0:8080 (every path), sequential"), "{text}");
    // The webhook source needs its secret to make a plan: inspect says so instead of failing.
    let out = camel_wasm(&["inspect", &path("webhook-source")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("world: source")
            && text.contains("plan: not known without its config (")
            && text.contains("configure failed"),
        "{text}"
    );
    let out = camel_wasm(&["call", &path("stream-source"), "--body", "x"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is a source: it takes requests, not calls; run it with `camel-wasm serve"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn failures_exit_non_zero_with_one_clear_line() {
    let cases: [(&[&str], &str); 6] = [
        (&["call", &path("spin"), "--timeout", "1"], "plugin 'spin.wasm' timed out after 1s"),
        (
            &["call", &path("memhog"), "--max-memory", "10485760"],
            "plugin 'memhog.wasm' ran out of memory (max-memory is 10485760 bytes)",
        ),
        (&["call", &path("panicker")], "panicked: panicker: deliberate panic"),
        (&["call", &path("deep-recursion")], "trapped: stack overflow"),
        (&["call", &path("upper"), "--timeout", "0"], "invalid value '0' for parameter 'timeout'"),
        (&["call", &path("text-utils"), "--method", "nope"], "has no method 'nope'"),
    ];
    for (args, expected) in cases {
        // RUST_LOG=error: a guest's own stderr lines (panic messages) are warnings, left out here.
        let out = crate::fixture::cli_command().args(args).env("RUST_LOG", "error").output().expect("run");
        assert!(!out.status.success(), "{args:?} should fail");
        let err = stderr(&out);
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

#[test]
fn a_guest_calling_log_is_refused_by_default_and_served_with_allow_call_log() {
    let args = ["call", &path("forward"), "--header", "forward-to=log:x", "--body", "to the log"];
    let out = camel_wasm(&args);
    assert!(!out.status.success(), "refused by default");
    let err = stderr(&out);
    assert!(err.contains("scheme 'log'") && err.contains("allow-call=log"), "{err}");

    let out = camel_wasm(&[&args[..], &["--allow-call", "log"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("[log:x] to the log"), "the log endpoint prints the payload: {}", stderr(&out));
    assert!(stdout(&out).contains(r#""text": "to the log""#), "and replies with it: {}", stdout(&out));

    let other = ["call", &path("forward"), "--header", "forward-to=echo:x", "--allow-call", "log"];
    let err = stderr(&camel_wasm(&other));
    assert!(err.contains("scheme 'echo'") && err.contains("denied"), "any other scheme stays refused: {err}");
}

/// Peak resident memory of the children this process has waited for, in bytes.
fn children_peak_rss() -> u64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) }, 0);
    usage.ru_maxrss as u64 * 1024
}

#[test]
fn a_set_property_flood_fails_typed_within_bounded_memory() {
    let out = camel_wasm(&["call", &path("prop-flood"), "--max-memory", "16777216"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("plugin 'prop-flood.wasm' went over max-property-bytes (1048576)"), "{err}");
    let peak = children_peak_rss();
    assert!(peak < 300 << 20, "the CLI stayed under 300 MB resident (peak of any child: {} MiB)", peak >> 20);
}

#[test]
fn huge_knob_values_do_not_crash_the_cli() {
    let out = camel_wasm(&["call", &path("upper"), "--body", "hi", "--timeout", "1e19"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = camel_wasm(&["call", &path("upper"), "--body", "hi", "--max-concurrent", "18446744073709551615"]);
    let err = stderr(&out);
    assert!(!out.status.success() && err.contains("'max-concurrent'") && err.contains("at most"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let out = camel_wasm(&["call", &path("upper"), "--body", "hi", "--max-wasm-size", "100"]);
    assert!(stderr(&out).contains("over the max-wasm-size limit of 100 bytes"), "{}", stderr(&out));
}

#[test]
fn call_takes_a_wasm_uri_with_rust_camel_parameter_names() {
    let run = |args: &[&str]| crate::fixture::cli_command().current_dir(guests_dir()).args(args).output().expect("run");
    let out = run(&["call", "wasm:upper.wasm?timeout=5&max-concurrent-calls=2", "--body", "hi"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(r#""text": "HI""#), "{}", stdout(&out));
    let out = run(&["call", "wasm:forward.wasm?allow-call=log", "--header", "forward-to=log:x", "--body", "uri"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&["call", "wasm:upper.wasm?timeout=5", "--timeout", "2", "--body", "hi"]);
    assert!(stderr(&out).contains("'timeout' is given both in the wasm: URI and as --timeout"), "{}", stderr(&out));
    let out = run(&["call", "wasm:upper.wasm?max-concurrent=1&max-concurrent-calls=2", "--body", "hi"]);
    assert!(stderr(&out).contains("given twice"), "{}", stderr(&out));
    let out = run(&["call", "wasm:upper.wasm?colour=blue", "--body", "hi"]);
    assert!(stderr(&out).contains("unknown parameter 'colour'"), "{}", stderr(&out));
}

/// A scratch file path for this test binary, unique per `name`.
fn scratch(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{}-{name}", std::process::id()))
}

/// The JSON exchange `call` printed before the line that starts with `body (`.
fn printed_exchange(text: &str) -> serde_json::Value {
    let json = text.split("\nbody (").next().unwrap();
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Runs the CLI and reaps it with `wait4`: its output and its own peak resident memory, in bytes.
#[allow(clippy::zombie_processes)] // reaped by wait4, which std does not know of
fn camel_wasm_measured(args: &[&str]) -> (Output, u64) {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    let mut child = crate::fixture::cli_command()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run camel-wasm");
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut all = Vec::new();
            pipe.read_to_end(&mut all).expect("read the child's output");
            all
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    let mut status = 0;
    // SAFETY: wait4 fills the zeroed struct it is given; the child is ours and not waited for elsewhere.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t);
    let output = Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    };
    (output, usage.ru_maxrss as u64 * 1024)
}

#[test]
fn call_prints_a_returned_stream_body_naming_its_kind() {
    let out = camel_wasm(&["call", &path("stream-out")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().last(), Some("body (stream, 5 bytes): hello"), "{text}");
    let exchange = printed_exchange(&text);
    let about = serde_json::json!({"size_hint": 5, "content_type": "text/plain", "origin": "stream-out"});
    assert_eq!(exchange["input"]["body"], serde_json::json!({"stream": about}), "{text}");

    // Longer than the 64 KiB preview: printed as it arrives, then its size.
    let out = camel_wasm(&["call", &path("stream-gen"), "--header", "x-stream-bytes=200000"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("\nbody (stream, printed as it arrives): abcdefghijklmnopqrstuvwxyzabc"), "{}", &text[..600]);
    assert!(text.ends_with("\n(stream ended: 200000 bytes)\n"), "{}", &text[text.len() - 100..]);
    let printed =
        text.split("printed as it arrives): ").nth(1).unwrap().strip_suffix("\n(stream ended: 200000 bytes)\n").unwrap();
    assert_eq!(printed.len(), 200000);
    assert!(printed.bytes().enumerate().all(|(i, b)| b == b'a' + (i % 26) as u8), "the generator's bytes, in order");
}

#[test]
fn call_body_out_writes_the_returned_body_to_a_file() {
    let file = scratch("body-out-stream.txt");
    let out = camel_wasm(&["call", &path("stream-out"), "--body-out", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().last().unwrap(), format!("body (stream, 5 bytes) written to {}", file.display()));
    assert!(!text.contains("hello"), "the body is not printed: {text}");
    assert_eq!(std::fs::read(&file).unwrap(), b"hello");

    let file = scratch("body-out-text.txt");
    let out = camel_wasm(&["call", &path("upper"), "--body", "hi", "--body-out", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().last().unwrap(), format!("body (text, 2 bytes) written to {}", file.display()));
    assert_eq!(printed_exchange(&stdout(&out))["input"]["body"], serde_json::json!({"text": "HI"}));
    assert_eq!(std::fs::read(&file).unwrap(), b"HI");

    // A stream body through a guest and back, to a file, byte for byte.
    let input = scratch("body-out-in.bin");
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&input, &bytes).unwrap();
    let file = scratch("body-out-upper.bin");
    let args =
        ["call", &path("stream-upper"), "--body-file", input.to_str().unwrap(), "--stream", "--body-out", file.to_str().unwrap()];
    let out = camel_wasm(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("body (stream, 300000 bytes) written to"), "{}", stdout(&out));
    assert_eq!(std::fs::read(&file).unwrap(), bytes.to_ascii_uppercase());
    for f in ["body-out-stream.txt", "body-out-text.txt", "body-out-in.bin", "body-out-upper.bin"] {
        let _ = std::fs::remove_file(scratch(f));
    }
}

#[test]
fn call_streams_a_body_file_without_reading_it_whole() {
    const SIZE: usize = 48 << 20;
    let file = scratch("stream-in.txt");
    std::fs::write(&file, vec![b'z'; SIZE]).unwrap();
    let (out, peak) = camel_wasm_measured(&["call", &path("stream-count"), "--body-file", file.to_str().unwrap(), "--stream"]);
    let _ = std::fs::remove_file(&file);
    assert!(out.status.success(), "{}", stderr(&out));
    let exchange: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(exchange["input"]["body"], serde_json::json!({"text": SIZE.to_string()}));
    assert_eq!(exchange["input"]["headers"]["x-stream-bytes"], serde_json::json!(SIZE));
    // The same CLI with a tiny body, for its baseline: the 48 MiB file adds far less than 48 MiB.
    let (small, baseline) = camel_wasm_measured(&["call", &path("stream-count"), "--body", "x"]);
    assert!(small.status.success(), "{}", stderr(&small));
    assert!(peak < baseline + (16 << 20), "peak {} MiB against a baseline of {} MiB", peak >> 20, baseline >> 20);

    // Without --stream, a file is read whole: a text body when UTF-8, else bytes.
    let file = scratch("whole.bin");
    std::fs::write(&file, [0xff, 0x00, 0xfe]).unwrap();
    let out = camel_wasm(&["call", &path("stream-count"), "--body-file", file.to_str().unwrap()]);
    let _ = std::fs::remove_file(&file);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(r#""text": "3""#), "{}", stdout(&out));
}

#[test]
fn a_failing_stream_exits_non_zero_with_one_clear_line() {
    let out = camel_wasm(&["call", &path("stream-gen"), "--header", "x-fail-after-bytes=0"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("error: the stream body failed after 0 bytes:") && err.contains("generator failed after 0 bytes"),
        "{err}"
    );

    let out = camel_wasm(&["call", &path("stream-gen"), "--max-stream-bytes", "1000"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("went over max-stream-bytes (1000 bytes)"), "{}", stderr(&out));
    let out = camel_wasm(&["call", &path("stream-out"), "--stream-idle-timeout", "0"]);
    assert!(stderr(&out).contains("invalid value '0' for parameter 'stream-idle-timeout'"), "{}", stderr(&out));
    let out = camel_wasm(&["call", &path("stream-count"), "--body-file", "/nonexistent/x", "--stream"]);
    assert!(!out.status.success() && stderr(&out).contains("--body-file /nonexistent/x"), "{}", stderr(&out));
}

#[test]
fn every_knob_has_a_flag() {
    let help = stdout(&camel_wasm(&["call", "--help"]));
    for knob in camel_wasm::Limits::PARAMETERS {
        assert!(help.contains(&format!("--{knob} ")), "no --{knob} in:\n{help}");
    }
}

#[test]
fn bench_streams_bytes_through_a_guest() {
    let out = camel_wasm(&["bench", &path("stream-count"), "--stream-bytes", "8388608", "--calls", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let figure = |prefix: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no '{prefix}' in:\n{text}"));
        line[prefix.len()..]
            .trim()
            .strip_suffix("MiB/s")
            .or_else(|| line[prefix.len()..].trim().strip_suffix("MiB"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    assert!(figure("stream throughput:") > 0.0, "{text}");
    let peak = figure("peak resident memory:");
    assert!(peak > 1.0 && peak < 200.0, "{text}");
    assert!(text.contains("bytes in / out:          8388608 / 0"), "{text}");
    assert!(text.contains(r#"text body "8388608""#) && text.contains(r#""x-stream-bytes":8388608"#), "{text}");

    // A guest returning a stream: its bytes are drained and counted too.
    let out = camel_wasm(&["bench", &path("stream-upper"), "--stream-bytes", "1048576", "--chunk-bytes", "4096", "--calls", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("bytes in / out:          1048576 / 1048576"), "{}", stdout(&out));
    assert!(stdout(&out).contains("a stream body (drained)"), "{}", stdout(&out));

    // A guest failing fails the bench.
    let out = camel_wasm(&["bench", &path("upper"), "--stream-bytes", "10"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("upper expects a text body"), "{}", stderr(&out));
}

#[test]
fn bench_throughput_lasts_the_window_and_at_least_the_calls() {
    let started = std::time::Instant::now();
    let out = camel_wasm(&["bench", &path("upper"), "--calls", "100", "--concurrency", "2", "--window", "0.4"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(started.elapsed() >= std::time::Duration::from_millis(400), "the throughput figure took under its window");
    let text = stdout(&out);
    let line = text.lines().find(|l| l.starts_with("throughput, 2 caller(s): ")).unwrap_or_else(|| panic!("{text}"));
    let counted = |unit: &str| -> f64 {
        let at = line.find(unit).unwrap_or_else(|| panic!("no '{unit}' in {line}"));
        line[..at].rsplit([' ', '(']).next().unwrap().parse().unwrap()
    };
    let (rate, calls) = (counted(" calls/s"), counted(" calls)"));
    // Calls keep coming for the whole window, far beyond --calls at any plausible rate.
    assert!(calls >= 100.0 && calls >= rate * 0.3, "{line}");

    let out = camel_wasm(&["bench", &path("upper"), "--window=-1"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--window -1: not a number of seconds"), "{}", stderr(&out));
}

/// A running `camel-wasm serve`: its output line by line, and its address.
/// Killed and reaped when dropped, so a failing test leaves no process behind.
struct Served {
    child: std::process::Child,
    stdout: std::sync::mpsc::Receiver<String>,
    stderr: std::sync::mpsc::Receiver<String>,
    /// The `listening on …` line.
    listening: String,
    /// `host:port` from it.
    addr: String,
    /// The stderr lines before it.
    before: Vec<String>,
}

/// How long a test waits for a line of output or for the child to exit.
const SERVE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

impl Served {
    /// Starts `camel-wasm ARGS` in `dir` and waits for its `listening on` line.
    fn start(dir: &std::path::Path, args: &[&str]) -> Self {
        use std::io::BufRead;
        let mut child = crate::fixture::cli_command()
            .current_dir(dir)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run camel-wasm");
        let lines = |pipe: Box<dyn std::io::Read + Send>| {
            let (send, receive) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(pipe).lines() {
                    let Ok(line) = line else { return };
                    if send.send(line).is_err() {
                        return;
                    }
                }
            });
            receive
        };
        let stdout = lines(Box::new(child.stdout.take().unwrap()));
        let stderr = lines(Box::new(child.stderr.take().unwrap()));
        let mut served = Served { child, stdout, stderr, listening: String::new(), addr: String::new(), before: Vec::new() };
        // Warnings (serving without authentication on loopback) come before the `listening` line.
        loop {
            let line = served.stderr_line();
            if line.starts_with("listening on ") {
                served.listening = line;
                break;
            }
            served.before.push(line);
        }
        let rest = served.listening.strip_prefix("listening on http://").unwrap_or_else(|| panic!("{}", served.listening));
        served.addr = rest.split('/').next().unwrap().to_string();
        served
    }

    fn stdout_line(&self) -> String {
        self.stdout.recv_timeout(SERVE_WAIT).expect("a line on stdout")
    }

    fn stderr_line(&self) -> String {
        self.stderr.recv_timeout(SERVE_WAIT).expect("a line on stderr")
    }

    /// Sends `signal` and waits for the exit: its status, and the rest of stderr and stdout.
    fn stop(&mut self, signal: libc::c_int) -> (std::process::ExitStatus, Vec<String>, Vec<String>) {
        // SAFETY: kill only sends a signal to our own child, which has not been reaped.
        assert_eq!(unsafe { libc::kill(self.child.id() as libc::pid_t, signal) }, 0);
        let deadline = std::time::Instant::now() + SERVE_WAIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for camel-wasm") {
                break status;
            }
            assert!(std::time::Instant::now() < deadline, "camel-wasm serve did not stop");
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let rest = |lines: &std::sync::mpsc::Receiver<String>| {
            std::iter::from_fn(|| lines.recv_timeout(SERVE_WAIT).ok()).collect::<Vec<_>>()
        };
        (status, rest(&self.stderr), rest(&self.stdout))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_client() -> reqwest::Client {
    reqwest::Client::builder().timeout(SERVE_WAIT).build().unwrap()
}

#[tokio::test]
async fn serve_prints_each_exchange_and_echoes_request_reply() {
    let mut served = Served::start(&guests_dir(), &["serve", &path("reply-source"), "--bind", "127.0.0.1:0"]);
    assert!(served.listening.ends_with("/ (plugin reply-source.wasm)"), "{}", served.listening);
    assert!(served.before.iter().any(|l| l.contains("without authentication")), "says so: {:?}", served.before);
    assert!(served.addr.starts_with("127.0.0.1:") && !served.addr.ends_with(":0"), "the real port: {}", served.listening);

    let response = serve_client().post(format!("http://{}/echo", served.addr)).body("hello").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-path"], "/echo");
    assert_eq!(response.text().await.unwrap(), "hello", "the exchange, echoed");

    let line = served.stdout_line();
    let exchange: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(exchange["input"]["body"], serde_json::json!({"text": "hello"}), "{line}");
    assert_eq!(exchange["input"]["headers"]["x-method"], "POST", "{line}");
    assert_eq!(exchange["pattern"], "in-out", "{line}");

    let (status, stderr, stdout) = served.stop(libc::SIGINT);
    assert_eq!(status.code(), Some(0), "{stderr:?}");
    assert_eq!(stderr, ["stopped (1 exchanges)"]);
    assert!(stdout.is_empty(), "one line per exchange: {stdout:?}");
}

#[tokio::test]
async fn serve_drains_stream_bodies_into_the_line_and_stops_on_sigterm() {
    let uri = format!("wasm:{}?bind=127.0.0.1:0&path=/in", guest("stream-source"));
    let mut served = Served::start(&guests_dir(), &["serve", &uri, "--max-body-bytes", "1000"]);
    assert!(served.listening.ends_with("/in (plugin stream-source.wasm)"), "{}", served.listening);
    let client = serve_client();

    let response = client.post(format!("http://{}/in", served.addr)).body("streamed body").send().await.unwrap();
    assert_eq!(response.status(), 202, "in-only");
    let line = served.stdout_line();
    let exchange: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let stream =
        serde_json::json!({"stream": {"length": 13, "origin": "stream-source", "size_hint": 13, "text": "streamed body"}});
    assert_eq!(exchange["input"]["body"], stream, "{line}");

    let response = client.post(format!("http://{}/in", served.addr)).body(vec![0xff, 0x00, 0xfe]).send().await.unwrap();
    assert_eq!(response.status(), 202);
    let line = served.stdout_line();
    assert!(line.contains(r#""hex":"ff00fe","length":3"#), "not UTF-8: its hex: {line}");

    // A large body is previewed, never printed (nor held) whole.
    let response = client.post(format!("http://{}/in", served.addr)).body(vec![b'y'; 900]).send().await.unwrap();
    assert_eq!(response.status(), 202);
    let line = served.stdout_line();
    assert!(line.contains(r#""length":900"#) && !line.contains("truncated"), "{line}");

    let response = client.post(format!("http://{}/other", served.addr)).body("x").send().await.unwrap();
    assert_eq!(response.status(), 404, "off --path");
    let response = client.post(format!("http://{}/in", served.addr)).body(vec![b'x'; 2000]).send().await.unwrap();
    assert_eq!(response.status(), 413, "over --max-body-bytes");

    let (status, stderr, _) = served.stop(libc::SIGTERM);
    assert_eq!(status.code(), Some(0), "{stderr:?}");
    assert_eq!(stderr.last().map(String::as_str), Some("stopped (3 exchanges)"), "{stderr:?}");
}

#[tokio::test]
async fn serve_previews_large_bodies_and_refuses_past_16_mib_by_default() {
    let uri = format!("wasm:{}?bind=127.0.0.1:0&path=/in", guest("stream-source"));
    let mut served = Served::start(&guests_dir(), &["serve", &uri]);
    let client = serve_client();
    let body: Vec<u8> = (0..2 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let response = client.post(format!("http://{}/in", served.addr)).body(body).send().await.unwrap();
    assert_eq!(response.status(), 202);
    let line = served.stdout_line();
    assert!(line.len() < 4096, "a preview, not the body: {} bytes", line.len());
    assert!(line.contains(r#""length":2097152"#) && line.contains(r#""truncated":true"#), "{}", &line[..line.len().min(300)]);
    let response = client.post(format!("http://{}/in", served.addr)).body(vec![b'z'; 17 * 1024 * 1024]).send().await;
    assert!(response.map_or(true, |r| r.status() == 413), "over serve's default max-body-bytes (16 MiB)");
    let (status, stderr, _) = served.stop(libc::SIGTERM);
    assert_eq!(status.code(), Some(0), "{stderr:?}");
}

#[test]
fn serve_failing_to_start_exits_1_with_one_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let cases: [(&[&str], String); 8] = [
        (&["serve", &path("reply-source"), "--bind", &addr], format!("cannot listen on {addr}: ")),
        (&["serve", &path("webhook-source"), "--bind", "127.0.0.1:0"], "configure failed".into()),
        (&["serve", &path("reply-source")], "--bind ADDR".into()),
        (&["serve", &path("reply-source"), "--bind", "0.0.0.0:0"], "needs --allow-public-bind".into()),
        (&["serve", &path("reply-source"), "--bind", "0.0.0.0:0", "--allow-public-bind"], "needs authentication".into()),
        (&["serve", &path("reply-source"), "--bind", "127.0.0.1:0", "--source", "nope=1"], "not a source parameter".into()),
        (&["serve", &path("reply-source"), "--bind", "127.0.0.1:0", "--config", "bind=127.0.0.1:9"], "disagree".into()),
        (&["serve", &path("upper"), "--bind", "127.0.0.1:0"], "does not fit the 'source' world".into()),
    ];
    for (args, expected) in cases {
        let out = camel_wasm(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("error: ") && err.contains(&expected), "{args:?}: {err}");
    }
    drop(taken);
}

#[test]
fn call_evaluates_language_entries_and_inspect_lists_them() {
    let tiers = path("tiers");
    let answer = |args: &[&str]| {
        let out = camel_wasm(&[&["call", tiers.as_str()], args].concat());
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out).trim().to_string()
    };
    assert_eq!(answer(&["--entry", "is-gold", "--header", "tier=gold"]), "true");
    assert_eq!(answer(&["--entry", "is-gold", "--header", "tier=silver"]), "false");
    assert_eq!(answer(&["--entry", "discount", "--header", "tier=platinum"]), "20");
    let summary: serde_json::Value =
        serde_json::from_str(&answer(&["--entry", "summary", "--json", "--body", r#"{"tier":"gold","amount":1500}"#])).unwrap();
    assert_eq!(summary, serde_json::json!({"tier": "gold", "discount": 10, "big": true}));
    assert_eq!(answer(&["--entry", "is-platinum,is-gold,is-big", "--header", "amount=5000"]), "2 (is-big)");
    assert_eq!(answer(&["--entry", "is-platinum, is-gold", "--header", "amount=5"]), "none");

    let missing = camel_wasm(&["call", &tiers, "--body", "x"]);
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("is a language: pass --entry (one of: is-platinum (predicate), "), "{}", stderr(&missing));
    let unknown = camel_wasm(&["call", &tiers, "--entry", "is-golden"]);
    assert!(!unknown.status.success() && stderr(&unknown).contains("has no predicate 'is-golden'"), "{}", stderr(&unknown));
    let chaos = camel_wasm(&["call", &path("language-chaos"), "--entry", "not-json"]);
    assert!(!chaos.status.success() && stderr(&chaos).contains("returned text that is not JSON"), "{}", stderr(&chaos));

    let inspect = camel_wasm(&["inspect", &tiers]);
    assert!(inspect.status.success(), "{}", stderr(&inspect));
    let text = stdout(&inspect);
    assert!(text.contains("world: language\n"), "{text}");
    assert!(text.contains("entries: is-platinum (predicate), is-gold (predicate), "), "{text}");
    assert!(text.contains("tier (expression), discount (expression), items (expression), summary (expression)\n"), "{text}");

    let bench = camel_wasm(&["bench", &tiers, "--entry", "is-gold", "--header", "tier=gold", "--calls", "200"]);
    assert!(bench.status.success(), "{}", stderr(&bench));
    assert!(stdout(&bench).contains("tiers.wasm: world language"), "{}", stdout(&bench));
}

#[test]
fn call_metrics_prints_the_prometheus_exposition_after_the_result() {
    let out = camel_wasm(&["call", &path("upper"), "--body", "hi", "--metrics"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let (result, metrics) = text.split_once("\n# metrics\n").unwrap_or_else(|| panic!("no `# metrics` line: {text}"));
    assert_eq!(printed_exchange(result)["input"]["body"], serde_json::json!({"text": "HI"}));
    assert!(metrics.contains(r#"camel_wasm_calls_total{plugin="upper.wasm",world="plugin"} 1"#), "{metrics}");
    // Latency as histograms with microsecond buckets, aggregatable across hosts: one call, counted in `+Inf`.
    let bucket = |le: &str| format!(r#"camel_wasm_call_duration_seconds_bucket{{plugin="upper.wasm",world="plugin",le="{le}"}}"#);
    assert!(metrics.contains(&bucket("0.000001")), "{metrics}");
    assert!(metrics.contains(&format!("{} 1", bucket("+Inf"))), "{metrics}");
    assert!(metrics.contains(&format!("{} 1", bucket("30"))), "every call is within the last bound: {metrics}");
    assert!(metrics.contains("camel_wasm_slot_wait_seconds_bucket{"), "{metrics}");
    assert!(!metrics.contains("quantile="), "no summary: {metrics}");

    let custom = stdout(&camel_wasm(&["call", &path("upper"), "--body", "hi", "--metrics", "--metrics-buckets", "0.5,2"]));
    assert!(custom.contains(&format!("{} 1", bucket("0.5"))) && !custom.contains(&bucket("0.000001")), "{custom}");
    let summary = stdout(&camel_wasm(&["call", &path("upper"), "--body", "hi", "--metrics", "--metrics-summary"]));
    assert!(summary.contains("camel_wasm_call_duration_seconds{") && summary.contains("quantile=\"0.99\""), "{summary}");
    assert!(!summary.contains("_bucket{"), "{summary}");

    let plain = camel_wasm(&["call", &path("upper"), "--body", "hi"]);
    assert!(!stdout(&plain).contains("# metrics"), "only with --metrics");
}

/// `camel-wasm call` with `RUST_LOG` set to `filter` (unset for `None`).
fn call_logging(filter: Option<&str>, args: &[&str]) -> Output {
    let mut command = crate::fixture::cli_command();
    command.args(args).env_remove("RUST_LOG");
    if let Some(filter) = filter {
        command.env("RUST_LOG", filter);
    }
    command.output().expect("run camel-wasm")
}

#[test]
fn rust_log_shows_guest_output_on_stderr() {
    let args = ["call", &path("wasi-probe"), "--body", "x"];
    let out = call_logging(Some("info"), &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let line = err.lines().find(|l| l.contains("wasi-probe stdout")).unwrap_or_else(|| panic!("no stdout line: {err}"));
    assert!(line.contains("INFO") && line.contains(r#"plugin="wasi-probe.wasm""#) && line.contains("stdout"), "{line}");
    assert!(!stdout(&out).contains("wasi-probe stdout"), "logs go to stderr only");

    // Default: warn. The guest's stderr shows, its stdout does not.
    let err = stderr(&call_logging(None, &args));
    let line = err.lines().find(|l| l.contains("wasi-probe stderr")).unwrap_or_else(|| panic!("no stderr line: {err}"));
    assert!(line.contains("WARN") && line.contains(r#"plugin="wasi-probe.wasm""#), "{line}");
    assert!(!err.contains("wasi-probe stdout"), "{err}");

    let out = call_logging(None, &["call", &path("chaos"), "--body", "panic"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.lines().any(|l| l.contains("WARN") && l.contains("chaos: asked to panic")), "{err}");
    assert!(err.lines().last().unwrap_or("").starts_with("error: "), "the error line last: {err}");

    let err = stderr(&call_logging(Some("off"), &args));
    assert!(!err.contains("wasi-probe"), "RUST_LOG=off: {err}");
}

#[test]
fn bench_watch_reloads_while_calling_without_failures() {
    use std::io::BufRead;
    let dir = scratch("bench-watch");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("plugin.wasm");
    std::fs::copy(path("upper"), &file).unwrap();
    let mut child = crate::fixture::cli_command()
        .args(["bench", &file.to_string_lossy(), "--watch", "--duration", "3", "--concurrency", "4"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run camel-wasm");
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a first line").unwrap();
    assert!(first.starts_with("watching ") && first.contains("4 caller(s)"), "{first}");
    // The calls are running: replace the file atomically with another plugin.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let staged = dir.join("plugin.wasm.new");
    std::fs::copy(path("raw-upper"), &staged).unwrap();
    std::fs::rename(&staged, &file).unwrap();
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert!(status.success(), "{rest:?} {err}");
    let summary = rest.iter().find(|l| l.starts_with("calls: ")).unwrap_or_else(|| panic!("{rest:?}"));
    let number = |after: &str| -> u64 {
        let at = summary.find(after).unwrap() + after.len();
        summary[at..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
    };
    assert!(number("calls: ") > 0, "{summary}");
    assert!(summary.contains(" ok, 0 failed;"), "{summary}");
    assert!(number("reloads: ") >= 1, "{summary}");
    assert!(summary.ends_with("(0 failed)"), "{summary}");
}

/// The `.wasm`-named entries of a cache directory (the key file aside).
fn cache_entries(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map_or(0, |entries| entries.filter_map(Result::ok).filter(|e| e.file_name().to_string_lossy() != "cache.key").count())
}

#[test]
fn call_caches_compiled_components_by_default_and_no_cache_turns_it_off() {
    let dir = scratch("cache");
    let _ = std::fs::remove_dir_all(&dir);
    let run = |extra: &[&str]| {
        crate::fixture::cli_command()
            .env("CAMEL_WASM_CACHE_DIR", &dir)
            .args(["call", &path("upper"), "--body", "cached"])
            .args(extra)
            .output()
            .expect("run")
    };
    let off = run(&["--no-cache"]);
    assert!(off.status.success(), "{}", stderr(&off));
    assert!(!dir.exists(), "--no-cache writes nothing");
    for _ in 0..2 {
        let out = run(&[]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(printed_exchange(&stdout(&out))["input"]["body"]["text"], "CACHED");
        assert!(!stderr(&out).contains("compiling"), "no progress line on a pipe: {}", stderr(&out));
    }
    assert_eq!(cache_entries(&dir), 1, "one entry, written by the first call and loaded by the second");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);

    // A cache directory others may write is refused, said once, and the call still runs.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let loose = run(&[]);
    assert!(loose.status.success(), "{}", stderr(&loose));
    assert!(stderr(&loose).contains("compile cache") && stderr(&loose).contains("not used"), "{}", stderr(&loose));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn call_runs_a_python_guest_and_inspect_names_its_world() {
    let file = crate::python::dist().join(crate::python::py_guest("py-upper"));
    let file = file.to_string_lossy();
    // The cache the Python tests share: the guest compiles once for all of them.
    let cli = || {
        let mut command = crate::fixture::cli_command();
        command.env("CAMEL_WASM_CACHE_DIR", crate::python::cache_dir());
        command
    };
    let out = cli().args(["call", &file, "--body", "snake"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let exchange = printed_exchange(&stdout(&out));
    assert_eq!(exchange["input"]["body"]["text"], "SNAKE");
    assert_eq!(exchange["input"]["headers"]["x-lang"], "python");
    let inspect = cli().args(["inspect", &file]).output().unwrap();
    assert!(stdout(&inspect).starts_with("world: plugin\n"), "{}", stdout(&inspect));
    assert!(stdout(&inspect).contains("camel:plugin/host@1.0.0"), "{}", stdout(&inspect));
}
