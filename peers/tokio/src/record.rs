//! A run recorded for asynctrace (`--record FILE`).
//!
//! Asked to record, each task notes when each of its stages began and
//! ended (wall clock, nanoseconds since the Unix epoch), the OS thread it
//! ran on at each of those points (gettid), and when the kernel received
//! the echo (`SO_TIMESTAMPNS` on the socket); it sends asynctrace's request
//! preamble with a W3C `traceparent` of ids chosen here, so that
//! asynctrace's server makes its `echo` span a child of the task's
//! `response`. At the end the records go to FILE, one JSON object a line;
//! asynctrace's client (`client -runtime tokio`) reads them and makes the
//! run's spans with the code that makes its own. The format is described
//! in asynctrace's docs/trace.md, "Tokio's runs".
//!
//! Not asked to record, nothing here runs: the programs print the
//! article's lines and nothing else.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::io::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncWriteExt, Interest};

use crate::{line, Options, Result};

/// The version of the record format, the first line's `version`.
pub const VERSION: u32 = 1;

/// The version of Tokio the programs were built with (build.rs reads it
/// from Cargo.lock).
pub const TOKIO_VERSION: &str = env!("ASYNCTRACE_TOKIO_VERSION");

/// A moment of a task: when (wall clock, ns) and on which OS thread.
#[derive(Clone, Copy)]
pub struct Point {
    pub ns: i64,
    pub thread: i64,
}

impl Point {
    /// Now, on the calling thread.
    pub fn now() -> Point {
        Point { ns: wall_ns(), thread: gettid() }
    }
}

fn wall_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

fn gettid() -> i64 {
    // SAFETY: gettid has no preconditions.
    i64::from(unsafe { libc::gettid() })
}

/// Random bytes as lowercase hex, never all zero (W3C trace context
/// forbids an all-zero id).
fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    loop {
        // SAFETY: b is n writable bytes.
        let got = unsafe { libc::getrandom(b.as_mut_ptr().cast(), n, 0) };
        if got == n as isize && b.iter().any(|&x| x != 0) {
            break;
        }
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// How a task computes: the article's blocking sleep, or (the C10k client)
/// an awaited one.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Compute {
    Block,
    Sleep,
}

/// What a recording run keeps until it writes FILE: kept in memory, so
/// that recording costs the run no I/O.
pub struct Recorder {
    path: String,
    trace_id: String,
    lines: Mutex<Vec<String>>,
    head: Mutex<Option<String>>,
    /// When each task was created: all at the run's start where the
    /// program creates them at once, else as each begins.
    created: Mutex<Vec<Option<Point>>>,
}

impl Recorder {
    /// A recorder that will write to path, with a trace id of its own.
    pub fn new(path: String) -> Recorder {
        Recorder { path, trace_id: random_hex(16), lines: Mutex::new(Vec::new()), head: Mutex::new(None), created: Mutex::new(Vec::new()) }
    }

    /// Notes the run: which program, how many tasks, the unit, the threads
    /// its runtime (or pool) has, and its start; with at_once, every task
    /// is created now, in order, as asynctrace's client creates its tasks
    /// before any runs.
    pub fn begin(&self, program: &str, o: &Options, threads: usize, start: Point, at_once: bool) {
        *self.created.lock().unwrap() = if at_once { created_in_order(o.tasks, start) } else { vec![None; o.tasks] };
        *self.head.lock().unwrap() = Some(format!(
            "{{\"record\":\"run\",\"version\":{VERSION},\"program\":\"{program}\",\"runtime\":\"tokio\",\"runtime_version\":\"{TOKIO_VERSION}\",\"tasks\":{},\"unit_ns\":{},\"threads\":{threads},\"trace_id\":\"{}\",\"start_ns\":{},\"thread\":{}}}",
            o.tasks,
            o.unit.as_nanos(),
            self.trace_id,
            start.ns,
            start.thread
        ));
    }

    fn push(&self, l: String) {
        self.lines.lock().unwrap().push(l);
    }

    /// One of the article's moments (started, written, read, finished).
    pub fn event(&self, task: usize, name: &str) {
        let p = Point::now();
        self.push(format!("{{\"record\":\"event\",\"task\":{task},\"event\":\"{name}\",\"at_ns\":{},\"thread\":{}}}", p.ns, p.thread));
    }

    /// A stage, from start to end; extra is more JSON members, each
    /// beginning with a comma.
    pub fn stage(&self, task: usize, stage: &str, start: Point, end: Point, extra: &str) {
        self.push(format!(
            "{{\"record\":\"stage\",\"task\":{task},\"stage\":\"{stage}\",\"start_ns\":{},\"end_ns\":{},\"thread\":{},\"thread_end\":{}{extra}}}",
            start.ns, end.ns, start.thread, end.thread
        ));
    }

