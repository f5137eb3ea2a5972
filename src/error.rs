//! Typed errors: loading a plugin, and calling one.

use std::path::PathBuf;
use std::time::Duration;

/// A bad configuration value, naming the parameter and the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The parameter is not one this host knows.
    #[error("unknown parameter '{name}' (known: {})", crate::knobs::NAMES.join(", "))]
    UnknownParameter {
        /// The parameter as given.
        name: String,
    },
    /// The value does not parse or is out of range.
    #[error("invalid value '{value}' for parameter '{name}': {reason}")]
    InvalidValue {
        /// The parameter.
        name: String,
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The same knob was given twice, possibly under its rust-camel name.
    #[error("parameter '{name}' is given twice (as '{first}' and as '{name}')")]
    DuplicateParameter {
        /// The second spelling given.
        name: String,
        /// The first spelling given.
        first: String,
    },
    /// The URI is not of the form `wasm:path?k=v&...`.
    #[error("invalid wasm endpoint uri '{uri}': {reason}")]
    InvalidUri {
        /// The URI as given.
        uri: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Why a plugin could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The path is absolute, climbs with `..`, or resolves outside the base directory.
    #[error("plugin path '{path}' is not allowed: {reason}")]
    ForbiddenPath {
        /// The path as given.
        path: String,
        /// Which rule it breaks.
        reason: String,
    },
    /// No file at the path.
    #[error("plugin '{path}' not found (looked at {resolved})")]
    NotFound {
        /// The path as given.
        path: String,
        /// Where it was looked for.
        resolved: PathBuf,
    },
    /// The file could not be read.
    #[error("plugin '{plugin}' could not be read: {reason}")]
    Unreadable {
        /// The plugin.
        plugin: String,
        /// The I/O error.
        reason: String,
    },
    /// The file is larger than `max-wasm-size`.
    #[error("plugin '{plugin}' is {size} bytes, over the max-wasm-size limit of {max} bytes")]
    TooLarge {
        /// The plugin.
        plugin: String,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The bytes are not WebAssembly at all, or a malformed component.
    #[error("plugin '{plugin}' is not a valid WebAssembly component: {reason}")]
    Corrupt {
        /// The plugin.
        plugin: String,
        /// What the validator said.
        reason: String,
    },
    /// A core module was given where a component is expected.
    #[error(
        "plugin '{plugin}' is a core WebAssembly module, not a component \
         (build it for wasm32-wasip2, or wrap it with `wasm-tools component new`)"
    )]
    CoreModule {
        /// The plugin.
        plugin: String,
    },
    /// The component imports something the host does not provide.
    #[error("plugin '{plugin}' imports {import}, which this host does not provide")]
    UnsupportedImport {
        /// The plugin.
        plugin: String,
        /// The import, as wasmtime names it.
        import: String,
    },
    /// The component does not export what the world requires.
    #[error("plugin '{plugin}' does not fit the '{world}' world: {reason}")]
    WorldMismatch {
        /// The plugin.
        plugin: String,
        /// The world asked for.
        world: &'static str,
        /// The missing or mismatched export.
        reason: String,
    },
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// An error a guest returned as its `wasm-error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuestError {
    /// `processor-error(message)`.
    #[error("processor error: {0}")]
    Processor(String),
    /// `type-conversion(message)`.
    #[error("type conversion error: {0}")]
    TypeConversion(String),
    /// `io(message)`.
    #[error("i/o error: {0}")]
    Io(String),
    /// `timeout`.
    #[error("timeout")]
    Timeout,
}

