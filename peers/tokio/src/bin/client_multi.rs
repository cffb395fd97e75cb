//! The article's asynchronous client on several OS threads: each task
//! `tokio::spawn`ed onto a multi-thread runtime; with as many workers as
//! tasks the computes run in parallel (14 units). Tokio's default is a
//! worker per core.

use std::sync::Arc;

use asynctrace_tokio_peer::{begin, finish, run_task, workers, Options};
use futures::stream::{FuturesUnordered, StreamExt};

fn main() {
    let o = Arc::new(Options::from_args("client_multi", "Asynchronous requests, multiple OS threads (tokio::spawn); --workers: Tokio's worker threads (default: one per core).", Some("workers"), 3));
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = o.threads {
        b.worker_threads(n);
    }
    let rt = b.enable_all().build().expect("a Tokio runtime");
    let results = rt.block_on(async {
        let start = begin("client_multi", &o, workers(o.threads), true);
        let mut futs: FuturesUnordered<_> = o.labels().into_iter().enumerate().map(|(i, l)| tokio::spawn(run_task(i + 1, l, start, o.clone()))).collect();
        let mut results = Vec::new();
        while let Some(r) = futs.next().await {
            results.push(r.unwrap_or_else(|e| Err(e.into())));
        }
        results
    });
    finish("client_multi", &o, results);
}
