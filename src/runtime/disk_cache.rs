//! Compiled components on disk, so a restart does not recompile.
//!
//! An entry is named after the BLAKE3 hash of the `.wasm` and the engine's
//! compatibility hash, and sealed with a keyed BLAKE3 MAC over a format tag,
//! both hashes, the artifact's length and the artifact itself. An entry that
//! does not verify (corrupt, tampered, written for another plugin or another
//! engine), that is not a regular file of ours, or that wasmtime refuses, is
//! removed, recompiled and rewritten, never loaded.
//!
//! Trust model. The directory must belong to the process user and have mode
//! 0700 (a new one is created so; an existing looser one is refused, never
//! `chmod`-ed), and its key `cache.key` must belong to that user, have mode
//! 0600, be exactly 32 bytes and not be a link: otherwise [`DiskCache::open`]
//! fails. So only the process user (and root) can write the directory. Files
//! are opened without following symbolic links, checked on the open handle
//! (regular file, owner, not writable by group or others), read up to
//! [`MAX_ENTRY_BYTES`], and written to a fresh private temporary file renamed
//! into place. A valid MAC proves the entry was written by a process holding
//! the key, for this exact `.wasm` content and this engine configuration. It
//! does not protect against an attacker running as the same user (or root):
//! they can read the key and do anything the process can anyway.
//!
//! Pruning. [`DiskCache::prune`] keeps the directory within [`Bounds`]: entries
//! not kept for a loaded component go when older than the age bound, then,
//! least recently written or loaded first, until the entries fit the size bound.
//! A load touches its entry's modification time, so that order survives restarts.
//! Another process sharing the directory may prune an entry this one loaded:
//! that costs a recompilation at the next start, nothing else.
//!
//! Unix only: on other systems [`DiskCache::open`] reports the cache as unsupported.

use std::collections::HashSet;
use std::fs::{File, Metadata};
use std::hash::{Hash, Hasher};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use wasmtime::Engine;
use wasmtime::component::Component;

/// Length of the MAC stored before the serialized component.
const MAC_LEN: usize = 32;

/// Length of the MAC key, and so of `cache.key`.
const KEY_LEN: usize = 32;

/// File name of the MAC key inside the cache directory.
const KEY_FILE: &str = "cache.key";

/// Domain separation and format version of the MAC input; bump it when the
/// layout of an entry or of the MAC input changes, so old entries fail to verify.
const FORMAT_TAG: &[u8] = b"camel-wasm compiled cache entry v2\0";

/// Largest entry file (MAC plus artifact) read or written, in bytes.
pub(crate) const MAX_ENTRY_BYTES: u64 = 512 << 20;

/// Default bound on the total size of the entries, in bytes.
pub(crate) const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// How old a temporary file must be to count as left by a crashed writer and be removed.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// File name suffix of an entry.
const ENTRY_SUFFIX: &str = ".cwasm";

/// How much the cache may hold; entries of loaded components are kept whatever the bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bounds {
    /// Most bytes of entries in the directory.
    pub(crate) max_bytes: u64,
    /// Entries unused for longer go (none: no age bound).
    pub(crate) max_age: Option<Duration>,
}

impl Default for Bounds {
    fn default() -> Self {
        Self { max_bytes: DEFAULT_MAX_BYTES, max_age: None }
    }
}

/// What one [`DiskCache::prune`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Pruned {
    /// Entries (and stale temporary files) removed.
    pub(crate) removed: usize,
    /// Bytes they held.
    pub(crate) freed: u64,
    /// Bytes of entries left.
    pub(crate) left: u64,
}

/// A directory of precompiled components.
#[derive(Clone)]
pub(crate) struct DiskCache {
    dir: PathBuf,
    key: [u8; KEY_LEN],
    /// The user that must own every file the cache reads.
    uid: u32,
    bounds: Bounds,
}

