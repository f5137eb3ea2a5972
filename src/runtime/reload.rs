//! Hot reload: a new version of a loaded `.wasm` file, swapped into every live endpoint of it.
//!
//! [`Runtime::reload`] reads and compiles the file on a blocking thread, checks
//! the new version against every endpoint loaded from that file (its world; a
//! bean's methods), and only when all accept it swaps it in everywhere
//! (the pool's `swap`): calls in flight finish on the old version, new calls get
//! the new one, and each endpoint keeps its `host-store` state. A file that
//! fails a check changes nothing: the old version keeps serving.
//! [`Runtime::watch`] reloads on file changes, once the file has been quiet a while.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use notify::Watcher as _;

use super::{Admit, Compiled, Inner, Runtime, load};
use crate::error::WasmError;

/// How long a watched file must stay unchanged before it is reloaded.
pub(crate) const DEFAULT_QUIET: Duration = Duration::from_millis(200);

/// A boxed, sendable future.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Switches an endpoint to the version it was prepared for; cannot fail.
pub(crate) type Commit<'a> = Box<dyn FnOnce() + Send + 'a>;

/// An endpoint that can switch to a new version of its file.
pub(crate) trait Reloadable: Send + Sync {
    /// Checks `compiled` for this endpoint and returns how to switch to it;
    /// an error leaves the endpoint as it was.
    fn prepare<'a>(&'a self, runtime: &'a Runtime, compiled: &'a Arc<Compiled>) -> BoxFuture<'a, Result<Commit<'a>, WasmError>>;
}

/// What [`Runtime::reload`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The new version now serves `endpoints` endpoints.
    Reloaded {
        /// How many endpoints switched to it.
        endpoints: usize,
    },
    /// The file's content is what every endpoint already runs: nothing changed.
    Unchanged,
    /// No live endpoint was loaded from this file: nothing to do.
    NotLoaded,
}

/// Hot reloads since the runtime started (manual and watched).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReloadStats {
    /// Reloads that swapped a new version in.
    pub succeeded: u64,
    /// Reloads refused (unreadable, invalid or unfitting file); the old version kept serving.
    pub failed: u64,
    /// Reloads that found the content unchanged.
    pub unchanged: u64,
}

/// One endpoint known by the file it was loaded from.
struct Entry {
    file: PathBuf,
    max_wasm_size: u64,
    /// The version it runs: held here, so it stays in the runtime's compiled set while the endpoint lives.
    serving: Arc<Compiled>,
    endpoint: Weak<dyn Reloadable>,
}

/// A live endpoint of a file, at the start of a reload.
struct Live {
    endpoint: Arc<dyn Reloadable>,
    max_wasm_size: u64,
    serving: blake3::Hash,
}

/// The runtime's endpoints by file, and the reload counters.
#[derive(Default)]
pub(crate) struct Registry {
    entries: Mutex<Vec<Entry>>,
    /// Content that failed to reload, per file: the watcher waits for another change.
    failed_content: Mutex<HashMap<PathBuf, blake3::Hash>>,
    /// One reload at a time, so two of one file cannot commit out of order.
    serial: tokio::sync::Mutex<()>,
    succeeded: AtomicU64,
    failed: AtomicU64,
    unchanged: AtomicU64,
}

impl Registry {
    /// Remembers `endpoint`, loaded from `compiled`, for later reloads.
    pub(crate) fn track(&self, compiled: &Arc<Compiled>, max_wasm_size: u64, endpoint: Weak<dyn Reloadable>) {
        let mut entries = self.entries.lock().unwrap();
        entries.retain(|e| e.endpoint.strong_count() > 0);
        entries.push(Entry { file: compiled.resolved.clone(), max_wasm_size, serving: compiled.clone(), endpoint });
    }

    /// Forgets endpoints that are gone, letting go of the versions they ran.
    pub(crate) fn sweep(&self) {
        self.entries.lock().unwrap().retain(|e| e.endpoint.strong_count() > 0);
    }

