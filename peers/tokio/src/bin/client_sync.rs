//! The article's synchronous client, with the standard library only: one
//! thread, the tasks one after another (42 units).

use asynctrace_tokio_peer::{begin, finish, run_task_blocking, Options};

fn main() {
    let o = Options::from_args("client_sync", "Synchronous requests (std): the tasks one after another on one thread.", None, 3);
    let start = begin("client_sync", &o, 1, false);
    let results = o.labels().iter().enumerate().map(|(i, l)| run_task_blocking(i + 1, l, start, &o)).collect();
    finish("client_sync", &o, results);
}
