//! The article's synchronous client, with the standard library only: one
//! thread, the tasks one after another (42 units).

use std::time::Instant;

use asynctrace_tokio_peer::{finish, task_blocking, Options};

fn main() {
    let o = Options::from_args("client_sync", "Synchronous requests (std): the tasks one after another on one thread.", None, 3);
    let start = Instant::now();
    let results = o.labels().iter().map(|l| task_blocking(l, start, &o)).collect();
    finish("client_sync", results);
}
