//! `camel-wasm new`: a standalone guest project. In Rust, a crate that depends
//! on the guest SDK by version; its `src/lib.rs` comes from `templates/`, which
//! `guests/new-guest.sh` uses too (for crates inside the guest workspace). In
//! Python, a directory with `app.py`, the Python SDK, the WIT and `build.py`,
//! the same files `just guests` builds this repository's Python guests with.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The world a new guest implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum World {
    /// `process` an exchange.
    Plugin,
    /// Named methods on an exchange.
    Bean,
    /// `evaluate` an exchange: granted or denied (the `authorization-policy` world).
    Policy,
    /// Accept HTTP requests on a host-owned listener and submit exchanges.
    Source,
    /// Named predicates and expressions for routes (the `language` world of `camel:language@1.0.0`).
    Language,
}

/// The language of a new guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// A Rust crate (wasm32-wasip2), with the camel-wasm-guest crate.
    Rust,
    /// A Python module built with componentize-py, with the camel_wasm_guest package.
    Python,
}

impl World {
    fn name(self) -> &'static str {
        match self {
            World::Plugin => "plugin",
            World::Bean => "bean",
            World::Policy => "policy",
            World::Source => "source",
            World::Language => "language",
        }
    }

    /// The Python `app.py` template.
    fn python_template(self) -> &'static str {
        match self {
            World::Plugin => include_str!("templates/python/plugin.py"),
            World::Bean => include_str!("templates/python/bean.py"),
            World::Policy => include_str!("templates/python/policy.py"),
            World::Source => include_str!("templates/python/source.py"),
            World::Language => include_str!("templates/python/language.py"),
        }
    }

    /// The `src/lib.rs` template, with `{{name}}` and `{{Type}}` to fill in.
    fn lib_template(self) -> &'static str {
        match self {
            World::Plugin => include_str!("templates/plugin.rs"),
            World::Bean => include_str!("templates/bean.rs"),
            World::Policy => include_str!("templates/policy.rs"),
            World::Source => include_str!("templates/source.rs"),
            World::Language => include_str!("templates/language.rs"),
        }
    }
}

const CARGO_TOML: &str = include_str!("templates/Cargo.toml.in");
const GITIGNORE: &str = include_str!("templates/gitignore.in");
/// The SDK's package name, as published.
const SDK: &str = "camel-wasm-guest";

/// The files of a Python guest project besides `app.py`, `pyproject.toml` and
/// `.gitignore`: the build script, the SDK and the WIT, as this repository has them.
const PYTHON_FILES: &[(&str, &str)] = &[
    ("build.py", include_str!("../../../guests/python/build.py")),
    ("camel_wasm_guest/__init__.py", include_str!("../../../guests/python/camel_wasm_guest/__init__.py")),
    ("camel_wasm_guest/body.py", include_str!("../../../guests/python/camel_wasm_guest/body.py")),
    ("camel_wasm_guest/errors.py", include_str!("../../../guests/python/camel_wasm_guest/errors.py")),
    ("camel_wasm_guest/exchange.py", include_str!("../../../guests/python/camel_wasm_guest/exchange.py")),
    ("camel_wasm_guest/fields.py", include_str!("../../../guests/python/camel_wasm_guest/fields.py")),
    ("camel_wasm_guest/host.py", include_str!("../../../guests/python/camel_wasm_guest/host.py")),
    ("camel_wasm_guest/py.typed", include_str!("../../../guests/python/camel_wasm_guest/py.typed")),
    ("camel_wasm_guest/source.py", include_str!("../../../guests/python/camel_wasm_guest/source.py")),
    ("camel_wasm_guest/state.py", include_str!("../../../guests/python/camel_wasm_guest/state.py")),
    ("camel_wasm_guest/worlds.py", include_str!("../../../guests/python/camel_wasm_guest/worlds.py")),
    ("camel_wasm_guest/wit/state.wit", include_str!("../../../guests/python/camel_wasm_guest/wit/state.wit")),
    ("wit/host.wit", include_str!("../../../wit/host.wit")),
    ("wit/source.wit", include_str!("../../../wit/source.wit")),
    ("wit/types.wit", include_str!("../../../wit/types.wit")),
    ("wit/worlds.wit", include_str!("../../../wit/worlds.wit")),
    ("wit/deps/camel-state.wit", include_str!("../../../wit/deps/camel-state.wit")),
    ("wit/deps/camel-language.wit", include_str!("../../../wit/deps/camel-language.wit")),
];
const PYPROJECT: &str = include_str!("templates/python/pyproject.toml.in");
const PYTHON_GITIGNORE: &str = include_str!("templates/python/gitignore.in");