/// What kind of trap stopped a guest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrapReason {
    /// `unreachable` was executed (a Rust guest's abort).
    #[error("unreachable code reached")]
    Unreachable,
    /// The guest's call stack overflowed.
    #[error("stack overflow")]
    StackOverflow,
    /// A memory or table access out of bounds.
    #[error("out-of-bounds access")]
    OutOfBounds,
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// Why a call to a plugin failed. Every variant names the plugin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WasmError {
    /// The plugin could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The guest's `init` failed; the next call tries again.
    #[error("plugin '{plugin}' init failed: {message}")]
    InitFailed {
        /// The plugin.
        plugin: String,
        /// What `init` returned.
        message: String,
    },
    /// The guest returned an error.
    #[error("plugin '{plugin}' returned an error: {error}")]
    Guest {
        /// The plugin.
        plugin: String,
        /// The guest's `wasm-error`.
        error: GuestError,
    },
    /// The call ran past its deadline.
    #[error("plugin '{plugin}' timed out after {timeout:?}")]
    Timeout {
        /// The plugin.
        plugin: String,
        /// The configured timeout.
        timeout: Duration,
    },
    /// The guest tried to grow its memory past the limit.
    #[error("plugin '{plugin}' ran out of memory (max-memory is {max_memory_bytes} bytes)")]
    OutOfMemory {
        /// The plugin.
        plugin: String,
        /// The configured limit.
        max_memory_bytes: u64,
    },
    /// The guest trapped.
    #[error("plugin '{plugin}' trapped: {reason}")]
    Trap {
        /// The plugin.
        plugin: String,
        /// The kind of trap.
        reason: TrapReason,
    },
    /// A Rust guest panicked.
    #[error("plugin '{plugin}' panicked: {message}")]
    GuestPanic {
        /// The plugin.
        plugin: String,
        /// The panic message from the guest's stderr.
        message: String,
    },
    /// A bean was asked for a method it does not have.
    #[error("plugin '{plugin}' has no method '{method}' (available: {})", available.join(", "))]
    UnknownMethod {
        /// The plugin.
        plugin: String,
        /// The method asked for.
        method: String,
        /// The bean's methods.
        available: Vec<String>,
    },
    /// A language was asked for an entry it does not have, or has of the other kind.
    #[error("plugin '{plugin}' has no {kind} '{entry}' (entries: {})", available.join(", "))]
    UnknownEntry {
        /// The plugin.
        plugin: String,
        /// The entry asked for.
        entry: String,
        /// What it was asked as: `predicate` or `expression`.
        kind: &'static str,
        /// The language's entries, each as `name (kind)`.
        available: Vec<String>,
    },
    /// One clause of a language's predicate group returned an error.
    #[error("plugin '{plugin}' failed on clause {index} ('{entry}'): {error}")]
    Clause {
        /// The plugin.
        plugin: String,
        /// The clause's index in the group.
        index: usize,
        /// The clause's entry.
        entry: String,
        /// The guest's `wasm-error`.
        error: GuestError,
    },
    /// The guest returned something the host cannot take back.
    #[error("plugin '{plugin}' returned an unsupported exchange: {reason}")]
    InvalidOutput {
        /// The plugin.
        plugin: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The guest went over one of its endpoint's bounds (such as `max-properties`).
    #[error("plugin '{plugin}' went over {knob} ({max}): {reason}")]
    LimitExceeded {
        /// The plugin.
        plugin: String,
        /// The knob whose bound was hit.
        knob: &'static str,
        /// The knob's value.
        max: u64,
        /// What the guest did.
        reason: String,
    },
    /// Every call slot stayed taken for the call's whole `timeout`.
    #[error("plugin '{plugin}': no call slot came free within {waited:?} (max-concurrent is {max_concurrent})")]
    Busy {
        /// The plugin.
        plugin: String,
        /// Its `max-concurrent`.
        max_concurrent: usize,
        /// How long the call waited (its `timeout`).
        waited: Duration,
    },
    /// The runtime's pooled instance slots had no room for this endpoint: its
    /// reserved instance is in use and the shared rest is taken (or, at load, nothing is left to reserve).
    #[error("plugin '{plugin}': no instance slot is free: {reason}")]
    NoInstanceSlot {
        /// The plugin.
        plugin: String,
        /// What is full.
        reason: String,
    },
    /// A WASM plugin was called from inside a WASM plugin call.
    #[error("plugin '{plugin}': recursive wasm calls not supported")]
    Recursive {
        /// The plugin that was called.
        plugin: String,
    },
    /// Wasmtime failed for another reason.
    #[error("plugin '{plugin}' failed in the runtime: {message}")]
    Runtime {
        /// The plugin.
        plugin: String,
        /// The runtime's message.
        message: String,
    },
}

impl WasmError {
    /// The guest's `wasm-error` as the typed error of `plugin`.
    pub(crate) fn from_guest(plugin: &str, error: crate::bindings::WasmError) -> Self {
        WasmError::Guest { plugin: plugin.to_string(), error: GuestError::from(error) }
    }
}

impl From<crate::bindings::WasmError> for GuestError {
    fn from(error: crate::bindings::WasmError) -> Self {
        use crate::bindings::WasmError as Wire;
        match error {
            Wire::ProcessorError(m) => GuestError::Processor(m),
            Wire::TypeConversion(m) => GuestError::TypeConversion(m),
            Wire::Io(m) => GuestError::Io(m),
            Wire::Timeout => GuestError::Timeout,
        }
    }
}
