//! Compiling a file once: the limits check, the compiled set, the disk cache, pre-instantiation per world.

use super::disk_cache::Cached;
use super::{Admit, COMPONENT_PARTS_CEILING, Compiled, Runtime, TABLE_ELEMENTS_CEILING, load};
use crate::error::LoadError;
use crate::limits::Limits;
use crate::store::StoreState;
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use wasmtime::component::{Component, InstancePre};

impl Runtime {
    /// Checks `limits` against this runtime's ceilings.
    pub(super) fn check_limits(&self, limits: &Limits) -> Result<(), LoadError> {
        limits.validate()?;
        let above = |name: &str, value: u64, reason: String| {
            LoadError::Config(crate::limits::ConfigError::InvalidValue { name: name.into(), value: value.to_string(), reason })
        };
        let parts = COMPONENT_PARTS_CEILING;
        let ceiling = self.inner.memory_ceiling;
        if limits.max_memory > ceiling {
            return Err(above("max-memory", limits.max_memory, format!("above the runtime's memory ceiling of {ceiling} bytes")));
        }
        if limits.max_instances > parts {
            let reason = format!("above the ceiling of {parts} core instances per guest");
            return Err(above("max-instances", limits.max_instances.into(), reason));
        }
        if limits.max_tables > parts {
            return Err(above("max-tables", limits.max_tables.into(), format!("above the ceiling of {parts} tables per guest")));
        }
        if limits.max_table_elements > TABLE_ELEMENTS_CEILING {
            let reason = format!("above the ceiling of {TABLE_ELEMENTS_CEILING} table elements");
            return Err(above("max-table-elements", limits.max_table_elements, reason));
        }
        Ok(())
    }

    /// Compiles (or finds already compiled) the file at `path`, checked against `limits`.
    ///
    /// The file is opened once and read through that handle; Cranelift runs
    /// off the async worker threads (see [`off_async_workers`]).
    pub(crate) fn compile(&self, path: &str, limits: &Limits) -> Result<Arc<Compiled>, LoadError> {
        self.check_limits(limits)?;
        let opened = load::open(&self.inner.base_dir, path, limits.max_wasm_size)?;
        let hash = blake3::hash(&opened.bytes);
        self.compile_opened(path, opened, hash, Admit::Now)
    }

    /// Compiles (or finds already compiled) the file `opened` as `path`, whose bytes hash to `hash`.
    ///
    /// With [`Admit::Now`] it enters the compiled set (and the disk cache);
    /// a reload candidate ([`Admit::OnCommit`]) enters them through [`enter`](Self::enter) and
    /// [`cache_on_disk`](Self::cache_on_disk) once its endpoints take it, so one they refuse leaves nothing behind.
    pub(super) fn compile_opened(
        &self,
        path: &str,
        opened: load::Opened,
        hash: blake3::Hash,
        admit: Admit,
    ) -> Result<Arc<Compiled>, LoadError> {
        let load::Opened { resolved, bytes } = opened;
        let key = (resolved, hash);
        if let Some(found) = self.inner.compiled.lock().unwrap().get(&key).and_then(Weak::upgrade) {
            return Ok(found);
        }
        let name: Arc<str> = Arc::from(path);
        let component = self.compile_or_reuse(&name, &bytes, &key.1, admit)?;
        let compiled = Arc::new(Compiled { name, resolved: key.0, hash, component, pres: Mutex::default() });
        Ok(match admit {
            Admit::Now => self.enter(&compiled),
            Admit::OnCommit => compiled,
        })
    }

    /// Puts `compiled` in the compiled set, or returns the equal one another load put there first.
    pub(crate) fn enter(&self, compiled: &Arc<Compiled>) -> Arc<Compiled> {
        let mut set = self.inner.compiled.lock().unwrap();
        set.retain(|_, c| c.strong_count() > 0);
        let slot = set.entry((compiled.resolved.clone(), compiled.hash)).or_default();
        match slot.upgrade() {
            Some(first) => first,
            None => {
                *slot = Arc::downgrade(compiled);
                compiled.clone()
            }
        }
    }

