//! Authorization policy: grants callers holding a role.
//!
//! `init` reads config key `role` (default `admin`). `evaluate` reads property
//! `camel.auth.roles`, a JSON array of strings (`["admin","ops"]`) or a
//! comma-separated string (`admin,ops`), and denies with
//! `role-check: requires role 'ROLE'` when the role is not among them.

use camel_wasm_guest::prelude::*;
use std::sync::Mutex;

const DEFAULT_ROLE: &str = "admin";

/// The role configured by `init`.
static ROLE: Mutex<Option<String>> = Mutex::new(None);

/// The caller's roles from a `camel.auth.roles` value.
fn roles(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(list)) => list.split(',').map(str::trim).filter(|r| !r.is_empty()).collect(),
        _ => Vec::new(),
    }
}

struct RoleCheck;

impl Policy for RoleCheck {
    fn init(config: Config) -> Result<(), String> {
        let role = config.get_or("role", DEFAULT_ROLE).to_owned();
        *ROLE.lock().map_err(|e| e.to_string())? = Some(role);
        Ok(())
    }

    fn evaluate(ex: &Exchange) -> Result<Decision, Error> {
        let configured = ROLE.lock().map_err(|e| Error::processor(e.to_string()))?;
        let role = configured.as_deref().unwrap_or(DEFAULT_ROLE);
        let held = roles(ex.property_value("camel.auth.roles"));
        Ok(if held.contains(&role) { Decision::Grant } else { Decision::deny(format!("role-check: requires role '{role}'")) })
    }
}

export_policy!(RoleCheck);
