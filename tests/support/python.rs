//! The Python guests (`guests/py-*`, built by `just guests` with componentize-py):
//! one runtime over `guests/dist` per test binary, with a disk cache every test
//! binary shares, so each 20 MB component compiles once per build, not once per binary.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use camel_wasm::Runtime;

/// The Python guests, in the order `just guests` lists them.
pub const PYTHON_GUESTS: [&str; 7] =
    ["py-counter", "py-json-enrich", "py-role-check", "py-stream-count", "py-text", "py-upper", "py-webhook"];

/// Directory of the compiled guests.
pub fn dist() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guests/dist")
}

/// The file name of Python guest `name`, checked to exist so a missing build fails clearly.
pub fn py_guest(name: &str) -> String {
    let file = format!("{name}.wasm");
    assert!(dist().join(&file).is_file(), "Python guest {file} is not built: run `just guests` (it needs Python 3.10+)");
    file
}

/// The shared compile cache of the Python guests.
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("python-guests-cache")
}

/// A runtime over `guests/dist` with the shared compile cache.
pub fn python_runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::builder().base_dir(dist()).cache_dir(cache_dir()).build().expect("runtime"))
}
