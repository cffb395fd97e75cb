//! The article's client with rayon: the synchronous task on a thread pool,
//! an OS thread per task when the pool has as many threads as tasks (14
//! units). rayon's default is a thread per core.

use asynctrace_tokio_peer::{begin, finish, run_task_blocking, Options};
use rayon::prelude::*;

fn main() {
    let o = Options::from_args("client_rayon", "Synchronous requests on OS threads (rayon); --threads: the pool's threads (default: one per core).", Some("threads"), 3);
    if let Some(n) = o.threads {
        rayon::ThreadPoolBuilder::new().num_threads(n).build_global().expect("rayon's thread pool");
    }
    let start = begin("client_rayon", &o, rayon::current_num_threads(), true);
    let results = o.labels().par_iter().enumerate().map(|(i, l)| run_task_blocking(i + 1, l, start, &o)).collect();
    finish("client_rayon", &o, results);
}
