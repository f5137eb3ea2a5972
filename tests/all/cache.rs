//! The compiled cache on disk: a restart does not recompile, tampering is caught.
//!
//! Also the trust rules of the cache directory: entries are bound to their
//! plugin and engine, the directory and key must be private to the process
//! user, symbolic links are never followed, and two processes starting on one
//! new directory agree on one key.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use camel_wasm::{Exchange, Limits, Plugin, Runtime};

use crate::fixture::{guest, guests_dir};

fn builder(dir: &Path) -> camel_wasm::RuntimeBuilder {
    Runtime::builder().base_dir(guests_dir()).cache_dir(dir).pooling(false)
}

fn runtime_with_cache(dir: &Path) -> Runtime {
    builder(dir).build().unwrap()
}

/// The error of a runtime build that must fail.
fn refused(dir: &Path) -> String {
    match builder(dir).build() {
        Ok(_) => panic!("a runtime was built on the untrusted cache directory {}", dir.display()),
        Err(e) => e.to_string(),
    }
}

/// A fresh, not yet existing directory for one test.
pub(crate) fn fresh_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("camel-wasm-cache-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A directory made by the test itself (not by the runtime), mode 0700.
fn private_dir(test: &str) -> PathBuf {
    let dir = fresh_dir(test);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

/// Whether this process runs as root (can chown to another user).
fn is_root(dir: &Path) -> bool {
    let probe = dir.join("uid-probe");
    std::fs::write(&probe, b"").unwrap();
    let uid = std::fs::metadata(&probe).unwrap().uid();
    std::fs::remove_file(&probe).unwrap();
    uid == 0
}

async fn works(runtime: &Runtime) {
    let plugin = Plugin::load(runtime, &guest("upper"), Limits::default()).unwrap();
    assert_eq!(plugin.process(Exchange::new("cached")).await.unwrap().input.body.as_text(), Some("CACHED"));
}

/// The `.cwasm` entries in cache directory `dir`, sorted.
pub(crate) fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn a_restart_loads_from_disk_and_a_tampered_entry_is_recompiled() {
    let dir = fresh_dir("restart");

    let first = runtime_with_cache(&dir);
    works(&first).await;
    assert_eq!(first.compile_stats().compiled, 1);
    let files = entries(&dir);
    assert_eq!(files.len(), 1, "one entry written");

    let restarted = runtime_with_cache(&dir);
    works(&restarted).await;
    let stats = restarted.compile_stats();
    assert_eq!((stats.compiled, stats.disk_hits), (0, 1), "no recompilation after a restart");

    // Flip one byte in the middle of the artifact.
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&files[0], &bytes).unwrap();
    let after_tamper = runtime_with_cache(&dir);
    works(&after_tamper).await;
    let stats = after_tamper.compile_stats();
    assert_eq!((stats.compiled, stats.disk_hits, stats.disk_rejected), (1, 0, 1));
    assert_ne!(std::fs::read(&files[0]).unwrap(), bytes, "the entry was rewritten");

    // A truncated file is rejected the same way.
    std::fs::write(&files[0], b"short").unwrap();
    let after_truncation = runtime_with_cache(&dir);
    works(&after_truncation).await;
    assert_eq!(after_truncation.compile_stats().disk_rejected, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_entry_copied_over_another_plugins_name_is_rejected() {
    let dir = fresh_dir("swap");
    let first = runtime_with_cache(&dir);
    Plugin::load(&first, &guest("upper"), Limits::default()).unwrap();
    let upper_entry = entries(&dir);
    assert_eq!(upper_entry.len(), 1);
    let upper_entry = upper_entry[0].clone();
    Plugin::load(&first, &guest("raw-upper"), Limits::default()).unwrap();
    let raw_entry = entries(&dir).into_iter().find(|p| *p != upper_entry).expect("a second entry");
    assert_eq!(first.compile_stats().compiled, 2);

    // A valid entry, MAC'd with the right key, but for another plugin.
    std::fs::copy(&raw_entry, &upper_entry).unwrap();
    let restarted = runtime_with_cache(&dir);
    let upper = Plugin::load(&restarted, &guest("upper"), Limits::default()).unwrap();
    let stats = restarted.compile_stats();
    assert_eq!(
        (stats.disk_hits, stats.disk_rejected, stats.compiled),
        (0, 1, 1),
        "raw-upper's entry under upper's name must be rejected and upper recompiled"
    );
    let out = upper.process(Exchange::new("hello")).await.unwrap();
    assert_eq!(out.input.body.as_text(), Some("HELLO"));
    assert_eq!(out.header("x-processed-by"), Some(&serde_json::json!("upper")), "upper still runs as itself");

    // The recompiled entry replaced the swapped one: the next start hits.
    let again = runtime_with_cache(&dir);
    Plugin::load(&again, &guest("upper"), Limits::default()).unwrap();
    let stats = again.compile_stats();
    assert_eq!((stats.disk_hits, stats.disk_rejected, stats.compiled), (1, 0, 0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_planted_key_is_refused() {
    // A key readable and writable by others.
    let dir = private_dir("planted-key-mode");
    let key = dir.join("cache.key");
    std::fs::write(&key, [7u8; 32]).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = refused(&dir);
    assert!(err.contains(&dir.display().to_string()), "{err}");
    assert!(err.contains("cache.key") && err.contains("0644"), "{err}");
    assert_eq!(std::fs::read(&key).unwrap(), [7u8; 32], "the planted key is left alone, not replaced");
    let _ = std::fs::remove_dir_all(&dir);

    // A key that is not 32 bytes is not silently replaced either.
    let dir = private_dir("planted-key-length");
    let key = dir.join("cache.key");
    std::fs::write(&key, [7u8; 16]).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let err = refused(&dir);
    assert!(err.contains(&dir.display().to_string()) && err.contains("32 bytes"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);

    // A key that is a symbolic link to a well-formed, private key elsewhere.
    let dir = private_dir("planted-key-symlink");
    let elsewhere = private_dir("planted-key-symlink-target");
    let target = elsewhere.join("key");
    std::fs::write(&target, [7u8; 32]).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink(&target, dir.join("cache.key")).unwrap();
    let err = refused(&dir);
    assert!(err.contains(&dir.display().to_string()) && err.contains("symbolic link"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&elsewhere);

    // As root, files and directories of another user are refused too.
    let dir = private_dir("planted-key-owner");
    if is_root(&dir) {
        let key = dir.join("cache.key");
        std::fs::write(&key, [7u8; 32]).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&key, Some(65534), Some(65534)).unwrap();
        let err = refused(&dir);
        assert!(err.contains(&dir.display().to_string()) && err.contains("owned by uid 65534"), "{err}");

        std::fs::remove_file(&key).unwrap();
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
        let err = refused(&dir);
        assert!(err.contains(&dir.display().to_string()) && err.contains("owned by uid 65534"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_symlinked_entry_is_never_a_hit() {
    let dir = fresh_dir("symlink-entry");
    let elsewhere = private_dir("symlink-entry-target");
    let first = runtime_with_cache(&dir);
    works(&first).await;
    let entry = entries(&dir).remove(0);

    // The very entry, valid for this name and key, but reached through a link.
    let target = elsewhere.join("entry.cwasm");
    std::fs::rename(&entry, &target).unwrap();
    std::os::unix::fs::symlink(&target, &entry).unwrap();
    let restarted = runtime_with_cache(&dir);
    works(&restarted).await;
    let stats = restarted.compile_stats();
    assert_eq!(stats.disk_hits, 0, "a symbolic link is not followed");
    assert_eq!(stats.compiled, 1, "upper was recompiled");
    let meta = std::fs::symlink_metadata(&entry).unwrap();
    assert!(meta.file_type().is_file(), "the link was replaced by a regular entry");

    // A symlinked entry pointing at a file that does not exist is not a hit either.
    std::fs::remove_file(&entry).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("missing"), &entry).unwrap();
    let dangling = runtime_with_cache(&dir);
    works(&dangling).await;
    assert_eq!(dangling.compile_stats().disk_hits, 0);
    assert!(std::fs::symlink_metadata(&entry).unwrap().file_type().is_file());
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&elsewhere);
}

#[tokio::test]
async fn a_cache_directory_open_to_others_is_refused() {
    for mode in [0o777, 0o755, 0o750] {
        let dir = private_dir(&format!("loose-{mode:o}"));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = refused(&dir);
        assert!(err.contains(&dir.display().to_string()), "{err}");
        assert!(err.contains(&format!("mode {mode:04o}")) && err.contains("0700"), "{err}");
        let now = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o7777;
        assert_eq!(now, mode, "the directory's mode is not changed behind the user's back");
        assert!(!dir.join("cache.key").exists(), "no key is written into a refused directory");
        let _ = std::fs::remove_dir_all(&dir);
    }

    // A path that is a file, not a directory.
    let file = fresh_dir("not-a-dir");
    std::fs::write(&file, b"").unwrap();
    let err = refused(&file);
    assert!(err.contains(&file.display().to_string()), "{err}");
    let _ = std::fs::remove_file(&file);
}

#[tokio::test]
async fn a_new_cache_directory_and_its_files_are_private() {
    let dir = fresh_dir("private");
    let runtime = runtime_with_cache(&dir);
    works(&runtime).await;
    let mode = |p: &Path| format!("{:04o}", std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777);
    assert_eq!(mode(&dir), "0700");
    assert_eq!(mode(&dir.join("cache.key")), "0600");
    assert_eq!(std::fs::metadata(dir.join("cache.key")).unwrap().len(), 32);
    let files = entries(&dir);
    assert_eq!(files.len(), 1);
    assert_eq!(mode(&files[0]), "0600");
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 2, "only the key and the entry, no temporary files left: {names:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_runtimes_starting_on_one_new_directory_share_one_key() {
    for round in 0..8 {
        let dir = fresh_dir(&format!("race-{round}"));
        let barrier = std::sync::Barrier::new(2);
        let (a, b) = std::thread::scope(|s| {
            let start = || {
                barrier.wait();
                builder(&dir).build().map_err(|e| e.to_string())
            };
            let a = s.spawn(start);
            let b = s.spawn(start);
            (a.join().unwrap(), b.join().unwrap())
        });
        let (a, b) = (a.expect("first runtime"), b.expect("second runtime"));

        Plugin::load(&a, &guest("upper"), Limits::default()).unwrap();
        Plugin::load(&b, &guest("raw-upper"), Limits::default()).unwrap();
        // Each now finds the other's entry, MAC'd with the same key.
        Plugin::load(&a, &guest("raw-upper"), Limits::default()).unwrap();
        Plugin::load(&b, &guest("upper"), Limits::default()).unwrap();
        for (name, runtime) in [("a", &a), ("b", &b)] {
            let stats = runtime.compile_stats();
            assert_eq!(
                (stats.compiled, stats.disk_hits, stats.disk_rejected),
                (1, 1, 0),
                "round {round}, runtime {name}: the other runtime's entry is a hit"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
