//! `inspect`: what a component imports and exports, and which worlds it fits.

use std::sync::Arc;

use serde::Serialize;

use super::bean::BeanWorld;
use super::language::LanguageWorld;
use super::plugin::PluginWorld;
use super::policy::PolicyWorld;
use super::source;
use crate::error::{LoadError, WasmError};
use crate::limits::Limits;
use crate::pool::{World, pre};
use crate::runtime::{Compiled, Runtime};

impl Runtime {
    /// Describes the component at `path`: its imports, exports and the worlds it fits.
    ///
    /// Only the file size is checked, against the default `max-wasm-size`.
    pub fn inspect(&self, path: &str) -> Result<ComponentInfo, WasmError> {
        self.inspect_with(path, &Limits::default())
    }

    /// Like [`inspect`](Self::inspect), with `limits`' `max-wasm-size`.
    pub fn inspect_with(&self, path: &str, limits: &Limits) -> Result<ComponentInfo, WasmError> {
        let limits = Limits { max_memory: limits.max_memory.min(self.memory_ceiling()), ..limits.clone() };
        let compiled = self.compile(path, &limits)?;
        Ok(describe(self, &compiled))
    }
}

/// What a component imports and exports, and which worlds it fits.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentInfo {
    /// The plugin's name.
    pub plugin: String,
    /// Names of the component's imports.
    pub imports: Vec<String>,
    /// Names of the component's exports.
    pub exports: Vec<String>,
    /// The worlds it fits: `plugin`, `bean`, `authorization-policy`, `language`, `source`.
    pub worlds: Vec<&'static str>,
    /// Why it does not fit each other world.
    pub mismatches: Vec<String>,
    /// The compiled component, kept while this lives: a load of the same file
    /// right after the inspection reuses it instead of compiling again.
    #[serde(skip)]
    #[allow(dead_code)]
    compiled: Keep,
}

/// Holds a compiled component alive; shows as nothing.
#[derive(Clone)]
struct Keep(#[allow(dead_code)] Arc<Compiled>);

impl std::fmt::Debug for Keep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("..")
    }
}

/// Describes `compiled` by trying it against each world.
fn describe(runtime: &Runtime, compiled: &Arc<Compiled>) -> ComponentInfo {
    let ty = compiled.component.component_type();
    let engine = runtime.engine();
    let imports = ty.imports(engine).map(|(name, _)| name.to_string()).collect();
    let exports = ty.exports(engine).map(|(name, _)| name.to_string()).collect();
    let mut worlds = Vec::new();
    let mut mismatches = Vec::new();
    let mut note = |world: &'static str, fit: Result<(), LoadError>| match fit {
        Ok(()) => worlds.push(world),
        Err(e) => mismatches.push(e.to_string()),
    };
    note(PluginWorld::NAME, pre::<PluginWorld>(runtime, compiled).map(drop));
    note(BeanWorld::NAME, pre::<BeanWorld>(runtime, compiled).map(drop));
    note(PolicyWorld::NAME, pre::<PolicyWorld>(runtime, compiled).map(drop));
    note(LanguageWorld::NAME, pre::<LanguageWorld>(runtime, compiled).map(drop));
    note(source::WORLD, source::pre(runtime, compiled).map(drop));
    ComponentInfo { plugin: compiled.name.to_string(), imports, exports, worlds, mismatches, compiled: Keep(compiled.clone()) }
}