impl std::fmt::Debug for DiskCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskCache").field("dir", &self.dir).field("key", &"<redacted>").finish()
    }
}

/// What a cache lookup found.
pub(crate) enum Cached {
    /// A verified component.
    Hit(Component),
    /// Nothing stored for this key.
    Miss,
    /// A file was there but failed verification; it has been removed and will be replaced.
    Rejected(String),
}

impl DiskCache {
    /// Opens (creating if needed, mode 0700) the cache in `dir`, held to `bounds`, and reads or
    /// creates its key. Fails if the directory or the key is not private to the
    /// process user: see the trust model in the module documentation.
    pub(crate) fn open(dir: &Path, bounds: Bounds) -> io::Result<Self> {
        if !cfg!(unix) {
            return Err(io::Error::new(io::ErrorKind::Unsupported, "the compiled cache needs a Unix file system"));
        }
        os::create_private_dir(dir)?;
        // A link the operator configured as the directory is followed; its target is what gets checked.
        let meta = std::fs::metadata(dir)?;
        if !meta.is_dir() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "it is not a directory"));
        }
        let mode = os::mode(&meta);
        if mode & 0o077 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "its mode {mode:04o} lets group or others in; a compiled cache directory must be mode 0700 \
                     (it is not changed automatically: chmod it, or choose another directory)"
                ),
            ));
        }
        let uid = os::effective_uid()?;
        if os::uid(&meta) != uid {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("it is owned by uid {}, not by this process's user (uid {uid})", os::uid(&meta)),
            ));
        }
        let key = load_or_create_key(dir, uid)?;
        Ok(Self { dir: dir.to_path_buf(), key, uid, bounds })
    }

    fn path(&self, content: &blake3::Hash, engine: &blake3::Hash) -> PathBuf {
        self.dir.join(entry_name(content, engine))
    }

    /// The MAC of an entry: binds the artifact to this key, this content and this engine.
    fn mac(&self, content: &blake3::Hash, engine: &blake3::Hash, artifact: &[u8]) -> blake3::Hash {
        let mut mac = blake3::Hasher::new_keyed(&self.key);
        mac.update(FORMAT_TAG)
            .update(content.as_bytes())
            .update(engine.as_bytes())
            .update(&(artifact.len() as u64).to_le_bytes())
            .update(artifact);
        mac.finalize()
    }

    /// The verified component compiled from content `content`, if stored (its entry is touched, for pruning).
    pub(crate) fn load(&self, engine: &Engine, content: &blake3::Hash) -> Cached {
        let engine_hash = engine_hash(engine);
        let path = self.path(content, &engine_hash);
        let verdict = match self.read_entry(&path) {
            Ok(None) => return Cached::Miss,
            Ok(Some(bytes)) => self.verify(engine, content, &engine_hash, &bytes),
            Err(why) => Err(why),
        };
        match verdict {
            Ok(component) => Cached::Hit(component),
            Err(why) => {
                // Unlinks a link itself, never its target. Best effort: `store` replaces it anyway.
                let _ = std::fs::remove_file(&path);
                Cached::Rejected(why)
            }
        }
    }

    /// The bytes of the entry at `path`: `None` if there is none, `Err` with the
    /// reason if there is something that must not be trusted.
    fn read_entry(&self, path: &Path) -> Result<Option<Vec<u8>>, String> {
        let before = match std::fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("it cannot be examined: {e}")),
        };
        if before.file_type().is_symlink() {
            return Err("it is a symbolic link".into());
        }
        if !before.file_type().is_file() {
            return Err("it is not a regular file".into());
        }
        let file = match os::open_nofollow(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("it cannot be opened: {e}")),
        };
        let meta = check_opened(&file, &before, self.uid, 0o022, "writable by group or others")?;
        let bytes = read_bounded(&file, &meta, MAX_ENTRY_BYTES).map_err(|e| e.to_string())?;
        // Recently used for pruning; a rejected entry is removed anyway. On the handle: no link is followed.
        if let Err(e) = file.set_modified(SystemTime::now()) {
            tracing::debug!("could not touch compiled cache entry {}: {e}", path.display());
        }
        Ok(Some(bytes))
    }

    fn verify(
        &self,
        engine: &Engine,
        content: &blake3::Hash,
        engine_hash: &blake3::Hash,
        bytes: &[u8],
    ) -> Result<Component, String> {
        if bytes.len() < MAC_LEN {
            return Err("the file is truncated".into());
        }
        let (mac, artifact) = bytes.split_at(MAC_LEN);
        let mac = blake3::Hash::from_bytes(mac.try_into().expect("MAC_LEN bytes"));
        // `blake3::Hash` compares in constant time.
        if mac != self.mac(content, engine_hash, artifact) {
            return Err("its MAC does not match: corrupt, tampered, or written for another plugin or engine".into());
        }
        // SAFETY: the MAC proves these bytes were written by `store` in a process
        // holding our key, from `Component::serialize` of this very content on an
        // engine with this compatibility hash.
        unsafe { Component::deserialize(engine, artifact) }.map_err(|e| format!("wasmtime refused it: {e:#}"))
    }

    /// Stores `component`, compiled from content `content`.
    pub(crate) fn store(&self, engine: &Engine, content: &blake3::Hash, component: &Component) -> io::Result<()> {
        let artifact = component.serialize().map_err(io::Error::other)?;
        if (MAC_LEN + artifact.len()) as u64 > MAX_ENTRY_BYTES {
            return Err(io::Error::other(format!(
                "the compiled component ({} bytes) exceeds the cache's entry bound of {MAX_ENTRY_BYTES} bytes",
                artifact.len()
            )));
        }
        let engine_hash = engine_hash(engine);
        let mac = self.mac(content, &engine_hash, &artifact);
        let path = self.path(content, &engine_hash);
        let tmp = self.dir.join(temp_name("entry")?);
        let written = (|| {
            let mut file = os::create_private(&tmp)?;
            file.write_all(mac.as_bytes())?;
            file.write_all(&artifact)?;
            drop(file);
            // Replaces whatever is at `path`, a link included, atomically.
            std::fs::rename(&tmp, &path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }

    /// Stores `component` like [`store`](Self::store) unless a regular entry for `content` is there already.
    pub(crate) fn store_if_missing(&self, engine: &Engine, content: &blake3::Hash, component: &Component) -> io::Result<()> {
        match std::fs::symlink_metadata(self.path(content, &engine_hash(engine))) {
            Ok(meta) if meta.file_type().is_file() => Ok(()),
            _ => self.store(engine, content, component),
        }
    }

    /// Removes entries past the bounds, never one for a content in `keep` on this engine,
    /// and temporary files left by crashed writers. A file that cannot be removed is logged and skipped.
    pub(crate) fn prune(&self, engine: &Engine, keep: &HashSet<blake3::Hash>) -> io::Result<Pruned> {
        let engine_hash = engine_hash(engine);
        let kept: HashSet<String> = keep.iter().map(|content| entry_name(content, &engine_hash)).collect();
        let now = SystemTime::now();
        let age = |meta: &Metadata| meta.modified().ok().and_then(|t| now.duration_since(t).ok()).unwrap_or_default();
        let mut pruned = Pruned::default();
        let mut remove = |path: &Path, bytes: u64| match std::fs::remove_file(path) {
            Ok(()) => {
                pruned.removed += 1;
                pruned.freed += bytes;
                true
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => true,
            Err(e) => {
                tracing::warn!("could not prune compiled cache file {}: {e}", path.display());
                false
            }
        };
        // (age, bytes, path) of each entry that may go; the size of every entry.
        let mut candidates = Vec::new();
        let mut total = 0u64;
        for dirent in std::fs::read_dir(&self.dir)? {
            let dirent = dirent?;
            let name = dirent.file_name();
            let Some(name) = name.to_str() else { continue };
            // Never follows a link; links and other odd files are left to `load`, which refuses them.
            let Ok(meta) = std::fs::symlink_metadata(dirent.path()) else { continue };
            if !meta.file_type().is_file() {
                continue;
            }
            if name.starts_with(".entry.") && name.ends_with(".tmp") {
                if age(&meta) > STALE_TEMP {
                    remove(&dirent.path(), meta.len());
                }
                continue;
            }
            if !is_entry_name(name) {
                continue;
            }
            total += meta.len();
            if !kept.contains(name) {
                candidates.push((age(&meta), meta.len(), dirent.path()));
            }
        }
        // Oldest first.
        candidates.sort_by_key(|(age, ..)| std::cmp::Reverse(*age));
        for (age, bytes, path) in candidates {
            let too_old = self.bounds.max_age.is_some_and(|max| age > max);
            if (too_old || total > self.bounds.max_bytes) && remove(&path, bytes) {
                total = total.saturating_sub(bytes);
            }
        }
        pruned.left = total;
        Ok(pruned)
    }
}

/// The file name of the entry for `content` compiled by an engine of compatibility hash `engine`.
fn entry_name(content: &blake3::Hash, engine: &blake3::Hash) -> String {
    format!("{}-{}{ENTRY_SUFFIX}", content.to_hex(), &engine.to_hex()[..16])
}

/// Whether `name` is shaped like an [`entry_name`] (of any engine).
fn is_entry_name(name: &str) -> bool {
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    name.strip_suffix(ENTRY_SUFFIX)
        .and_then(|stem| stem.split_once('-'))
        .is_some_and(|(content, engine)| hex(content, 64) && hex(engine, 16))
}

/// The engine's compatibility hash, as a stable 32-byte BLAKE3 digest.
fn engine_hash(engine: &Engine) -> blake3::Hash {
    struct Blake3Hasher(blake3::Hasher);
    impl Hasher for Blake3Hasher {
        fn finish(&self) -> u64 {
            let hash = self.0.finalize();
            u64::from_le_bytes(hash.as_bytes()[..8].try_into().expect("8 bytes"))
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }
    let mut hasher = Blake3Hasher(blake3::Hasher::new());
    hasher.0.update(b"camel-wasm engine compatibility\0");
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.0.finalize()
}

/// A file name in the cache directory no other process or call uses.
fn temp_name(what: &str) -> io::Result<String> {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).map_err(io::Error::other)?;
    Ok(format!(".{what}.{}-{:032x}.tmp", std::process::id(), u128::from_le_bytes(random)))
}

/// Checks an opened file against what `symlink_metadata` saw before opening
/// it: the same regular file, owned by `uid`, with none of the `forbidden` mode bits.
fn check_opened(file: &File, before: &Metadata, uid: u32, forbidden: u32, meaning: &str) -> Result<Metadata, String> {
    let meta = file.metadata().map_err(|e| format!("it cannot be examined: {e}"))?;
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    if !os::same_file(&meta, before) {
        return Err("it was replaced while being opened".into());
    }
    if os::uid(&meta) != uid {
        return Err(format!("it is owned by uid {}, not by this process's user (uid {uid})", os::uid(&meta)));
    }
    let mode = os::mode(&meta);
    if mode & forbidden != 0 {
        return Err(format!("its mode {mode:04o} is {meaning}"));
    }
    Ok(meta)
}

/// Reads `file` whole, refusing more than `bound` bytes whatever its size claims.
fn read_bounded(file: &File, meta: &Metadata, bound: u64) -> io::Result<Vec<u8>> {
    if meta.len() > bound {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("it is {} bytes, over the bound of {bound}", meta.len())));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(bound + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > bound {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("it grew over the bound of {bound} bytes")));
    }
    Ok(bytes)
}

/// Reads `dir/cache.key`, or creates it if there is none. Two processes racing
/// on a new directory both succeed and end up with the same key: the key is
/// written to a private temporary file, then hard-linked to its name, which
/// fails for the loser, who then reads the winner's key.
fn load_or_create_key(dir: &Path, uid: u32) -> io::Result<[u8; KEY_LEN]> {
    let path = dir.join(KEY_FILE);
    match read_key(&path, uid) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        found => return found,
    }
    let mut key = [0u8; KEY_LEN];
    getrandom::fill(&mut key).map_err(io::Error::other)?;
    let tmp = dir.join(temp_name(KEY_FILE)?);
    let created = (|| {
        let mut file = os::create_private(&tmp)?;
        file.write_all(&key)?;
        // The key is complete on disk before it has its name, even after a crash.
        file.sync_all()?;
        drop(file);
        std::fs::hard_link(&tmp, &path)
    })();
    let _ = std::fs::remove_file(&tmp);
    match created {
        Ok(()) => Ok(key),
        // Another process created it first: use theirs, with the same checks.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read_key(&path, uid),
        Err(e) => Err(io::Error::new(e.kind(), format!("cannot create {KEY_FILE}: {e}"))),
    }
}