    /// Lets `endpoint` stand for the tracked `old` one (a bean, which re-reads its methods).
    fn track_instead(&self, old: *const (), endpoint: Weak<dyn Reloadable>) {
        let mut entries = self.entries.lock().unwrap();
        if let Some(entry) = entries.iter_mut().find(|e| std::ptr::addr_eq(e.endpoint.as_ptr(), old)) {
            entry.endpoint = endpoint;
        }
    }

    fn live(&self, file: &Path) -> Vec<Live> {
        let entries = self.entries.lock().unwrap();
        entries
            .iter()
            .filter(|e| e.file == file)
            .filter_map(|e| {
                let endpoint = e.endpoint.upgrade()?;
                Some(Live { endpoint, max_wasm_size: e.max_wasm_size, serving: e.serving.hash })
            })
            .collect()
    }

    fn is_loaded(&self, file: &Path) -> bool {
        self.entries.lock().unwrap().iter().any(|e| e.file == file && e.endpoint.strong_count() > 0)
    }

    /// Records that `switched` endpoints now run `compiled`, letting go of the versions they ran.
    fn mark_serving(&self, switched: &[Live], compiled: &Arc<Compiled>) {
        let mut entries = self.entries.lock().unwrap();
        for entry in entries.iter_mut() {
            if switched.iter().any(|l| std::ptr::addr_eq(entry.endpoint.as_ptr(), Arc::as_ptr(&l.endpoint))) {
                entry.serving = compiled.clone();
            }
        }
    }

    fn stats(&self) -> ReloadStats {
        ReloadStats {
            succeeded: self.succeeded.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            unchanged: self.unchanged.load(Ordering::Relaxed),
        }
    }
}

/// What the blocking part of a reload found.
enum Read {
    /// Every endpoint runs this content already.
    Unchanged,
    /// This content failed before and the caller does not retry it.
    FailedBefore,
    /// A new version, compiled.
    Compiled(Arc<Compiled>),
}

impl Runtime {
    /// Recompiles the file at `path` (relative to the base directory) and
    /// swaps it into every live plugin, bean and policy loaded from it.
    ///
    /// Compiling runs on a blocking thread. Calls in flight finish on the old
    /// version, new calls get the new one; idle instances of the old version
    /// are dropped; each endpoint keeps its `host-store` state and its limits,
    /// and a bean re-reads its methods. When the file is unreadable, not a
    /// component, or does not fit an endpoint's world, no endpoint changes and
    /// the error (naming the plugin) is returned and logged.
    pub async fn reload(&self, path: &str) -> Result<ReloadOutcome, WasmError> {
        self.reload_counted(path, true).await
    }

    /// Counts of hot reloads so far: succeeded, failed, unchanged.
    pub fn reload_stats(&self) -> ReloadStats {
        self.inner.reload.stats()
    }

    /// Watches `paths` (files or directories relative to the base directory;
    /// `"."` is the base directory itself) and reloads a loaded `.wasm` file
    /// among them once it has been quiet for 200 ms. Stops when the handle drops.
    ///
    /// Content that fails to reload (such as a half-written file) is logged and
    /// counted once; the old version keeps serving until the file changes again.
    /// Needs a tokio runtime (the watcher runs as a task on it).
    pub fn watch<I, P>(&self, paths: I) -> Result<ReloadWatcher, WasmError>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<str>,
    {
        self.watch_with_quiet(paths, DEFAULT_QUIET)
    }

