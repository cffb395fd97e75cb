//! The article's Tokio client awaiting each task before the next: async,
//! and as slow as the synchronous one (42 units).

use std::sync::Arc;
use std::time::Instant;

use asynctrace_tokio_peer::{finish, task, Options};

#[tokio::main]
async fn main() {
    let o = Arc::new(Options::from_args("client_series", "Synchronous requests (Tokio): each task awaited before the next.", None, 3));
    let start = Instant::now();
    let mut results = Vec::new();
    for label in o.labels() {
        results.push(task(label, start, o.clone()).await);
    }
    finish("client_series", results);
}
