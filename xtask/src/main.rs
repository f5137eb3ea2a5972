//! Runs a `just` recipe of this repository, installing `just` first with
//! `cargo install just --locked` when it is not found. Used by the cargo
//! aliases in `.cargo/config.toml`: `cargo demo`, `cargo test-all`, `cargo just RECIPE`.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<OsString> = env::args_os().skip(1).collect();
    if args.is_empty() {
        eprintln!("usage: cargo demo | cargo test-all | cargo just RECIPE [ARGS...]");
        return ExitCode::from(2);
    }
    // The repository root: the justfile is there.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask/ has a parent").to_path_buf();
    let just = match find_just().map(Ok).unwrap_or_else(install_just) {
        Ok(just) => just,
        Err(message) => {
            eprintln!("xtask: {message}");
            return ExitCode::FAILURE;
        }
    };
    let mut command = Command::new(&just);
    command.args(&args).current_dir(&root).env("PATH", path_with(&cargo_bin()));
    // What `cargo run` set for this package only, so recipes see the caller's environment.
    for (key, _) in env::vars_os() {
        let key_text = key.to_string_lossy();
        if ["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_CRATE_", "CARGO_BIN_", "CARGO_PRIMARY_"]
            .iter()
            .any(|prefix| key_text.starts_with(prefix))
        {
            command.env_remove(&key);
        }
    }
    match command.status() {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => ExitCode::from(status.code().map_or(1, |c| c.clamp(1, 255) as u8)),
        Err(e) => {
            eprintln!("xtask: cannot run {}: {e}", just.display());
            ExitCode::FAILURE
        }
    }
}

/// `$CARGO_HOME/bin` (default `~/.cargo/bin`), where `cargo install` puts binaries.
fn cargo_bin() -> PathBuf {
    let home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").or_else(|| env::var_os("USERPROFILE")).map(|home| PathBuf::from(home).join(".cargo")));
    home.unwrap_or_else(|| PathBuf::from(".cargo")).join("bin")
}

/// `PATH` with `dir` in front, so recipes find what `cargo install` put there.
fn path_with(dir: &Path) -> OsString {
    let mut dirs = vec![dir.to_path_buf()];
    dirs.extend(env::var_os("PATH").iter().flat_map(env::split_paths));
    env::join_paths(dirs).unwrap_or_else(|_| env::var_os("PATH").unwrap_or_default())
}

/// `just` on `PATH`, or in cargo's bin directory.
fn find_just() -> Option<PathBuf> {
    let exe = format!("just{}", env::consts::EXE_SUFFIX);
    env::split_paths(&path_with(&cargo_bin())).map(|dir| dir.join(&exe)).find(|file| file.is_file())
}

/// `cargo install just --locked`, with the cargo that runs this.
fn install_just() -> Result<PathBuf, String> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("xtask: `just` not found; installing it with `cargo install just --locked`");
    let status =
        Command::new(&cargo).args(["install", "just", "--locked"]).status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("`cargo install just --locked` failed ({status})"));
    }
    find_just().ok_or_else(|| format!("`just` was installed but is not in {}", cargo_bin().display()))
}