    /// Like [`watch`](Self::watch), reloading once a file has been quiet for `quiet`.
    pub fn watch_with_quiet<I, P>(&self, paths: I, quiet: Duration) -> Result<ReloadWatcher, WasmError>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<str>,
    {
        let runtime_error = |plugin: &str, message: String| WasmError::Runtime { plugin: plugin.to_string(), message };
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| runtime_error("<runtime>", "Runtime::watch needs a tokio runtime".into()))?;
        let base = &self.inner.base_dir;
        let base =
            base.canonicalize().map_err(|e| runtime_error("<runtime>", format!("base directory {}: {e}", base.display())))?;
        let mut filter = Filter::default();
        let mut watched = HashSet::new();
        for path in paths {
            let path = path.as_ref();
            let resolved = load::resolve(&self.inner.base_dir, path)?;
            if resolved.is_dir() {
                watched.insert(resolved.clone());
                filter.dirs.insert(resolved);
            } else {
                watched.insert(resolved.parent().map_or_else(|| base.clone(), Path::to_path_buf));
                filter.files.insert(resolved);
            }
        }
        let (sender, events) = tokio::sync::mpsc::unbounded_channel();
        // Directories, not files, are watched: an atomic replace (write, then
        // rename over) is a new file that a watch on the old one would miss.
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            if matches!(event.kind, notify::EventKind::Access(_) | notify::EventKind::Remove(_)) {
                return;
            }
            for path in event.paths {
                let _ = sender.send(path);
            }
        })
        .map_err(|e| runtime_error("<runtime>", format!("cannot watch files: {e}")))?;
        for dir in &watched {
            watcher
                .watch(dir, notify::RecursiveMode::NonRecursive)
                .map_err(|e| runtime_error("<runtime>", format!("cannot watch {}: {e}", dir.display())))?;
        }
        let task = handle.spawn(watch_loop(Arc::downgrade(&self.inner), base, filter, events, quiet));
        Ok(ReloadWatcher { _watcher: watcher, task })
    }

    /// Lets `endpoint` stand for `pool` in later reloads (a bean wraps its pool to re-read methods).
    pub(crate) fn track_reload_instead<T>(&self, pool: &Arc<T>, endpoint: Weak<dyn Reloadable>) {
        self.inner.reload.track_instead(Arc::as_ptr(pool).cast(), endpoint);
    }

    /// Reloads `path` and counts and logs the outcome; `retry_failed` false
    /// skips content that failed before (the watcher waits for a new write).
    async fn reload_counted(&self, path: &str, retry_failed: bool) -> Result<ReloadOutcome, WasmError> {
        let registry = &self.inner.reload;
        let outcome = self.try_reload(path, retry_failed).await;
        match &outcome {
            Ok(ReloadOutcome::Reloaded { endpoints }) => {
                registry.succeeded.fetch_add(1, Ordering::Relaxed);
                tracing::info!(plugin = %path, endpoints, "reloaded; new calls run the new version");
            }
            Ok(ReloadOutcome::Unchanged) => {
                registry.unchanged.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(plugin = %path, "reload: content unchanged");
            }
            Ok(ReloadOutcome::NotLoaded) => tracing::debug!(plugin = %path, "reload: no endpoint loaded from this file"),
            Err(error) => {
                registry.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(plugin = %path, %error, "reload failed; the old version keeps serving");
            }
        }
        outcome
    }

    /// Reads, compiles, checks and swaps in the new version of `path`; `Ok(Unchanged)`
    /// also stands for content that failed before when `retry_failed` is false.
    async fn try_reload(&self, path: &str, retry_failed: bool) -> Result<ReloadOutcome, WasmError> {
        let registry = &self.inner.reload;
        let _one_at_a_time = registry.serial.lock().await;
        let file = load::resolve(&self.inner.base_dir, path)?;
        let live = registry.live(&file);
        let Some(max_wasm_size) = live.iter().map(|l| l.max_wasm_size).min() else {
            return Ok(ReloadOutcome::NotLoaded);
        };
        let serving: Vec<blake3::Hash> = live.iter().map(|l| l.serving).collect();
        let failed_before = if retry_failed { None } else { registry.failed_content.lock().unwrap().get(&file).copied() };
        let (runtime, name) = (self.clone(), path.to_string());
        let read = tokio::task::spawn_blocking(move || {
            let opened = load::open(&runtime.inner.base_dir, &name, max_wasm_size).map_err(|e| (e, None))?;
            let hash = blake3::hash(&opened.bytes);
            if serving.iter().all(|h| *h == hash) {
                return Ok(Read::Unchanged);
            }
            if failed_before == Some(hash) {
                return Ok(Read::FailedBefore);
            }
            runtime.compile_opened(&name, opened, hash, Admit::OnCommit).map(Read::Compiled).map_err(|e| (e, Some(hash)))
        })
        .await
        .map_err(|join| WasmError::Runtime { plugin: path.to_string(), message: format!("reload failed: {join}") })?;
        let compiled = match read {
            Ok(Read::Compiled(compiled)) => compiled,
            Ok(Read::Unchanged | Read::FailedBefore) => return Ok(ReloadOutcome::Unchanged),
            Err((error, hash)) => {
                if let Some(hash) = hash {
                    registry.failed_content.lock().unwrap().insert(file, hash);
                }
                return Err(WasmError::Load(error));
            }
        };
        let mut commits = Vec::with_capacity(live.len());
        for endpoint in &live {
            match endpoint.endpoint.prepare(self, &compiled).await {
                Ok(commit) => commits.push(commit),
                Err(error) => {
                    registry.failed_content.lock().unwrap().insert(file, compiled.hash);
                    return Err(error);
                }
            }
        }
        // Nothing awaits until every endpoint has switched, or (cancelled above) none.
        for commit in commits {
            commit();
        }
        // The endpoints hold the new version now, and let go of the old ones: those leave the compiled set.
        registry.mark_serving(&live, &compiled);
        registry.failed_content.lock().unwrap().remove(&file);
        self.enter(&compiled);
        // Into the disk cache (which is then pruned) on a blocking thread; the swap is done either way.
        let runtime = self.clone();
        if let Err(join) = tokio::task::spawn_blocking(move || runtime.cache_on_disk(&compiled)).await {
            tracing::warn!(plugin = %path, "could not cache the reloaded version: {join}");
        }
        Ok(ReloadOutcome::Reloaded { endpoints: live.len() })
    }
}

