//! The article's asynchronous client on one OS thread: every task in one
//! FuturesUnordered on a current-thread runtime; the waits overlap, the
//! computes take turns (22 units).

use std::sync::Arc;

use asynctrace_tokio_peer::{begin, finish, run_task, Options};
use futures::stream::{FuturesUnordered, StreamExt};

fn main() {
    let o = Arc::new(Options::from_args("client_single", "Asynchronous requests, one OS thread (FuturesUnordered, a current-thread runtime).", None, 3));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a Tokio runtime");
    let results = rt.block_on(async {
        let start = begin("client_single", &o, 1, true);
        let mut futs: FuturesUnordered<_> = o.labels().into_iter().enumerate().map(|(i, l)| run_task(i + 1, l, start, o.clone())).collect();
        let mut results = Vec::new();
        while let Some(r) = futs.next().await {
            results.push(r);
        }
        results
    });
    finish("client_single", &o, results);
}
