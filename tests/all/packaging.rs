//! Packaging: the guest SDK's copy of the WIT contract, and `camel-wasm new`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The files under `dir` (`deps/` included), by relative path, with their bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).unwrap_or_else(|e| panic!("read {}: {e}", current.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            assert!(path.is_file(), "{} is not a plain file", path.display());
            let name = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            found.insert(name, std::fs::read(&path).expect("read"));
        }
    }
    found
}

/// The published SDK builds from its own `wit/`: it must be the contract the host implements.
/// (`export_source!`'s inline WIT is generated from that copy; an SDK unit test checks it.)
#[test]
fn sdk_wit_is_a_copy_of_wit() {
    let host = files(&repo().join("wit"));
    let sdk = files(&repo().join("guests/sdk/wit"));
    assert!(host.contains_key("deps/camel-state.wit"), "{:?}", host.keys());
    assert_eq!(
        host.keys().collect::<Vec<_>>(),
        sdk.keys().collect::<Vec<_>>(),
        "guests/sdk/wit must hold the same files as wit/"
    );
    for (name, bytes) in &host {
        assert!(sdk[name] == *bytes, "guests/sdk/wit/{name} differs from wit/{name}: copy it (cp -r wit/. guests/sdk/wit/)");
    }
}

/// A fresh directory for one test.
fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("camel-wasm-new-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

fn new(cwd: &Path, args: &[&str]) -> Output {
    crate::fixture::cli_command().current_dir(cwd).arg("new").args(args).output().expect("run camel-wasm new")
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Cargo itself accepts the manifest (no resolution, no network).
fn assert_valid_manifest(dir: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--no-deps", "--format-version", "1", "--offline", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .output()
        .expect("run cargo metadata");
    assert!(out.status.success(), "cargo rejects the manifest: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(r#""crate_types":["cdylib"]"#), "{text}");
}

#[test]
fn new_plugin_depends_on_the_sdk_by_version() {
    let tmp = scratch("plugin");
    let out = new(&tmp, &["my-guest", "--world", "plugin"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("cargo build --release --target wasm32-wasip2"), "{stdout}");
    assert!(stdout.contains("my-guest/target/wasm32-wasip2/release/my_guest.wasm"), "{stdout}");

    let dir = tmp.join("my-guest");
    let manifest = read(dir.join("Cargo.toml"));
    assert!(manifest.contains("name = \"my-guest\"\n"), "{manifest}");
    assert!(manifest.contains("\ncamel-wasm-guest = \"0.1\"\n"), "{manifest}");
    assert!(manifest.contains("crate-type = [\"cdylib\"]"), "{manifest}");
    assert!(manifest.contains("[profile.release]\npanic = \"abort\"\n"), "{manifest}");
    assert!(manifest.contains("\n[workspace]\n"), "a standalone crate is its own workspace: {manifest}");
    assert!(!manifest.contains("[patch"), "no SDK path given, no patch: {manifest}");
    let lib = read(dir.join("src/lib.rs"));
    assert!(lib.contains("use camel_wasm_guest::prelude::*;"), "{lib}");
    assert!(lib.contains("impl Plugin for MyGuest {"), "{lib}");
    assert!(lib.contains("async fn process(mut ex: Exchange) -> Result<Exchange, Error>"), "{lib}");
    assert!(lib.contains("export_plugin!(MyGuest);"), "{lib}");
    assert!(!lib.contains("{{"), "unfilled placeholder: {lib}");
    assert_eq!(read(dir.join(".gitignore")), "/target\n");
    assert_valid_manifest(&dir);
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn new_with_sdk_path_patches_crates_io() {
    let tmp = scratch("patch");
    let sdk = repo().join("guests/sdk");
    let sdk_arg = sdk.to_str().unwrap();
    for (name, world, implements, export) in [
        ("text-tools", "bean", "impl Bean for TextTools {", "export_bean!(TextTools);"),
        ("gate2", "policy", "impl Policy for Gate2 {", "export_policy!(Gate2);"),
        ("rules", "language", "impl Language for Rules {", "export_language!(Rules);"),
    ] {
        let out = new(&tmp, &[name, "--world", world, "--sdk-path", sdk_arg]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let dir = tmp.join(name);
        let manifest = read(dir.join("Cargo.toml"));
        assert!(manifest.contains("\ncamel-wasm-guest = \"0.1\"\n"), "{manifest}");
        let canonical = sdk.canonicalize().unwrap();
        let patch = format!("[patch.crates-io]\ncamel-wasm-guest = {{ path = \"{}\" }}\n", canonical.display());
        assert!(manifest.contains(&patch), "expected\n{patch}in\n{manifest}");
        let lib = read(dir.join("src/lib.rs"));
        assert!(lib.contains(implements) && lib.contains(export), "{lib}");
        assert!(!lib.contains("{{"), "unfilled placeholder: {lib}");
        assert_valid_manifest(&dir);
    }
    let bean = read(tmp.join("text-tools/src/lib.rs"));
    assert!(bean.contains("bean_methods!") && bean.contains("\"echo\" => Self::echo"), "{bean}");
    let policy = read(tmp.join("gate2/src/lib.rs"));
    assert!(policy.contains("fn evaluate(ex: &Exchange) -> Result<Decision, Error>"), "{policy}");

    // A relative --sdk-path is made absolute (the manifest lives elsewhere).
    let relative = new(&repo(), &[tmp.join("rel").to_str().unwrap(), "--sdk-path", "guests/sdk"]);
    assert!(relative.status.success(), "{}", String::from_utf8_lossy(&relative.stderr));
    let manifest = read(tmp.join("rel/Cargo.toml"));
    assert!(manifest.contains(&format!("path = \"{}\"", sdk.canonicalize().unwrap().display())), "{manifest}");
    assert!(read(tmp.join("rel/src/lib.rs")).contains("impl Plugin for Rel {"), "plugin is the default world");
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn new_refuses_bad_input_and_leaves_nothing() {
    let tmp = scratch("refuse");
    let stderr = |out: &Output| {
        assert!(!out.status.success(), "should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    let text = stderr(&new(&tmp, &["Bad_Name"]));
    assert!(text.contains("is not a guest name"), "{text}");
    assert!(!tmp.join("Bad_Name").exists());

    let text = stderr(&new(&tmp, &["other", "--world", "gateway"]));
    assert!(text.contains("gateway"), "{text}");

    // The repository root holds a package, but not the SDK.
    let text = stderr(&new(&tmp, &["not-sdk", "--sdk-path", repo().to_str().unwrap()]));
    assert!(text.contains("is not camel-wasm-guest"), "{text}");
    assert!(!tmp.join("not-sdk").exists());

    let text = stderr(&new(&tmp, &["nowhere", "--sdk-path", "/nonexistent/sdk"]));
    assert!(text.contains("--sdk-path /nonexistent/sdk"), "{text}");

    std::fs::create_dir(tmp.join("taken")).unwrap();
    std::fs::write(tmp.join("taken/keep.txt"), "mine").unwrap();
    let text = stderr(&new(&tmp, &["taken"]));
    assert!(text.contains("cannot create") && text.contains("taken"), "{text}");
    assert_eq!(read(tmp.join("taken/keep.txt")), "mine", "an existing directory is left alone");
    let _ = std::fs::remove_dir_all(&tmp);
}

/// `new --lang python` makes a project whose `build.py` builds from that
/// directory a component that `camel-wasm call` runs; every world's project compiles as Python.
#[test]
fn new_python_projects_build_and_run_from_their_directory() {
    let tmp = scratch("python");
    for world in ["plugin", "bean", "policy", "source", "language"] {
        let name = format!("py-{world}-guest");
        let out = new(&tmp, &[&name, "--world", world, "--lang", "python"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let dir = tmp.join(&name);
        let app = read(dir.join("app.py"));
        assert!(app.contains("from camel_wasm_guest import"), "{app}");
        assert!(!app.contains("{{"), "unfilled placeholder: {app}");
        assert!(read(dir.join("pyproject.toml")).contains(&format!("world = \"{world}\"")));
        assert_eq!(read(dir.join("wit/worlds.wit")), read(repo().join("wit/worlds.wit")));
        let compiled =
            Command::new("python3").args(["-m", "py_compile", "app.py", "build.py"]).current_dir(&dir).output().unwrap();
        assert!(compiled.status.success(), "{world}: {}", String::from_utf8_lossy(&compiled.stderr));
    }
    let refused = new(&tmp, &["py-other", "--lang", "python", "--sdk-path", "."]);
    assert!(!refused.status.success() && !tmp.join("py-other").exists());

    // The plugin project builds with its own build.py (componentize-py from the
    // repository's virtual environment, to spare a download) and runs.
    let dir = tmp.join("py-plugin-guest");
    let venv = repo().join("guests/target/py-venv");
    let built = Command::new("python3").arg("build.py").arg("--venv").arg(&venv).current_dir(&dir).output().unwrap();
    assert!(built.status.success(), "{}{}", String::from_utf8_lossy(&built.stdout), String::from_utf8_lossy(&built.stderr));
    let wasm = dir.join("dist/py-plugin-guest.wasm");
    let call = crate::fixture::cli_command()
        .args(["call", wasm.to_str().unwrap(), "--body", "built here", "--no-cache"])
        .output()
        .unwrap();
    assert!(call.status.success(), "{}", String::from_utf8_lossy(&call.stderr));
    let stdout = String::from_utf8_lossy(&call.stdout);
    assert!(stdout.contains("\"BUILT HERE\"") && stdout.contains("\"x-processed-by\": \"py-plugin-guest\""), "{stdout}");

    // The language project builds from its directory too (its WIT holds camel:language) and answers its entries.
    let dir = tmp.join("py-language-guest");
    let built = Command::new("python3").arg("build.py").arg("--venv").arg(&venv).current_dir(&dir).output().unwrap();
    assert!(built.status.success(), "{}{}", String::from_utf8_lossy(&built.stdout), String::from_utf8_lossy(&built.stderr));
    let wasm = dir.join("dist/py-language-guest.wasm");
    let entry = |args: &[&str]| {
        let out = crate::fixture::cli_command().args(["call", wasm.to_str().unwrap(), "--no-cache"]).args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(entry(&["--entry", "is-vip", "--header", "customer=vip"]), "true");
    assert_eq!(entry(&["--entry", "greeting", "--header", "customer=ann"]), "\"hello, ann\"");
    let _ = std::fs::remove_dir_all(&tmp);
}