/// Creates the project directory `dir` (its last component names the guest)
/// for `world` in `lang`. Returns what to tell the user.
pub fn create(dir: &Path, world: World, lang: Lang, sdk_path: Option<&Path>) -> Result<String, String> {
    match lang {
        Lang::Rust => create_crate(dir, world, sdk_path),
        Lang::Python if sdk_path.is_some() => {
            Err("--sdk-path is for Rust guests; a Python project gets its own copy of the SDK".into())
        }
        Lang::Python => create_python(dir, world),
    }
}

/// A Python guest project: `app.py`, `pyproject.toml`, `build.py`, the SDK and the WIT.
fn create_python(dir: &Path, world: World) -> Result<String, String> {
    let name = crate_name(dir)?;
    let fill = |template: &str| {
        template.replace("{{name}}", &name).replace("{{module}}", &name.replace('-', "_")).replace("{{world}}", world.name())
    };
    std::fs::create_dir(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let written = (|| {
        std::fs::write(dir.join("app.py"), fill(world.python_template()))?;
        std::fs::write(dir.join("pyproject.toml"), fill(PYPROJECT))?;
        std::fs::write(dir.join(".gitignore"), PYTHON_GITIGNORE)?;
        for (path, text) in PYTHON_FILES {
            let path = dir.join(path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, text)?;
        }
        Ok::<(), std::io::Error>(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(dir);
        return Err(format!("cannot write {}: {e}", dir.display()));
    }
    let shown = dir.display();
    let mut message = format!("created {shown}: a {} guest `{name}` in Python\n", world.name());
    let _ = writeln!(message, "build it:  cd {shown} && python3 build.py   (Python 3.10+; installs componentize-py into .venv)");
    let _ = write!(
        message,
        "run it:    camel-wasm {} {shown}/dist/{name}.wasm",
        if world == World::Source { "serve" } else { "call" }
    );
    message.push_str(example_args(world));
    Ok(message)
}

/// What `call` (or `serve`) needs to run a fresh guest of `world`.
fn example_args(world: World) -> &'static str {
    match world {
        World::Plugin => " --body hi",
        World::Bean => " --method shout --body hi",
        World::Policy => " --property camel.auth.subject=alice",
        World::Source => " --bind 127.0.0.1:8080 --public",
        World::Language => " --entry is-vip --header customer=vip",
    }
}

/// A Rust guest crate; with `sdk_path`, the SDK is taken from there through `[patch.crates-io]`.
fn create_crate(dir: &Path, world: World, sdk_path: Option<&Path>) -> Result<String, String> {
    let name = crate_name(dir)?;
    let patch = sdk_path.map(sdk_patch).transpose()?;
    let fill = |template: &str| {
        template.replace("{{name}}", &name).replace("{{Type}}", &type_name(&name)).replace("{{world}}", world.name())
    };
    let mut manifest = fill(CARGO_TOML);
    if let Some(patch) = patch {
        manifest.push_str(&patch);
    }
    std::fs::create_dir(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let written = (|| {
        std::fs::create_dir(dir.join("src"))?;
        std::fs::write(dir.join("Cargo.toml"), &manifest)?;
        std::fs::write(dir.join("src/lib.rs"), fill(world.lib_template()))?;
        std::fs::write(dir.join(".gitignore"), GITIGNORE)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(dir);
        return Err(format!("cannot write {}: {e}", dir.display()));
    }
    let shown = dir.display();
    let wasm = name.replace('-', "_");
    let mut message = format!("created {shown}: a {} guest `{name}`\n", world.name());
    let _ = writeln!(message, "build it:  cd {shown} && cargo build --release --target wasm32-wasip2");
    let _ = writeln!(message, "           (once: rustup target add wasm32-wasip2)");
    let verb = if world == World::Source { "serve" } else { "call" };
    let _ = write!(message, "run it:    camel-wasm {verb} {shown}/target/wasm32-wasip2/release/{wasm}.wasm");
    message.push_str(match world {
        World::Bean => " --method echo --body hi",
        other => example_args(other),
    });
    Ok(message)
}

/// The crate name: the directory's last component, words of lower-case
/// letters and digits joined by single `-`, starting with a letter (as
/// `guests/new-guest.sh` checks).
fn crate_name(dir: &Path) -> Result<String, String> {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.split('-').all(|word| !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    if !valid {
        return Err(format!(
            "'{}' is not a guest name: use lower-case letters, digits and single '-', starting with a letter",
            dir.display()
        ));
    }
    Ok(name.to_string())
}

/// `my-guest` -> `MyGuest`.
fn type_name(name: &str) -> String {
    name.split('-')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase()).into_iter().chain(chars).collect::<String>()
        })
        .collect()
}

/// The `[patch.crates-io]` section taking the SDK from `path`, made absolute,
/// after checking the SDK is there.
fn sdk_patch(path: &Path) -> Result<String, String> {
    let sdk: PathBuf = path.canonicalize().map_err(|e| format!("--sdk-path {}: {e}", path.display()))?;
    let manifest = std::fs::read_to_string(sdk.join("Cargo.toml"))
        .map_err(|e| format!("--sdk-path {}: no Cargo.toml there ({e})", path.display()))?;
    if !manifest.lines().any(|line| line.trim() == format!("name = \"{SDK}\"")) {
        return Err(format!("--sdk-path {}: the package there is not {SDK}", path.display()));
    }
    let sdk = sdk.to_str().ok_or_else(|| format!("--sdk-path {}: the path is not UTF-8", path.display()))?;
    Ok(format!(
        "\n# The SDK from a local checkout instead of crates.io.\n[patch.crates-io]\n{SDK} = {{ path = {} }}\n",
        toml_string(sdk)
    ))
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(quoted, "\\u{:04X}", c as u32);
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names() {
        assert_eq!(type_name("shout"), "Shout");
        assert_eq!(type_name("my-guest"), "MyGuest");
        assert_eq!(type_name("a-1b"), "A1b");
    }

    #[test]
    fn crate_names() {
        assert_eq!(crate_name(Path::new("/tmp/x/my-guest")).unwrap(), "my-guest");
        for bad in ["My", "1a", "a-", "a--b", "a_b", "", ".."] {
            assert!(crate_name(Path::new(bad)).is_err(), "{bad}");
        }
    }

    /// Every file of the Python SDK is in a new Python project: none forgotten in `PYTHON_FILES`.
    #[test]
    fn python_projects_get_the_whole_sdk() {
        let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("guests/python/camel_wasm_guest");
        let mut pending = vec![sdk.clone()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    if path.file_name().is_some_and(|n| n != "__pycache__") {
                        pending.push(path);
                    }
                    continue;
                }
                let relative = format!("camel_wasm_guest/{}", path.strip_prefix(&sdk).unwrap().display());
                let listed = PYTHON_FILES.iter().find(|(name, _)| *name == relative);
                let (_, text) = listed.unwrap_or_else(|| panic!("{relative} is missing from PYTHON_FILES"));
                assert_eq!(*text, std::fs::read_to_string(&path).unwrap(), "{relative}");
            }
        }
    }

    #[test]
    fn toml_strings() {
        assert_eq!(toml_string(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
    }
}