/// The key in `path`; `NotFound` if there is none; an error naming the problem
/// if the file is not a private, regular, 32-byte file of `uid`.
fn read_key(path: &Path, uid: u32) -> io::Result<[u8; KEY_LEN]> {
    let refused = |why: String| io::Error::new(io::ErrorKind::PermissionDenied, format!("{KEY_FILE}: {why}; refusing it"));
    let before = std::fs::symlink_metadata(path)?;
    if before.file_type().is_symlink() {
        return Err(refused("it is a symbolic link".into()));
    }
    if !before.file_type().is_file() {
        return Err(refused("it is not a regular file".into()));
    }
    let file = os::open_nofollow(path)?;
    let meta = check_opened(&file, &before, uid, 0o077, "open to group or others; it must be 0600").map_err(refused)?;
    let wrong_length = |len: usize| refused(format!("it is {len} bytes, a key is exactly {KEY_LEN} bytes"));
    if meta.len() != KEY_LEN as u64 {
        return Err(wrong_length(meta.len() as usize));
    }
    let bytes = read_bounded(&file, &meta, KEY_LEN as u64).map_err(|e| refused(e.to_string()))?;
    bytes.try_into().map_err(|bytes: Vec<u8>| wrong_length(bytes.len()))
}

/// The file system calls that need Unix.
#[cfg(unix)]
mod os {
    use std::fs::{File, Metadata, OpenOptions};
    use std::io;
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
    use std::path::Path;