    /// When task i was created: now, unless it already was.
    fn create(&self, task: usize) -> Point {
        let mut c = self.created.lock().unwrap();
        match c.get(task - 1).copied().flatten() {
            Some(p) => p,
            None => {
                let p = Point::now();
                if let Some(slot) = c.get_mut(task - 1) {
                    *slot = Some(p);
                }
                p
            }
        }
    }

    /// A task's end, with its error if it failed; it began when it was
    /// created.
    pub fn done(&self, task: usize, err: Option<&str>) {
        let start = self.create(task);
        let p = Point::now();
        let err = err.map_or(String::new(), |e| format!(",\"error\":\"{}\"", json_escape(e)));
        self.push(format!(
            "{{\"record\":\"task\",\"task\":{task},\"start_ns\":{},\"end_ns\":{},\"thread\":{},\"thread_end\":{}{err}}}",
            start.ns, p.ns, start.thread, p.thread
        ));
    }

    /// Writes the records: the run first, then what the tasks recorded,
    /// then the run's end.
    pub fn write(&self, end: Point) -> io::Result<()> {
        let mut w = BufWriter::new(File::create(&self.path)?);
        if let Some(h) = self.head.lock().unwrap().as_ref() {
            writeln!(w, "{h}")?;
        }
        for l in self.lines.lock().unwrap().iter() {
            writeln!(w, "{l}")?;
        }
        writeln!(w, "{{\"record\":\"end\",\"end_ns\":{},\"peak_rss_bytes\":{}}}", end.ns, peak_rss())?;
        w.flush()
    }

    /// The request's preamble, carrying span as the parent of the
    /// server's spans.
    fn preamble(&self, span: &str) -> Vec<u8> {
        format!("ASYNCTRACE/1\r\ntraceparent: 00-{}-{span}-01\r\n\r\n", self.trace_id).into_bytes()
    }
}

/// n tasks created one after another from after start, each in a later
/// microsecond than the one before: trace views keep microseconds, and
/// list tasks created in one microsecond in no particular order. Waits
/// at most a microsecond a task.
fn created_in_order(n: usize, start: Point) -> Vec<Option<Point>> {
    let mut last = start.ns / 1000;
    (0..n)
        .map(|_| {
            let mut p = Point::now();
            while p.ns / 1000 <= last {
                std::hint::spin_loop();
                p = Point::now();
            }
            last = p.ns / 1000;
            Some(p)
        })
        .collect()
}

/// This process's peak resident memory (VmHWM), in bytes; 0 where /proc
/// does not say. Read by the process itself: a parent's rusage of its
/// child counts the parent's memory at the fork (or the vfork) too.
pub fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok()))
        .map_or(0, |kb| kb * 1024)
}

fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Asks the kernel to stamp the data arriving on fd (SO_TIMESTAMPNS).
fn stamp_arrivals(fd: RawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: a valid socket and a c_int option value.
    let r = unsafe {
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, (&on as *const libc::c_int).cast(), std::mem::size_of::<libc::c_int>() as libc::socklen_t)
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// One recvmsg into buf: the bytes read, and the kernel's receive
/// timestamp of them (ns since the epoch) where it gave one.
fn recv_stamped(fd: RawFd, buf: &mut [u8]) -> io::Result<(usize, Option<i64>)> {
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    let mut control = [0u64; 8]; // aligned room for one timespec's cmsg
    // SAFETY: msghdr is plain data; zeroed is its empty value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: msg points at live buffers of the sizes it says.
    let n = unsafe { libc::recvmsg(fd, &mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut stamp = None;
    // SAFETY: the CMSG macros walk the control buffer recvmsg filled.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                stamp = Some(ts.tv_sec * 1_000_000_000 + ts.tv_nsec);
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok((n as usize, stamp))
}

/// The echo as it comes in: asynctrace's server's reply preamble, then the
/// label. Echo::more says whether it needs more bytes.
#[derive(Default)]
struct Echo {
    buf: Vec<u8>,
    arrived: Option<i64>,
    hold_ns: Option<i64>,
    wait_ns: Option<i64>,
}

const MAGIC: &[u8] = b"ASYNCTRACE/1\r\n";

impl Echo {
    fn add(&mut self, b: &[u8], stamp: Option<i64>) {
        self.buf.extend_from_slice(b);
        if stamp.is_some() {
            self.arrived = stamp;
        }
    }

    /// Whether the echo of label is all there; an error if it cannot be.
    /// A plain echo server sends the request's preamble back: read past
    /// it too.
    fn complete(&mut self, label: &[u8]) -> Result<bool> {
        let mut at = 0;
        if self.buf.len() < MAGIC.len() && MAGIC.starts_with(&self.buf) && !label.starts_with(&self.buf) {
            return Ok(false); // a preamble's beginning, so far
        }
        if self.buf.starts_with(MAGIC) {
            match find(&self.buf, b"\r\n\r\n") {
                None => return Ok(false),
                Some(end) => {
                    let head = String::from_utf8_lossy(&self.buf[MAGIC.len()..end]).into_owned();
                    for h in head.split("\r\n") {
                        if let Some((k, v)) = h.split_once(':') {
                            match k.trim() {
                                "asynctrace-hold-ns" => self.hold_ns = v.trim().parse().ok(),
                                "asynctrace-wait-ns" => self.wait_ns = v.trim().parse().ok(),
                                _ => {}
                            }
                        }
                    }
                    at = end + 4;
                }
            }
        }
        let echo = &self.buf[at..];
        if echo.len() < label.len() {
            return Ok(false);
        }
        if echo != label {
            return Err(format!("echoed {:?}, want {:?}", String::from_utf8_lossy(echo), String::from_utf8_lossy(label)).into());
        }
        Ok(true)
    }

    /// The response stage's extra members, and its end: the kernel's
    /// stamp of the echo, or the clock where there was none (or it was
    /// later than the clock read after it: never trust a stamp from the
    /// future).
    fn response(&self, span: &str, ran: Point) -> (String, Point) {
        let (end, how) = match self.arrived {
            Some(ns) if ns <= ran.ns => (ns, "kernel"),
            _ => (ran.ns, "clock"),
        };
        let mut extra = format!(",\"span_id\":\"{span}\",\"arrival\":\"{how}\"");
        if let (Some(h), Some(w)) = (self.hold_ns, self.wait_ns) {
            extra += &format!(",\"hold_ns\":{h},\"wait_ns\":{w}");
        }
        (extra, Point { ns: end, thread: ran.thread })
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One task being recorded: each of its moments prints the article's line,
/// where the program prints them, and is recorded.
struct Recording<'a> {
    rec: &'a Recorder,
    i: usize,
    label: &'a str,
    start: Instant,
    lines: bool,
}

impl Recording<'_> {
    fn moment(&self, what: &str) {
        if self.lines {
            line(self.label, what, self.start);
        }
        self.rec.event(self.i, what);
    }

    /// The request: the preamble carrying span, then the label.
    fn request(&self, span: &str) -> Vec<u8> {
        let mut req = self.rec.preamble(span);
        req.extend_from_slice(self.label.as_bytes());
        req
    }

    /// The echo is read and the connection shut: the response, from r0
    /// to the echo's arrival, and the ready time until now.
    fn echoed(&self, span: &str, r0: Point, echo: &Echo) {
        let ran = Point::now();
        let (extra, arrived) = echo.response(span, ran);
        self.rec.stage(self.i, "response", r0, arrived, &extra);
        self.rec.stage(self.i, "ready", Point { ns: arrived.ns, thread: ran.thread }, ran, "");
        self.moment("read");
    }
}

const CLOSED: &str = "the server closed the connection before echoing";

/// The article's async task, recorded: its stages as asynctrace's client
/// runs them (connect, response, ready, compute), the article's lines as
/// well (but for the C10k client's, which prints none).
pub async fn task(i: usize, label: String, start: Instant, o: Arc<Options>, compute: Compute) -> Result<()> {
    let rec = o.recorder.as_ref().expect("a recording run");
    rec.create(i);
    let t = Recording { rec, i, label: &label, start, lines: compute == Compute::Block };
    let r: Result<()> = async {
        t.moment("started");
        let c0 = Point::now();
        tokio::time::sleep(o.connect()).await;
        let mut stream = tokio::net::TcpStream::connect(&o.addr).await?;
        stamp_arrivals(stream.as_raw_fd())?;
        rec.stage(i, "connect", c0, Point::now(), "");

        let span = random_hex(8);
        let r0 = Point::now();
        stream.write_all(&t.request(&span)).await?;
        t.moment("written");

        let mut echo = Echo::default();
        let mut buf = [0u8; 512];
        while !echo.complete(label.as_bytes())? {
            stream.readable().await?;
            match stream.try_io(Interest::READABLE, || recv_stamped(stream.as_raw_fd(), &mut buf)) {
                Ok((0, _)) => return Err(CLOSED.into()),
                Ok((n, stamp)) => echo.add(&buf[..n], stamp),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e.into()),
            }
        }
        stream.shutdown().await?;
        t.echoed(&span, r0, &echo);

        let k0 = Point::now();
        match compute {
            Compute::Block => std::thread::sleep(o.compute()),
            Compute::Sleep => tokio::time::sleep(o.compute()).await,
        }
        rec.stage(i, "compute", k0, Point::now(), "");
        t.moment("finished");
        Ok(())
    }
    .await;
    rec.done(i, r.as_ref().err().map(|e| e.to_string()).as_deref());
    r
}

/// The article's blocking task, recorded as `task` is.
pub fn task_blocking(i: usize, label: &str, start: Instant, o: &Options) -> Result<()> {
    let rec = o.recorder.as_ref().expect("a recording run");
    rec.create(i);
    let t = Recording { rec, i, label, start, lines: true };
    let r = (|| -> Result<()> {
        t.moment("started");
        let c0 = Point::now();
        std::thread::sleep(o.connect());
        let mut stream = TcpStream::connect(&o.addr)?;
        stamp_arrivals(stream.as_raw_fd())?;
        rec.stage(i, "connect", c0, Point::now(), "");

        let span = random_hex(8);
        let r0 = Point::now();
        stream.write_all(&t.request(&span))?;
        t.moment("written");

        let mut echo = Echo::default();
        let mut buf = [0u8; 512];
        while !echo.complete(label.as_bytes())? {
            match recv_stamped(stream.as_raw_fd(), &mut buf) {
                Ok((0, _)) => return Err(CLOSED.into()),
                Ok((n, stamp)) => echo.add(&buf[..n], stamp),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        }
        stream.shutdown(Shutdown::Both)?;
        t.echoed(&span, r0, &echo);

        let k0 = Point::now();
        std::thread::sleep(o.compute());
        rec.stage(i, "compute", k0, Point::now(), "");
        t.moment("finished");
        Ok(())
    })();
    rec.done(i, r.as_ref().err().map(|e| e.to_string()).as_deref());
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// asynctrace's server answers with a preamble of its own, then the
    /// label: read past it, keeping what it says of its hold.
    #[test]
    fn echo_after_the_servers_preamble() {
        let mut e = Echo::default();
        let reply = b"ASYNCTRACE/1\r\nasynctrace-hold-ns: 400\r\nasynctrace-wait-ns: 390\r\n\r\ntask1";
        for (k, chunk) in reply.chunks(7).enumerate() {
            assert!(!e.complete(b"task1").unwrap(), "complete before the label came");
            e.add(chunk, Some(1_000 + k as i64));
        }
        assert!(e.complete(b"task1").unwrap());
        assert_eq!((e.hold_ns, e.wait_ns, e.arrived), (Some(400), Some(390), Some(1_000 + (reply.len() / 7) as i64)));
    }

    /// A plain echo server sends the request's preamble back, then the
    /// label; a wrong echo is an error, not a wait for more.
    #[test]
    fn plain_and_wrong_echoes() {
        let rec = Recorder::new(String::new());
        let mut plain = Echo::default();
        plain.add(&rec.preamble("0102030405060708"), None);
        assert!(!plain.complete(b"task2").unwrap());
        plain.add(b"task2", None);
        assert!(plain.complete(b"task2").unwrap());
        assert_eq!(plain.hold_ns, None);

        let mut wrong = Echo::default();
        wrong.add(b"task9", None);
        assert!(wrong.complete(b"task2").is_err());
    }

    /// The response ends at the kernel's stamp, unless there was none or
    /// it lies after the clock read when the read returned.
    #[test]
    fn response_end() {
        let ran = Point { ns: 2_000, thread: 7 };
        let mut e = Echo::default();
        e.add(b"x", Some(1_500));
        let (extra, end) = e.response("ab", ran);
        assert_eq!((end.ns, end.thread), (1_500, 7));
        assert!(extra.contains("\"arrival\":\"kernel\""), "{extra}");
        e.add(b"y", Some(2_500)); // from the future
        assert_eq!(e.response("ab", ran).1.ns, 2_000);
        assert!(Echo::default().response("ab", ran).0.contains("\"arrival\":\"clock\""));
    }

    #[test]
    fn ids_are_hex_and_never_zero() {
        for n in [8, 16] {
            let id = random_hex(n);
            assert_eq!(id.len(), 2 * n);
            assert!(id.chars().all(|c| c.is_ascii_hexdigit()) && id.chars().any(|c| c != '0'));
        }
    }
}
