//! What the peer's programs share: their command line, and the article's
//! task in its two forms, blocking (std) and async (Tokio).
//!
//! The programs follow "A practical introduction to async programming in
//! Rust" (James McMurray, 2020): an echo server that holds each connection
//! 8 units before echoing, and clients that run three tasks of connect
//! (2 units), request and wait for the echo, compute (4 units, a blocking
//! sleep) in the article's five ways. A unit is the article's second
//! unless `--unit` says otherwise. Each task prints the article's lines,
//! which asynctrace's `cmd/diagram -printed` draws. With `--record FILE`
//! the tasks record their stages for asynctrace's client (module record).

use std::error::Error;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::exit;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub mod record;

/// A task's result; errors cross threads in the spawned and parallel runs.
pub type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

/// The command line shared by the programs.
pub struct Options {
    /// The echo server: where the clients connect, where the server listens.
    pub addr: String,
    /// The unit: connect 2, compute 4, the server's delay 8.
    pub unit: Duration,
    /// How many tasks a client runs.
    pub tasks: usize,
    /// Tokio worker threads (the spawning client), or rayon threads.
    pub threads: Option<usize>,
    /// Where the run is recorded (`--record FILE`): None for the article's
    /// program as it is.
    pub recorder: Option<record::Recorder>,
}

impl Options {
    /// Parses the program's arguments; on a bad one, says what is wrong
    /// and how to call it, and exits 2. `threads` names the option for
    /// the thread count, where the program has one.
    pub fn from_args(program: &str, summary: &str, threads: Option<&str>, tasks: usize) -> Options {
        let mut o = Options {
            addr: "127.0.0.1:6142".to_string(),
            unit: Duration::from_secs(1),
            tasks,
            threads: None,
            recorder: None,
        };
        let usage = || {
            let mut u = format!(
                "usage: {program} [--addr HOST:PORT] [--unit DURATION] [--tasks N]"
            );
            if let Some(t) = threads {
                u += &format!(" [--{t} N]");
            }
            u += " [--record FILE]";
            format!("{summary}\n{u}\n  --addr   the echo server (default 127.0.0.1:6142)\n  --unit   the unit, as 1s, 50ms (default 1s: the article's seconds)\n  --tasks  how many tasks (default {tasks})\n  --record record each task's stages, threads and the echo's arrival into FILE, for asynctrace's client")
        };
        let fail = |msg: String| -> ! {
            eprintln!("{program}: {msg}\n{}", usage());
            exit(2)
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            if arg == "-h" || arg == "--help" {
                println!("{}", usage());
                exit(0);
            }
            let mut value = || args.next().unwrap_or_else(|| fail(format!("{arg} needs a value")));
            match arg.as_str() {
                "--addr" => o.addr = value(),
                "--unit" => {
                    let v = value();
                    o.unit = parse_duration(&v).unwrap_or_else(|| fail(format!("--unit {v}: want a duration such as 1s or 50ms")));
                }
                "--tasks" => {
                    let v = value();
                    o.tasks = v.parse().ok().filter(|&n| n > 0).unwrap_or_else(|| fail(format!("--tasks {v}: want a positive number")));
                }
                a if threads.is_some_and(|t| a == format!("--{t}")) => {
                    let v = value();
                    o.threads = Some(v.parse().ok().filter(|&n| n > 0).unwrap_or_else(|| fail(format!("{a} {v}: want a positive number"))));
                }
                "--record" => o.recorder = Some(record::Recorder::new(value())),
                _ => fail(format!("unknown argument {arg}")),
            }
        }
        o
    }

    /// The tasks' labels: task1, task2, …
    pub fn labels(&self) -> Vec<String> {
        (1..=self.tasks).map(|i| format!("task{i}")).collect()
    }

    /// Connecting: 2 units.
    pub fn connect(&self) -> Duration {
        self.unit * 2
    }

    /// The computation: 4 units.
    pub fn compute(&self) -> Duration {
        self.unit * 4
    }

