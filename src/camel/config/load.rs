//! Reading a Camel.toml as camel-config 0.64 does, plus the permission
//! provider shape rust-camel's README documents.
//!
//! rust-camel's README writes WASM permission providers as
//! `[security.permissions.providers.<name>]`, but camel-config 0.64 parses
//! `[security.permissions.<name>]` and refuses the README's form ("unknown
//! field"). [`load_camel_toml`] accepts both: it moves each
//! `providers.<name>` table (one with a `provider` key) up one level, in the
//! root and in every profile, then hands the file to camel-config unchanged
//! otherwise (profiles, includes and `${env:}` work as camel-config does them).

use std::path::Path;

use camel_config::CamelConfig;

use crate::camel::CamelWasmError;

/// Loads the Camel.toml at `path` for `profile` (camel-config's default when `None`).
///
/// A file without the README's provider shape is read by camel-config
/// directly; one with it is rewritten into a private file beside it
/// (includes stay relative to the same directory), read, and the copy removed.
pub fn load_camel_toml(path: impl AsRef<Path>, profile: Option<&str>) -> Result<CamelConfig, CamelWasmError> {
    let path = path.as_ref();
    let invalid = |why: String| CamelWasmError::InvalidEntry(format!("Camel.toml {}: {why}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?;
    let mut value: toml::Table = text.parse().map_err(|e: toml::de::Error| invalid(e.to_string()))?;
    let moved = hoist_providers(&mut value).map_err(invalid)?;
    let load = |file: &Path| {
        let file = file.to_str().ok_or_else(|| invalid("the path is not UTF-8".into()))?;
        CamelConfig::from_file_with_profile(file, profile).map_err(|e| invalid(e.to_string()))
    };
    if !moved {
        return load(path);
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let copy = dir.join(format!(".camel-wasm-{}-{}.Camel.toml", std::process::id(), unique()));
    let written = toml::to_string(&value).map_err(|e| invalid(e.to_string()))?;
    std::fs::write(&copy, written).map_err(|e| invalid(format!("cannot write {}: {e}", copy.display())))?;
    let loaded = load(&copy);
    let _ = std::fs::remove_file(&copy);
    loaded
}

/// A number no other call of this process uses.
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Moves `security.permissions.providers.<name>` tables up to
/// `security.permissions.<name>` in the root and in each profile table;
/// whether anything moved. A name taken at both levels is an error naming it.
fn hoist_providers(root: &mut toml::Table) -> Result<bool, String> {
    let mut moved = hoist_in(root, "")?;
    for (profile, table) in root.iter_mut() {
        if let toml::Value::Table(table) = table {
            moved |= hoist_in(table, &format!("{profile}."))?;
        }
    }
    Ok(moved)
}

fn hoist_in(table: &mut toml::Table, prefix: &str) -> Result<bool, String> {
    let Some(toml::Value::Table(permissions)) =
        table.get_mut("security").and_then(|s| s.as_table_mut()).and_then(|s| s.get_mut("permissions"))
    else {
        return Ok(false);
    };
    let is_provider = |v: &toml::Value| v.as_table().is_some_and(|t| t.contains_key("provider"));
    let nested = match permissions.get("providers") {
        Some(toml::Value::Table(providers)) if !providers.is_empty() && providers.values().all(is_provider) => providers.clone(),
        _ => return Ok(false),
    };
    permissions.remove("providers");
    for (name, provider) in nested {
        if permissions.contains_key(&name) {
            return Err(format!(
                "permission provider '{name}' is declared both as [{prefix}security.permissions.{name}] \
                 and as [{prefix}security.permissions.providers.{name}]"
            ));
        }
        permissions.insert(name, provider);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_provider_shape_moves_up_one_level() {
        let mut root: toml::Table = r#"
            [default.security.permissions.providers.roles]
            provider = "wasm"
            path = "role-check.wasm"
            [security.permissions.providers.other]
            provider = "wasm"
            path = "x.wasm"
        "#
        .parse()
        .unwrap();
        assert!(hoist_providers(&mut root).unwrap());
        assert_eq!(root["default"]["security"]["permissions"]["roles"]["path"].as_str(), Some("role-check.wasm"));
        assert_eq!(root["security"]["permissions"]["other"]["provider"].as_str(), Some("wasm"));
        assert!(root["default"]["security"]["permissions"].get("providers").is_none());
    }

    #[test]
    fn camel_configs_own_shape_is_left_alone_and_a_clash_is_named() {
        let mut plain: toml::Table = "[default.security.permissions.roles]\nprovider = \"wasm\"\n".parse().unwrap();
        assert!(!hoist_providers(&mut plain).unwrap());
        let mut both: toml::Table = r#"
            [default.security.permissions.roles]
            provider = "wasm"
            [default.security.permissions.providers.roles]
            provider = "wasm"
        "#
        .parse()
        .unwrap();
        let err = hoist_providers(&mut both).unwrap_err();
        assert!(err.contains("'roles'") && err.contains("default.security.permissions.providers.roles"), "{err}");
    }
}
