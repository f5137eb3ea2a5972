//! `camel-wasm new`: a standalone guest crate that depends on the guest SDK by
//! version. Its `src/lib.rs` comes from `templates/`, which
//! `guests/new-guest.sh` uses too (for crates inside the guest workspace).

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
}

impl World {
    fn name(self) -> &'static str {
        match self {
            World::Plugin => "plugin",
            World::Bean => "bean",
            World::Policy => "policy",
        }
    }

    /// The `src/lib.rs` template, with `{{name}}` and `{{Type}}` to fill in.
    fn lib_template(self) -> &'static str {
        match self {
            World::Plugin => include_str!("templates/plugin.rs"),
            World::Bean => include_str!("templates/bean.rs"),
            World::Policy => include_str!("templates/policy.rs"),
        }
    }
}

const CARGO_TOML: &str = include_str!("templates/Cargo.toml.in");
const GITIGNORE: &str = include_str!("templates/gitignore.in");
/// The SDK's package name, as published.
const SDK: &str = "camel-wasm-guest";

/// Creates the crate directory `dir` (its last component names the crate) for
/// `world`; with `sdk_path`, the SDK is taken from there through
/// `[patch.crates-io]`. Returns what to tell the user.
pub fn create(dir: &Path, world: World, sdk_path: Option<&Path>) -> Result<String, String> {
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
    let _ = write!(message, "run it:    camel-wasm call {shown}/target/wasm32-wasip2/release/{wasm}.wasm");
    message.push_str(match world {
        World::Plugin => " --body hi",
        World::Bean => " --method echo --body hi",
        World::Policy => " --property camel.auth.subject=alice",
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

    #[test]
    fn toml_strings() {
        assert_eq!(toml_string(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
    }
}
