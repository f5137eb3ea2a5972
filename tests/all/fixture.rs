//! Shared test fixture: one runtime over `guests/dist`, and snapshot settings.

use std::path::PathBuf;
use std::sync::OnceLock;

use camel_wasm::{CallError, Runtime};

/// Directory of the compiled guests.
pub fn guests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guests/dist")
}

/// The file name of guest `name`, checked to exist so a missing build fails clearly.
pub fn guest(name: &str) -> String {
    let file = format!("{name}.wasm");
    assert!(guests_dir().join(&file).is_file(), "guest {file} is not built: run `just guests` first");
    file
}

/// A runtime over the guests, shared by all tests of this binary, with a few test endpoints.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let runtime = Runtime::builder().base_dir(guests_dir()).build().expect("runtime");
        let endpoints = runtime.endpoints();
        endpoints
            .register_fn("echo", |req: camel_wasm::CallRequest| async move { Ok(format!("echo({}): {}", req.uri, req.payload)) });
        endpoints.register_fn("fail", |req: camel_wasm::CallRequest| async move {
            Err(CallError::Failed { uri: req.uri, message: "downstream refused".into() })
        });
        endpoints.register_fn("queue", |req: camel_wasm::CallRequest| async move {
            match req.kind {
                camel_wasm::CallKind::Poll { .. } => Ok(format!("message from {}", req.uri)),
                camel_wasm::CallKind::Call => Err(CallError::Failed { uri: req.uri, message: "poll only".into() }),
            }
        });
        endpoints.register_fn("hold", |_req: camel_wasm::CallRequest| async move {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            Ok("held".to_string())
        });
        endpoints.register_fn("slow", |req: camel_wasm::CallRequest| async move {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            Ok(format!("slow reply to {}", req.payload))
        });
        runtime
    })
}

/// Runs `f` with insta writing to the repository's `snapshots/` directory.
pub fn snapshots<R>(f: impl FnOnce() -> R) -> R {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(f)
}

/// Waits (at most `within`, looking every 5 ms) until `done` holds; whether it did.
pub async fn eventually(within: std::time::Duration, done: impl Fn() -> bool) -> bool {
    let started = std::time::Instant::now();
    while !done() {
        if started.elapsed() > within {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    true
}

/// The `camel-wasm` binary as a command, its compile cache in the test's own
/// directory (never the user's `~/.cache`).
pub fn cli_command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_camel-wasm"));
    command.env("CAMEL_WASM_CACHE_DIR", cli_cache_dir());
    command
}

/// Where the CLI processes of the tests keep compiled components.
pub fn cli_cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-cache")
}
