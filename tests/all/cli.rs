//! The `camel-wasm` command line, run as a process.

use std::process::{Command, Output};

use crate::fixture::{guest, guests_dir};

fn camel_wasm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_camel-wasm")).args(args).output().expect("run camel-wasm")
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
fn failures_exit_non_zero_with_one_clear_line() {
    let cases: [(&[&str], &str); 6] = [
        (&["call", &path("spin"), "--timeout", "1"], "plugin 'spin.wasm' timed out after 1s"),
        (&["call", &path("memhog"), "--max-memory", "10485760"], "plugin 'memhog.wasm' ran out of memory (max-memory is 10485760 bytes)"),
        (&["call", &path("panicker")], "panicked: panicker: deliberate panic"),
        (&["call", &path("deep-recursion")], "trapped: stack overflow"),
        (&["call", &path("upper"), "--timeout", "0"], "invalid value '0' for parameter 'timeout'"),
        (&["call", &path("text-utils"), "--method", "nope"], "has no method 'nope'"),
    ];
    for (args, expected) in cases {
        let out = camel_wasm(args);
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
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_camel-wasm")).current_dir(guests_dir()).args(args).output().expect("run")
    };
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