    use libc::O_NOFOLLOW;

    /// Creates `dir` with mode 0700 if it does not exist (its parents with the
    /// default mode). An existing directory is left as it is, to be checked.
    pub(super) fn create_private_dir(dir: &Path) -> io::Result<()> {
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        match std::fs::DirBuilder::new().mode(0o700).create(dir) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
            _ => Ok(()),
        }
    }

    /// Opens `path` for reading, failing if its last component is a symbolic link.
    pub(super) fn open_nofollow(path: &Path) -> io::Result<File> {
        OpenOptions::new().read(true).custom_flags(O_NOFOLLOW).open(path)
    }

    /// Creates `path`, which must not exist (`O_CREAT|O_EXCL`), mode 0600, for writing.
    pub(super) fn create_private(path: &Path) -> io::Result<File> {
        OpenOptions::new().write(true).create_new(true).mode(0o600).custom_flags(O_NOFOLLOW).open(path)
    }

    pub(super) fn uid(meta: &Metadata) -> u32 {
        meta.uid()
    }

    pub(super) fn mode(meta: &Metadata) -> u32 {
        meta.mode() & 0o7777
    }

    pub(super) fn same_file(a: &Metadata, b: &Metadata) -> bool {
        (a.dev(), a.ino()) == (b.dev(), b.ino())
    }

    /// The process's effective uid: the owner of every file it creates.
    pub(super) fn effective_uid() -> io::Result<u32> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        Ok(unsafe { libc::geteuid() })
    }

    #[cfg(test)]
    #[test]
    fn o_nofollow_refuses_a_link() {
        let dir = std::env::temp_dir().join(format!("camel-wasm-nofollow-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("file"), b"x").unwrap();
        std::os::unix::fs::symlink(dir.join("file"), dir.join("link")).unwrap();
        assert!(open_nofollow(&dir.join("file")).is_ok());
        assert!(open_nofollow(&dir.join("link")).is_err(), "O_NOFOLLOW refuses a link");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Stubs for systems without Unix permissions: `DiskCache::open` refuses before using them.
#[cfg(not(unix))]
mod os {
    use std::fs::{File, Metadata};
    use std::io;
    use std::path::Path;

    fn unsupported() -> io::Error {
        io::Error::new(io::ErrorKind::Unsupported, "the compiled cache needs a Unix file system")
    }
    pub(super) fn create_private_dir(_: &Path) -> io::Result<()> {
        Err(unsupported())
    }
    pub(super) fn open_nofollow(_: &Path) -> io::Result<File> {
        Err(unsupported())
    }
    pub(super) fn create_private(_: &Path) -> io::Result<File> {
        Err(unsupported())
    }
    pub(super) fn uid(_: &Metadata) -> u32 {
        u32::MAX
    }
    pub(super) fn mode(_: &Metadata) -> u32 {
        0o7777
    }
    pub(super) fn same_file(_: &Metadata, _: &Metadata) -> bool {
        false
    }
    pub(super) fn effective_uid() -> io::Result<u32> {
        Err(unsupported())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn fresh_dir(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("camel-wasm-disk-cache-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn many_processes_racing_on_a_new_directory_agree_on_one_key() {
        for round in 0..20 {
            let dir = fresh_dir(&format!("race-{round}"));
            let barrier = std::sync::Barrier::new(16);
            let keys: Vec<[u8; KEY_LEN]> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..16)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            DiskCache::open(&dir, Bounds::default()).expect("open").key
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            assert!(keys.iter().all(|k| *k == keys[0]), "round {round}: every opener has the same key");
            assert_eq!(std::fs::read(dir.join(KEY_FILE)).unwrap(), keys[0]);
            let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
            assert_eq!(names, [KEY_FILE], "round {round}: no temporary file is left");
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    #[test]
    fn an_oversized_file_is_not_read_past_the_bound() {
        let dir = fresh_dir("bound");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("big");
        std::fs::write(&path, vec![0u8; 100]).unwrap();
        let file = os::open_nofollow(&path).unwrap();
        let meta = file.metadata().unwrap();
        assert!(read_bounded(&file, &meta, 99).is_err());
        let file = os::open_nofollow(&path).unwrap();
        assert_eq!(read_bounded(&file, &meta, 100).unwrap().len(), 100);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A fake entry of `len` bytes for content `n`, named for `engine`, last used `age` ago.
    fn fake_entry(cache: &DiskCache, engine: &blake3::Hash, n: u8, len: usize, age: Duration) -> (blake3::Hash, PathBuf) {
        let content = blake3::hash(&[n]);
        let path = cache.path(&content, engine);
        aged_file(&path, len, age);
        (content, path)
    }

    fn aged_file(path: &Path, len: usize, age: Duration) {
        std::fs::write(path, vec![0u8; len]).unwrap();
        File::options().write(true).open(path).unwrap().set_modified(SystemTime::now() - age).unwrap();
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn pruning_removes_the_oldest_unkept_entries_down_to_the_size_bound() {
        let dir = fresh_dir("prune-size");
        let engine = Engine::default();
        let cache = DiskCache::open(&dir, Bounds { max_bytes: 3000, max_age: None }).unwrap();
        // Entry i was last used i hours ago; the oldest one is kept (a loaded component's).
        let this = engine_hash(&engine);
        let entries: Vec<_> = (0..5).map(|i| fake_entry(&cache, &this, i, 1000, HOUR * u32::from(i))).collect();
        let keep = HashSet::from([entries[4].0]);
        aged_file(&dir.join("notes.txt"), 10_000, 10 * HOUR);
        aged_file(&dir.join(".entry.1-2.tmp"), 500, 2 * HOUR);
        aged_file(&dir.join(".entry.3-4.tmp"), 500, Duration::ZERO);

        let pruned = cache.prune(&engine, &keep).unwrap();
        // 5000 bytes of entries: the two oldest not kept go, and the stale temporary file.
        assert_eq!(pruned, Pruned { removed: 3, freed: 2500, left: 3000 });
        let left: Vec<bool> = entries.iter().map(|(_, path)| path.exists()).collect();
        assert_eq!(left, [true, true, false, false, true]);
        assert!(dir.join(KEY_FILE).exists() && dir.join("notes.txt").exists(), "files not entries are left alone");
        assert!(!dir.join(".entry.1-2.tmp").exists() && dir.join(".entry.3-4.tmp").exists());

        // A kept entry stays even when it alone is over the bound.
        let tight = DiskCache { bounds: Bounds { max_bytes: 0, max_age: None }, ..cache.clone() };
        assert_eq!(tight.prune(&engine, &keep).unwrap(), Pruned { removed: 2, freed: 2000, left: 1000 });
        assert!(entries[4].1.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn pruning_removes_unkept_entries_past_the_age_bound() {
        let dir = fresh_dir("prune-age");
        let engine = Engine::default();
        let cache = DiskCache::open(&dir, Bounds { max_age: Some(HOUR * 3 / 2), ..Bounds::default() }).unwrap();
        let this = engine_hash(&engine);
        let entries: Vec<_> = (0..4).map(|i| fake_entry(&cache, &this, i, 100, HOUR * u32::from(i))).collect();
        // The kept content, but compiled by another engine: that entry is never loaded here.
        let (_, other_engine) = fake_entry(&cache, &blake3::hash(b"another engine"), 3, 100, 2 * HOUR);
        let pruned = cache.prune(&engine, &HashSet::from([entries[3].0])).unwrap();
        assert_eq!(pruned, Pruned { removed: 2, freed: 200, left: 300 });
        let left: Vec<bool> = entries.iter().map(|(_, path)| path.exists()).collect();
        assert_eq!(left, [true, true, false, true]);
        assert!(!other_engine.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_load_touches_its_entry() {
        let dir = fresh_dir("touch");
        let engine = Engine::default();
        let cache = DiskCache::open(&dir, Bounds::default()).unwrap();
        let (content, path) = fake_entry(&cache, &engine_hash(&engine), 0, 100, 5 * HOUR);
        // Not a valid entry, so rejected, but read (and touched) first.
        assert!(matches!(cache.load(&engine, &content), Cached::Rejected(_)));
        let component = Component::new(&engine, "(component)").unwrap();
        cache.store(&engine, &content, &component).unwrap();
        File::options().write(true).open(&path).unwrap().set_modified(SystemTime::now() - 5 * HOUR).unwrap();
        assert!(matches!(cache.load(&engine, &content), Cached::Hit(_)));
        let age = SystemTime::now().duration_since(std::fs::metadata(&path).unwrap().modified().unwrap()).unwrap();
        assert!(age < HOUR, "a hit counts as a use: last modified {age:?} ago");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_debug_output_does_not_show_the_key() {
        let dir = fresh_dir("debug");
        let cache = DiskCache::open(&dir, Bounds::default()).unwrap();
        let shown = format!("{cache:?}");
        assert!(shown.contains("redacted") && !shown.contains(&format!("{:?}", cache.key)), "{shown}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