    /// Writes a reload candidate its endpoints took to the disk cache (on the calling
    /// thread), unless it is there already, then prunes the cache.
    pub(crate) fn cache_on_disk(&self, compiled: &Compiled) {
        if let Some(disk) = &self.inner.disk
            && let Err(e) = disk.store_if_missing(&self.inner.engine, &compiled.hash, &compiled.component)
        {
            tracing::warn!("could not write the compiled cache entry for '{}': {e}", compiled.name);
        }
        self.prune_disk_cache(None);
    }

    /// The contents of the compiled components endpoints hold.
    pub(super) fn loaded_contents(&self) -> HashSet<blake3::Hash> {
        self.inner.reload.sweep();
        let set = self.inner.compiled.lock().unwrap();
        set.iter().filter(|(_, c)| c.strong_count() > 0).map(|((_, hash), _)| *hash).collect()
    }

    /// Holds the disk cache to its bounds, keeping every loaded content and `also`;
    /// a failure is logged, never fatal.
    pub(super) fn prune_disk_cache(&self, also: Option<&blake3::Hash>) {
        let Some(disk) = &self.inner.disk else { return };
        let mut keep = self.loaded_contents();
        keep.extend(also);
        match disk.prune(&self.inner.engine, &keep) {
            Ok(pruned) if pruned.removed > 0 => {
                tracing::debug!(removed = pruned.removed, freed = pruned.freed, left = pruned.left, "pruned the compiled cache")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("could not prune the compiled cache: {e}"),
        }
    }

    /// A component from the disk cache when a verified one is there, else freshly
    /// compiled, and with [`Admit::Now`] stored there (then the cache is pruned).
    pub(super) fn compile_or_reuse(
        &self,
        name: &str,
        bytes: &[u8],
        content: &blake3::Hash,
        admit: Admit,
    ) -> Result<Component, LoadError> {
        let engine = &self.inner.engine;
        let stats = &self.inner.stats;
        let compile = || {
            stats.compiled.fetch_add(1, Ordering::Relaxed);
            off_async_workers(|| load::compile(engine, name, bytes))
        };
        let Some(disk) = &self.inner.disk else {
            return compile();
        };
        match disk.load(engine, content) {
            Cached::Hit(component) => {
                stats.disk_hits.fetch_add(1, Ordering::Relaxed);
                return Ok(component);
            }
            Cached::Rejected(why) => {
                stats.disk_rejected.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("compiled cache entry for '{name}' rejected ({why}); recompiling");
            }
            Cached::Miss => {}
        }
        let component = compile()?;
        if admit == Admit::OnCommit {
            return Ok(component);
        }
        if let Err(e) = disk.store(engine, content, &component) {
            tracing::warn!("could not write the compiled cache entry for '{name}': {e}");
        }
        // The new entry is not in the compiled set yet: pruning must not take it.
        self.prune_disk_cache(Some(content));
        Ok(component)
    }

    /// The pre-instantiated form of `compiled` for `world`, made once by `make`:
    /// imports are type-checked and exports looked up once per file, not per call.
    pub(crate) fn pre_in<P: Clone + Send + Sync + 'static>(
        &self,
        compiled: &Compiled,
        world: &'static str,
        make: impl FnOnce(InstancePre<StoreState>) -> wasmtime::Result<P>,
    ) -> Result<P, LoadError> {
        let mut pres = compiled.pres.lock().unwrap();
        if let Some((_, made)) = pres.iter().find(|(name, _)| *name == world)
            && let Some(made) = made.downcast_ref::<Result<P, LoadError>>()
        {
            return made.clone();
        }
        let made =
            self.inner.linker.instantiate_pre(&compiled.component).map_err(|e| load::import_error(&compiled.name, e)).and_then(
                |instance_pre| {
                    make(instance_pre).map_err(|e| LoadError::WorldMismatch {
                        plugin: compiled.name.to_string(),
                        world,
                        reason: format!("{e:#}"),
                    })
                },
            );
        pres.push((world, Box::new(made.clone())));
        made
    }
}

/// Runs `work` (Cranelift, file reads) so it does not hold up an async worker
/// thread: through `block_in_place` on a multi-threaded tokio runtime, inline
/// elsewhere. Async loads run on a blocking thread instead.
pub(super) fn off_async_workers<R>(work: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(work),
        _ => work(),
    }
}
