//! A slow `init` does not stall other endpoints' spare instances (issue 22, item 9).

use std::time::{Duration, Instant};

use camel_wasm::{Exchange, Plugin};

use crate::fixture::{eventually, guest, runtime};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spares_of_one_endpoint_are_not_held_up_by_anothers_spinning_init() {
    let slow = Plugin::from_uri(runtime(), &format!("wasm:{}?isolation=per-call&timeout=8", guest("slow-init"))).unwrap();
    let upper = Plugin::from_uri(runtime(), &format!("wasm:{}?isolation=per-call", guest("upper"))).unwrap();
    // The slow endpoint's call spins in init on the caller's path until its 8 s timeout, and asks for spares.
    let spinning = tokio::spawn(async move { slow.process(Exchange::new("x")).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let asked = Instant::now();
    upper.process(Exchange::new("hi")).await.unwrap();
    let ready = eventually(Duration::from_secs(3), || upper.idle_instances() > 0).await;
    assert!(ready, "upper had no spare {:?} after asking (the background thread was stuck in another init)", asked.elapsed());
    spinning.abort();
}
