//! Issue 22, item 6: log injection and amplification. A guest's stdout and
//! stderr become a bounded number of log events per call, with every control
//! character escaped; the CLI escapes guest-controlled text it prints.

use camel_wasm::{Exchange, Plugin};

use crate::fixture::{guest, guests_dir, runtime};
use crate::observability::Captured;

/// The most events one output stream of one call becomes: 16 lines, then one
/// event counting what was held back (src/runtime/output.rs).
const EVENTS_PER_STREAM: usize = 17;

/// Text a guest prints to forge a host `ERROR` line on a terminal, retitle
/// it and clear it (C0, DEL and a C1 CSI included).
const FORGED: &str = "ok\r2026-01-01T00:00:00Z ERROR host: forged\x0b\x1b]0;title\x07\x1b[2J\x7f\u{9b}31m\n";

/// Runs `body` through `stdio-echo` with `headers` under a capturing subscriber; gives what it printed.
async fn logged(body: String, headers: &[(&str, &str)]) -> String {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let plugin = Plugin::from_uri(runtime(), &format!("wasm:{}", guest("stdio-echo"))).unwrap();
    let mut exchange = Exchange::new(body);
    for (k, v) in headers {
        exchange = exchange.with_header(*k, *v);
    }
    plugin.process(exchange).await.expect("stdio-echo");
    String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
}

/// The events of target `camel_wasm::guest` in `text` (one printed line each).
fn guest_events(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.contains("camel_wasm::guest")).collect()
}

#[tokio::test]
async fn a_stderr_flood_is_a_bounded_number_of_events_with_a_count_of_what_was_held_back() {
    let text = logged("x\n".repeat(8192), &[]).await;
    let events = guest_events(&text);
    assert!(events.len() <= EVENTS_PER_STREAM, "{} events for one call, e.g. {:?}", events.len(), &events[..3.min(events.len())]);
    assert!(text.len() < 8 * 1024, "{} bytes of log for 16 KiB of output", text.len());
    let note = events.last().expect("events");
    assert!(note.contains("8176 more lines") && note.contains("16352 bytes"), "what was held back is counted: {note}");
    assert!(note.contains("plugin=") && note.contains("stderr"), "structured fields stay: {note}");
}

#[tokio::test]
async fn control_characters_in_guest_output_are_escaped() {
    for stream in ["stderr", "stdout"] {
        let text = logged(FORGED.repeat(2), &[("to", stream)]).await;
        let events = guest_events(&text);
        if stream == "stdout" && events.is_empty() {
            continue; // stdout lines are info events: shown only where info is on
        }
        assert_eq!(events.len(), 2, "{stream}: one event per line: {text}");
        assert_escaped(stream, &text);
        let line = events[0];
        assert!(line.contains(r"ok\r2026-01-01T00:00:00Z ERROR host: forged\u{b}"), "{line}");
        assert!(line.contains(r"\u{1b}]0;title\u{7}\u{1b}[2J\u{7f}\u{9b}31m"), "{line}");
    }
}

fn camel_wasm(args: &[&str]) -> std::process::Output {
    crate::fixture::cli_command().current_dir(guests_dir()).args(args).output().expect("run camel-wasm")
}

/// No C0 (but newline), DEL or C1 character in `text` (`char::is_control` is exactly those).
fn assert_escaped(what: &str, text: &str) {
    for c in text.chars().filter(|&c| c != '\n') {
        assert!(!c.is_control(), "{what}: raw control character {c:?} in {text:?}");
    }
}

#[test]
fn the_cli_escapes_guest_text_it_prints() {
    let forged = FORGED.trim_end();
    // A guest's error.
    let out = camel_wasm(&["call", "stdio-echo.wasm", "--header", "fail=1", "--body", forged]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_escaped("guest error", &err);
    assert!(err.contains(r"ok\r2026-01-01T00:00:00Z ERROR host: forged\u{b}\u{1b}]0;title"), "{err}");

    // The log: endpoint's payload and URI.
    let uri = "log:x\x1b[2J\r";
    let header = format!("forward-to={uri}");
    let out = camel_wasm(&["call", "forward.wasm", "--allow-call", "log", "--header", &header, "--body", forged]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    let out_text = String::from_utf8_lossy(&out.stdout);
    assert_escaped("log: endpoint", &err);
    assert_escaped("exchange", &out_text);
    assert!(err.contains(r"[log:x\u{1b}[2J\r] ok\r2026"), "{err}");

    // Guest stderr shown by the CLI's logging.
    let out = camel_wasm(&["call", "stdio-echo.wasm", "--body", forged]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_escaped("guest stderr", &err);
    assert!(err.contains(r"\u{1b}]0;title"), "{err}");
}
