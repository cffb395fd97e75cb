//! The article's Tokio client awaiting each task before the next: async,
//! and as slow as the synchronous one (42 units).

use std::sync::Arc;

use asynctrace_tokio_peer::{begin, finish, run_task, workers, Options};

#[tokio::main]
async fn main() {
    let o = Arc::new(Options::from_args("client_series", "Synchronous requests (Tokio): each task awaited before the next.", None, 3));
    let start = begin("client_series", &o, workers(None), false);
    let mut results = Vec::new();
    for (i, label) in o.labels().into_iter().enumerate() {
        results.push(run_task(i + 1, label, start, o.clone()).await);
    }
    finish("client_series", &o, results);
}
