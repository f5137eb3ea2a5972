//! Loading a guest: the runtime it lives in, its name there and its limits.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use camel_wasm::{CallRequest, EndpointUri, Limits, Runtime, escape_control};

use crate::args::{TargetArgs, key_value};
use crate::progress::Progress;
use crate::target::Target;

impl TargetArgs {
    /// Loads the guest; a bean called without `--method` is an error when `method_required`.
    pub async fn load(&self, method_required: bool) -> Result<(Target, String), String> {
        let (_, target, name) = self.load_in(method_required).await?;
        Ok((target, name))
    }

    /// Like [`load`](Self::load), also giving the runtime it was loaded in
    /// (the plugin's name is relative to its base directory).
    pub async fn load_in(&self, method_required: bool) -> Result<(Runtime, Target, String), String> {
        let config = self.config.iter().map(|p| key_value(p, "--config")).collect::<Result<Vec<_>, _>>()?;
        let (runtime, name, limits) = self.open()?;
        let file = if self.file.starts_with("wasm:") { Path::new(&name) } else { Path::new(&self.file) };
        let progress = Progress::loading(file);
        let target = Target::load(&runtime, &name, limits, self.method.as_deref(), self.entry.as_deref(), config).await;
        drop(progress);
        let target = target?;
        if let (true, None, Target::Bean(bean, _)) = (method_required, &self.method, &target) {
            return Err(format!("'{name}' is a bean: pass --method (one of: {})", bean.methods().join(", ")));
        }
        Ok((runtime, target, name))
    }

    /// The runtime, the plugin's name in it, and its limits: from FILE and
    /// the flags, or from a `wasm:path?knobs` URI (path relative to the
    /// current directory) and the flags for knobs the URI does not set.
    fn open(&self) -> Result<(Runtime, String, Limits), String> {
        if !self.file.starts_with("wasm:") {
            let limits = self.limits.to_limits()?;
            let (runtime, name) = open(&self.file)?;
            return Ok((runtime, name, limits));
        }
        let uri: EndpointUri = self.file.parse().map_err(|e: camel_wasm::ConfigError| e.to_string())?;
        let limits = self.limits.over(uri.limits, &uri.given)?;
        let runtime = runtime_in(Path::new("."))?;
        Ok((runtime, uri.path, limits))
    }
}

/// A runtime rooted at the file's directory, and the file's name within it.
///
/// It has one endpoint, `log:`, for guests that call out (if `--allow-call` lets them).
pub fn open(file: &str) -> Result<(Runtime, String), String> {
    let path = Path::new(file);
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| format!("'{file}' names no file"))?.to_string_lossy().into_owned();
    Ok((runtime_in(dir)?, name))
}

/// Whether runtimes get the compile cache (`--no-cache` turns it off).
static CACHE: AtomicBool = AtomicBool::new(true);

/// Turns the compile cache on or off for this process.
pub fn use_cache(on: bool) {
    CACHE.store(on, Ordering::Relaxed);
}

/// The compile cache's directory: `$CAMEL_WASM_CACHE_DIR`, else `camel-wasm`
/// under the user's cache directory (`$XDG_CACHE_HOME`, else `~/.cache`).
pub fn cache_dir() -> Option<PathBuf> {
    match std::env::var_os("CAMEL_WASM_CACHE_DIR") {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => dirs::cache_dir().map(|dir| dir.join("camel-wasm")),
    }
}

/// A runtime over `dir` with the CLI's `log:` endpoint, and the compile cache
/// unless it is off. A cache that cannot be used (a directory or key with the
/// wrong owner or mode, say) is reported and left out.
pub fn runtime_in(dir: &Path) -> Result<Runtime, String> {
    let cached = CACHE.load(Ordering::Relaxed).then(cache_dir).flatten();
    let runtime = match cached {
        Some(cache) => Runtime::builder().base_dir(dir).cache_dir(&cache).build().or_else(|e| {
            eprintln!("warning: compile cache {} not used: {}", cache.display(), escape_control(&e.to_string()));
            Runtime::builder().base_dir(dir).build()
        }),
        None => Runtime::builder().base_dir(dir).build(),
    }
    .map_err(|e| e.to_string())?;
    runtime.endpoints().register_fn("log", |req: CallRequest| async move {
        eprintln!("[{}] {}", escape_control(&req.uri), escape_control(&req.payload));
        Ok(req.payload)
    });
    Ok(runtime)
}
