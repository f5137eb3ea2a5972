//! Loading a `.wasm` file: path rules, size cap, compile, and clear errors for bad input.

use std::path::{Component as PathPart, Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::LoadError;

/// A plugin file opened once: its canonical path and its bytes.
pub(crate) struct Opened {
    /// Where it is, with every symlink resolved (inside the base directory).
    pub(crate) resolved: PathBuf,
    /// Its content, at most `max-wasm-size` bytes.
    pub(crate) bytes: Vec<u8>,
}

/// Opens `path` inside `base` once and reads it through that one handle.
///
/// The path must be relative, without `..`, and resolve (symlinks included)
/// inside `base`. The final component is opened without following a symlink
/// and without blocking (a FIFO cannot stall the host); the handle's own
/// metadata must be a regular file no larger than `max`, and the read is
/// bounded by `max` too, so a file that grows meanwhile is still refused.
pub(crate) fn open(base: &Path, path: &str, max: u64) -> Result<Opened, LoadError> {
    let resolved = resolve(base, path)?;
    let unreadable = |e: std::io::Error| LoadError::Unreadable { plugin: path.to_string(), reason: e.to_string() };
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW | libc::O_NONBLOCK);
    let file = options.open(&resolved).map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        return Err(LoadError::Unreadable { plugin: path.to_string(), reason: "not a regular file".into() });
    }
    if meta.len() > max {
        return Err(LoadError::TooLarge { plugin: path.to_string(), size: meta.len(), max });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    std::io::Read::read_to_end(&mut std::io::Read::take(file, max.saturating_add(1)), &mut bytes).map_err(unreadable)?;
    if bytes.len() as u64 > max {
        return Err(LoadError::TooLarge { plugin: path.to_string(), size: bytes.len() as u64, max });
    }
    Ok(Opened { resolved, bytes })
}

/// Resolves `path` inside `base`: relative, no `..`, and no symlink escaping `base`.
pub(crate) fn resolve(base: &Path, path: &str) -> Result<PathBuf, LoadError> {
    let forbidden = |reason: &str| LoadError::ForbiddenPath { path: path.to_string(), reason: reason.to_string() };
    let rel = Path::new(path);
    if path.is_empty() {
        return Err(forbidden("the path is empty"));
    }
    if rel.is_absolute() || rel.has_root() {
        return Err(forbidden("absolute paths are not allowed; give a path relative to the base directory"));
    }
    if rel.components().any(|c| matches!(c, PathPart::ParentDir)) {
        return Err(forbidden("'..' is not allowed"));
    }
    let base = base.canonicalize().map_err(|e| forbidden(&format!("base directory {}: {e}", base.display())))?;
    let joined = base.join(rel);
    let resolved = match joined.canonicalize() {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LoadError::NotFound { path: path.to_string(), resolved: joined });
        }
        Err(e) => return Err(LoadError::Unreadable { plugin: path.to_string(), reason: e.to_string() }),
    };
    if !resolved.starts_with(&base) {
        return Err(forbidden(&format!("it resolves to {}, outside the base directory {}", resolved.display(), base.display())));
    }
    Ok(resolved)
}

/// Compiles component bytes, telling a core module and garbage apart from a component.
pub(crate) fn compile(engine: &Engine, name: &str, bytes: &[u8]) -> Result<Component, LoadError> {
    let corrupt = |reason: String| LoadError::Corrupt { plugin: name.to_string(), reason };
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(corrupt("the file does not start with the WebAssembly magic bytes".into()));
    }
    // Bytes 6..8 are the layer: 0 for a core module, 1 for a component.
    if bytes[6..8] == [0, 0] {
        return Err(LoadError::CoreModule { plugin: name.to_string() });
    }
    Component::new(engine, bytes).map_err(|e| corrupt(format!("{e:#}")))
}

/// The load error for an `instantiate_pre` failure: a missing or mismatched import.
pub(crate) fn import_error(name: &str, err: wasmtime::Error) -> LoadError {
    let message = format!("{err:#}");
    LoadError::UnsupportedImport { plugin: name.to_string(), import: message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_rules() {
        let dir = std::env::temp_dir().join(format!("camel-wasm-path-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/p.wasm"), b"x").unwrap();
        assert!(resolve(&dir, "sub/p.wasm").is_ok());
        assert!(matches!(resolve(&dir, "/etc/passwd"), Err(LoadError::ForbiddenPath { .. })));
        assert!(matches!(resolve(&dir, "sub/../sub/p.wasm"), Err(LoadError::ForbiddenPath { .. })));
        assert!(matches!(resolve(&dir, "missing.wasm"), Err(LoadError::NotFound { .. })));
        #[cfg(unix)]
        {
            let _ = std::fs::remove_file(dir.join("escape.wasm"));
            std::os::unix::fs::symlink("/etc/hostname", dir.join("escape.wasm")).unwrap();
            let err = resolve(&dir, "escape.wasm").unwrap_err();
            assert!(err.to_string().contains("outside the base directory"), "{err}");
        }
        let big = open(&dir, "sub/p.wasm", 0).err().unwrap();
        assert!(matches!(big, LoadError::TooLarge { size: 1, max: 0, .. }));
        assert_eq!(open(&dir, "sub/p.wasm", 1).ok().unwrap().bytes, b"x");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_or_a_device_is_refused_without_blocking() {
        let dir = std::env::temp_dir().join(format!("camel-wasm-fifo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("pipe.wasm");
        let _ = std::fs::remove_file(&fifo);
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo on a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let err = open(&dir, "pipe.wasm", 1 << 20).err().unwrap();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        std::os::unix::fs::symlink("/dev/zero", dir.join("zero.wasm")).ok();
        let err = open(&dir, "zero.wasm", 1 << 20).err().unwrap();
        assert!(matches!(err, LoadError::ForbiddenPath { .. }), "{err}");
    }
}
