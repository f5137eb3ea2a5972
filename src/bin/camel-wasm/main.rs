//! `camel-wasm`: run an exchange through a guest component, serve a source guest, inspect one,
//! measure one, or create a new guest crate.

mod args;
mod bench;
mod body;
mod call;
mod inspect;
mod limit_args;
mod measure;
mod new;
mod open;
mod progress;
mod serve;
mod soak;
mod target;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};
use camel_wasm::escape_control;

/// mimalloc frees another thread's memory without a lock: with `isolation=per-call` an instance
/// made on the background thread is dropped on a caller's, where glibc's malloc waits on its arena lock.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    open::use_cache(!cli.no_cache);
    let rt = tokio::runtime::Runtime::new().expect("start the tokio runtime");
    match rt.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {}", escape_control(&message.replace('\n', " ")));
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `warn`: a guest's stderr
/// lines show, its stdout lines need `info`; target `camel_wasm::guest`).
fn init_logging() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// Runs one subcommand.
async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Inspect { file } => inspect::inspect(&file).await,
        Command::Call(args) => call::call(args).await,
        Command::Bench(args) => bench::bench(args).await,
        Command::Serve(args) => serve::serve(args).await,
        Command::New { name, world, lang, sdk_path } => {
            println!("{}", new::create(&name, world, lang, sdk_path.as_deref())?);
            Ok(())
        }
    }
}