/// Watches files for [`Runtime::watch`]; dropping it stops watching.
pub struct ReloadWatcher {
    _watcher: notify::RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for ReloadWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadWatcher").finish_non_exhaustive()
    }
}

impl Drop for ReloadWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Which changed paths a watcher cares about.
#[derive(Default)]
struct Filter {
    /// Any `.wasm` file directly in these directories.
    dirs: HashSet<PathBuf>,
    /// These files.
    files: HashSet<PathBuf>,
}

impl Filter {
    fn wants(&self, path: &Path) -> bool {
        self.files.contains(path)
            || (path.extension().is_some_and(|e| e == "wasm") && path.parent().is_some_and(|d| self.dirs.contains(d)))
    }
}

/// Collects changed paths, and reloads each once it has been quiet for `quiet`.
async fn watch_loop(
    runtime: Weak<Inner>,
    base: PathBuf,
    filter: Filter,
    mut events: tokio::sync::mpsc::UnboundedReceiver<PathBuf>,
    quiet: Duration,
) {
    let mut pending: HashMap<PathBuf, tokio::time::Instant> = HashMap::new();
    loop {
        let now = tokio::time::Instant::now();
        let next = pending.values().min().copied();
        tokio::select! {
            event = events.recv() => match event {
                Some(path) if filter.wants(&path) => {
                    pending.insert(path, tokio::time::Instant::now() + quiet);
                }
                Some(_) => {}
                None => return,
            },
            () = tokio::time::sleep_until(next.unwrap_or(now + Duration::from_secs(3600))), if next.is_some() => {
                let now = tokio::time::Instant::now();
                let due: Vec<PathBuf> = pending.iter().filter(|(_, at)| **at <= now).map(|(p, _)| p.clone()).collect();
                for path in due {
                    pending.remove(&path);
                    let Some(inner) = runtime.upgrade() else { return };
                    reload_watched(&Runtime { inner }, &base, &path).await;
                }
            }
        }
    }
}

/// Reloads the changed `path` when an endpoint was loaded from it; the outcome is counted and logged.
async fn reload_watched(runtime: &Runtime, base: &Path, path: &Path) {
    // Gone (renamed away, deleted) or not loaded: nothing to reload.
    let Ok(file) = path.canonicalize() else { return };
    if !runtime.inner.reload.is_loaded(&file) {
        return;
    }
    let Some(relative) = path.strip_prefix(base).ok().and_then(Path::to_str) else { return };
    // The outcome is counted and logged; a failure waits for the next change.
    let _ = runtime.reload_counted(relative, false).await;
}
