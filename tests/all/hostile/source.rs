//! A source guest's direct reply takes an in-flight permit (issue 22, item 10).

use std::time::{Duration, Instant};

use camel_wasm::Limits;

use crate::source::{Seen, client, options, start_with, unchanged, url};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_reply_waits_for_a_permit_like_any_exchange() {
    let seen = Seen::default();
    let limits = Limits { max_concurrent: 1, ..Limits::default() };
    let source = start_with("concurrent-source", limits, options(None), &[("concurrency", "4")], &seen, unchanged).await;
    // The route holds an exchange whose `x-path` header is `/wait` for 1.5 s: the one permit is taken.
    let accepted = client().post(url(&source, "/wait")).header("x-path", "/wait").body("x").send().await.unwrap();
    assert_eq!(accepted.status(), 202);
    // A body over the guest's 1 MiB: it rejects it with a direct 413, which must wait for the permit.
    let asked = Instant::now();
    let rejected = client().post(url(&source, "/big")).body(vec![b'x'; (1 << 20) + 1]).send().await.unwrap();
    assert_eq!(rejected.status(), 413);
    assert!(asked.elapsed() > Duration::from_millis(900), "answered after {:?}, while the permit was taken", asked.elapsed());
    source.stop().await.unwrap();
}
