//! C10k with Tokio: N tasks spawned at once, each connect (2 units), the
//! echo (8 units on the server), then a compute that yields, as
//! `tokio::time::sleep` (4 units): what the runtime costs, without the
//! article's lines. Prints one JSON line: the makespan, how many tasks
//! failed, and the process's peak resident memory (VmHWM, read by the
//! process itself: a parent's getrusage would count its own memory at the
//! fork too).

use std::sync::Arc;

use asynctrace_tokio_peer::record::{self, peak_rss, Compute, Point};
use asynctrace_tokio_peer::{begin, workers, Options, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn task(label: String, o: Arc<Options>) -> Result<()> {
    tokio::time::sleep(o.connect()).await;
    let mut stream = tokio::net::TcpStream::connect(&o.addr).await?;
    stream.write_all(label.as_bytes()).await?;
    let mut echo = vec![0; label.len()];
    stream.read_exact(&mut echo).await?;
    stream.shutdown().await?;
    if echo != label.as_bytes() {
        return Err(format!("{label}: echoed {:?}", String::from_utf8_lossy(&echo)).into());
    }
    tokio::time::sleep(o.compute()).await;
    Ok(())
}

fn main() {
    let o = Arc::new(Options::from_args("client_many", "C10k with Tokio: many tasks at once, the compute as tokio::time::sleep; prints one JSON line.", Some("workers"), 10000));
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = o.threads {
        b.worker_threads(n);
    }
    let rt = b.enable_all().build().expect("a Tokio runtime");
    let (makespan, errors) = rt.block_on(async {
        let start = begin("client_many", &o, workers(o.threads), true);
        let handles: Vec<_> = o
            .labels()
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                let o = o.clone();
                tokio::spawn(async move {
                    if o.recorder.is_some() {
                        record::task(i + 1, l, start, o, Compute::Sleep).await
                    } else {
                        task(l, o).await
                    }
                })
            })
            .collect();
        let mut errors = Vec::new();
        for h in handles {
            match h.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => errors.push(e.to_string()),
                Err(e) => errors.push(e.to_string()),
            }
        }
        (start.elapsed(), errors)
    });
    if let Some(r) = &o.recorder {
        if let Err(e) = r.write(Point::now()) {
            eprintln!("client_many: writing the record: {e}");
            std::process::exit(1);
        }
    }
    for e in errors.iter().take(5) {
        eprintln!("client_many: {e}");
    }
    println!(
        "{{\"runtime\":\"tokio\",\"tasks\":{},\"workers\":{},\"unit_ms\":{},\"makespan_ms\":{:.3},\"failed\":{},\"peak_rss_bytes\":{}}}",
        o.tasks,
        o.threads.map_or("null".to_string(), |n| n.to_string()),
        o.unit.as_secs_f64() * 1e3,
        makespan.as_secs_f64() * 1e3,
        errors.len(),
        peak_rss()
    );
    if !errors.is_empty() {
        std::process::exit(1);
    }
}
