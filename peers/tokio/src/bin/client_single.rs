//! The article's asynchronous client on one OS thread: every task in one
//! FuturesUnordered on a current-thread runtime; the waits overlap, the
//! computes take turns (22 units).

use std::sync::Arc;
use std::time::Instant;

use asynctrace_tokio_peer::{finish, task, Options};
use futures::stream::{FuturesUnordered, StreamExt};

fn main() {
    let o = Arc::new(Options::from_args("client_single", "Asynchronous requests, one OS thread (FuturesUnordered, a current-thread runtime).", None, 3));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a Tokio runtime");
    let results = rt.block_on(async {
        let start = Instant::now();
        let mut futs: FuturesUnordered<_> = o.labels().into_iter().map(|l| task(l, start, o.clone())).collect();
        let mut results = Vec::new();
        while let Some(r) = futs.next().await {
            results.push(r);
        }
        results
    });
    finish("client_single", results);
}
