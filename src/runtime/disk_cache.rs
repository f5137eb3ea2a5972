//! Compiled components on disk, so a restart does not recompile.
//!
//! A file is keyed by the content hash of the `.wasm` and the engine's
//! compatibility hash, and sealed with a keyed BLAKE3 MAC (the key lives in
//! the cache directory, readable by its owner only). A file whose MAC does not
//! match, or that wasmtime refuses, is recompiled and rewritten, never loaded.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// Length of the MAC stored before the serialized component.
const MAC_LEN: usize = 32;

/// A directory of precompiled components.
#[derive(Debug, Clone)]
pub(crate) struct DiskCache {
    dir: PathBuf,
    key: [u8; 32],
}

/// What a cache lookup found.
pub(crate) enum Cached {
    /// A verified component.
    Hit(Component),
    /// Nothing stored for this key.
    Miss,
    /// A file was there but failed verification; it will be replaced.
    Rejected(String),
}

impl DiskCache {
    /// Opens (creating if needed) the cache in `dir`.
    pub(crate) fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let key_path = dir.join("cache.key");
        let key = match std::fs::read(&key_path) {
            Ok(bytes) if bytes.len() == 32 => bytes.try_into().expect("32 bytes"),
            _ => {
                let mut key = [0u8; 32];
                key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
                key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
                write_private(&key_path, &key)?;
                key
            }
        };
        Ok(Self { dir: dir.to_path_buf(), key })
    }

    fn path(&self, engine: &Engine, content: &blake3::Hash) -> PathBuf {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        self.dir.join(format!("{}-{:016x}.cwasm", content.to_hex(), hasher.finish()))
    }

    /// The verified component compiled from content `content`, if stored.
    pub(crate) fn load(&self, engine: &Engine, content: &blake3::Hash) -> Cached {
        let Ok(bytes) = std::fs::read(self.path(engine, content)) else {
            return Cached::Miss;
        };
        if bytes.len() < MAC_LEN {
            return Cached::Rejected("the file is truncated".into());
        }
        let (mac, artifact) = bytes.split_at(MAC_LEN);
        if blake3::keyed_hash(&self.key, artifact) != *<&[u8; 32]>::try_from(mac).expect("32 bytes") {
            return Cached::Rejected("its MAC does not match: corrupt or tampered".into());
        }
        // SAFETY: the bytes were produced by `Component::serialize` on an engine
        // with the same compatibility hash and are authenticated by our MAC.
        match unsafe { Component::deserialize(engine, artifact) } {
            Ok(component) => Cached::Hit(component),
            Err(e) => Cached::Rejected(format!("wasmtime refused it: {e:#}")),
        }
    }

    /// Stores `component`, compiled from content `content`.
    pub(crate) fn store(&self, engine: &Engine, content: &blake3::Hash, component: &Component) -> std::io::Result<()> {
        let artifact = component.serialize().map_err(std::io::Error::other)?;
        let mac = blake3::keyed_hash(&self.key, &artifact);
        let mut bytes = Vec::with_capacity(MAC_LEN + artifact.len());
        bytes.extend_from_slice(mac.as_bytes());
        bytes.extend_from_slice(&artifact);
        let path = self.path(engine, content);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        write_private(&tmp, &bytes)?;
        std::fs::rename(tmp, path)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}