    /// The server's delay: 8 units.
    pub fn delay(&self) -> Duration {
        self.unit * 8
    }
}

/// Reads 1s, 1.5s, 50ms, 500us or 800µs.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix("us").or_else(|| s.strip_suffix("µs")) {
        (n, 1e-6)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else {
        return None;
    };
    let v: f64 = num.parse().ok()?;
    (v > 0.0 && v.is_finite()).then(|| Duration::from_secs_f64(v * scale))
}

/// Prints one of the article's lines: the OS thread, the task, what just
/// happened and when, since the run began.
pub fn line(label: &str, what: &str, start: Instant) {
    println!(
        "OS Thread {:?} - {} {}: {:?}",
        std::thread::current().id(),
        label,
        what,
        start.elapsed()
    );
}

/// The article's task with the standard library: every wait blocks the
/// OS thread.
pub fn task_blocking(label: &str, start: Instant, o: &Options) -> Result<()> {
    line(label, "started", start);
    std::thread::sleep(o.connect());

    let mut stream = TcpStream::connect(&o.addr)?;
    stream.write_all(label.as_bytes())?;
    line(label, "written", start);

    let mut echo = vec![0; label.len()];
    stream.read_exact(&mut echo)?;
    stream.shutdown(Shutdown::Both)?;
    line(label, "read", start);

    std::thread::sleep(o.compute());
    line(std::str::from_utf8(&echo)?, "finished", start);
    Ok(())
}

/// The article's async task: connecting and waiting for the echo yield
/// the thread; the computation, `std::thread::sleep`, blocks it.
pub async fn task(label: String, start: Instant, o: std::sync::Arc<Options>) -> Result<()> {
    line(&label, "started", start);
    tokio::time::sleep(o.connect()).await;

    let mut stream = tokio::net::TcpStream::connect(&o.addr).await?;
    stream.write_all(label.as_bytes()).await?;
    line(&label, "written", start);

    let mut echo = vec![0; label.len()];
    stream.read_exact(&mut echo).await?;
    stream.shutdown().await?;
    line(&label, "read", start);

    std::thread::sleep(o.compute());
    line(std::str::from_utf8(&echo)?, "finished", start);
    Ok(())
}

/// The run begins: now, noted by the recorder if there is one, with the
/// threads the program's runtime or pool runs its tasks on.
/// at_once: the program creates all its tasks now (else one after
/// another).
pub fn begin(program: &str, o: &Options, threads: usize, at_once: bool) -> Instant {
    if let Some(r) = &o.recorder {
        r.begin(program, o, threads, record::Point::now(), at_once);
    }
    Instant::now()
}

/// Task i (1-based) of the async clients: the article's, or recorded.
pub async fn run_task(i: usize, label: String, start: Instant, o: std::sync::Arc<Options>) -> Result<()> {
    if o.recorder.is_some() {
        record::task(i, label, start, o, record::Compute::Block).await
    } else {
        task(label, start, o).await
    }
}

/// Task i (1-based) of the blocking clients: the article's, or recorded.
pub fn run_task_blocking(i: usize, label: &str, start: Instant, o: &Options) -> Result<()> {
    if o.recorder.is_some() {
        record::task_blocking(i, label, start, o)
    } else {
        task_blocking(label, start, o)
    }
}

/// The threads a Tokio runtime of the given workers has: Tokio's default
/// is one per core.
pub fn workers(threads: Option<usize>) -> usize {
    threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Ends a client: writes its record, if asked to; 0 if every task
/// succeeded, else each error on stderr and exit 1.
pub fn finish(program: &str, o: &Options, results: Vec<Result<()>>) {
    if let Some(r) = &o.recorder {
        if let Err(e) = r.write(record::Point::now()) {
            eprintln!("{program}: writing the record: {e}");
            exit(1);
        }
    }
    let failed: Vec<_> = results.into_iter().filter_map(|r| r.err()).collect();
    for e in &failed {
        eprintln!("{program}: {e}");
    }
    if !failed.is_empty() {
        exit(1);
    }
}
