//! The connect-and-greeting stage: every address × port in the space, in
//! the shuffled order, at most `rate` new connections a second and
//! `max_in_flight` at once. Runs on one tokio thread: a connection waiting
//! for a greeting costs a socket and a few hundred bytes of task state, so
//! thousands can wait at once where as many OS threads would each want a
//! stack. State is kept only for the addresses in flight.
//!
//! Each port ends as closed (refused, unreachable or no answer to connect),
//! greeted (the server spoke first: FTP if its first line is a reply
//! code), silent (connected, said nothing: maybe implicit TLS) or other.

use super::targets::{Host, Order, Space};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Most bytes of greeting kept.
const MAX_GREETING: usize = 4096;

/// What one port said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A reply-coded greeting (the whole first reply, raw).
    Greeted(Vec<u8>),
    /// Connected; nothing said within the greeting wait.
    Silent,
    /// Something other than an FTP reply (first bytes), or closed at once.
    Other(Vec<u8>),
}

/// An open port and what it said.
#[derive(Clone, Debug)]
pub struct Open {
    pub host: Host,
    pub addr: SocketAddr,
    pub answer: Answer,
}

#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// New connections per second; `None` = as fast as the in-flight
    /// bound allows.
    pub rate: Option<f64>,
    /// Most connections open at once.
    pub max_in_flight: usize,
    pub connect_timeout: Duration,
    /// How long a connected port may stay silent before it counts as
    /// silent (then implicit TLS is tried).
    pub greeting_wait: Duration,
}

/// Counters the sweep keeps (read while it runs, for progress).
#[derive(Debug, Default)]
pub struct SweepCounts {
    pub addresses_done: AtomicU64,
    pub ports_probed: AtomicU64,
    pub ports_open: AtomicU64,
    pub ports_closed: AtomicU64,
}

/// Paces new connections: one every `1/rate` seconds across all tasks.
struct Pacer {
    interval: Option<Duration>,
    next: Mutex<Instant>,
}

impl Pacer {
    fn slot(&self) -> Option<Instant> {
        let interval = self.interval?;
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let slot = (*next).max(now);
        *next = slot + interval;
        Some(slot)
    }
}

/// Sweeps `space` in `order`; calls `found` for every open port (from the
/// sweep thread, as they come). Returns when every address is done or
/// `stop` is set.
pub fn run(
    space: &Space,
    order: &Order,
    opts: &SweepOptions,
    counts: &Arc<SweepCounts>,
    stop: &AtomicBool,
    found: &mut dyn FnMut(Open),
) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    let pacer = Arc::new(Pacer {
        interval: opts
            .rate
            .filter(|r| r.is_finite() && *r > 0.0)
            .map(|r| Duration::from_secs_f64(1.0 / r)),
        next: Mutex::new(Instant::now()),
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Open>();
    rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        let mut connections_in_flight = 0usize;
        let n = space.len();
        let mut i = 0u64;
        loop {
            while let Ok(open) = rx.try_recv() {
                found(open);
            }
            if stop.load(Ordering::SeqCst) {
                tasks.abort_all();
                break;
            }
            let next_host = if i < n { space.host(order.at(i)) } else { None };
            let room = next_host.as_ref().is_some_and(|h| {
                connections_in_flight == 0
                    || connections_in_flight + h.ports.len() <= opts.max_in_flight.max(1)
            });
            if let (true, Some(host)) = (room, next_host) {
                i += 1;
                connections_in_flight += host.ports.len();
                let ports = host.ports.len();
                let (pacer, counts, tx, opts) =
                    (pacer.clone(), counts.clone(), tx.clone(), opts.clone());
                tasks.spawn(async move {
                    visit(host, &opts, &pacer, &counts, &tx).await;
                    ports
                });
                continue;
            }
            if i >= n && tasks.is_empty() {
                break;
            }
            // Wait for an address to finish (or a short while, to look at
            // `stop` and hand on what was found).
            match tokio::time::timeout(Duration::from_millis(50), tasks.join_next()).await {
                Ok(Some(Ok(ports))) => connections_in_flight -= ports,
                Ok(Some(Err(_))) => connections_in_flight = connections_in_flight.saturating_sub(1),
                Ok(None) | Err(_) => {}
            }
        }
    });
    drop(tx);
    while let Ok(open) = rx.try_recv() {
        found(open);
    }
    Ok(())
}

/// Every port of one address, one after another (an address's ports are
/// not hit at once).
async fn visit(
    host: Host,
    opts: &SweepOptions,
    pacer: &Pacer,
    counts: &SweepCounts,
    tx: &tokio::sync::mpsc::UnboundedSender<Open>,
) {
    for &port in &host.ports {
        if let Some(slot) = pacer.slot() {
            tokio::time::sleep_until(tokio::time::Instant::from_std(slot)).await;
        }
        let addr = SocketAddr::new(host.ip, port);
        counts.ports_probed.fetch_add(1, Ordering::Relaxed);
        match probe(addr, opts).await {
            Some(answer) => {
                counts.ports_open.fetch_add(1, Ordering::Relaxed);
                let _ = tx.send(Open {
                    host: host.clone(),
                    addr,
                    answer,
                });
            }
            None => {
                counts.ports_closed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    counts.addresses_done.fetch_add(1, Ordering::Relaxed);
}

/// Connects and listens for a greeting. `None`: closed.
async fn probe(addr: SocketAddr, opts: &SweepOptions) -> Option<Answer> {
    let mut stream = tokio::time::timeout(opts.connect_timeout, TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(256);
    let deadline = tokio::time::Instant::now() + opts.greeting_wait;
    let mut chunk = [0u8; 1024];
    loop {
        let read = tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await;
        match read {
            Err(_) => break,
            Ok(Ok(0)) | Ok(Err(_)) => {
                if buf.is_empty() {
                    return Some(Answer::Other(Vec::new()));
                }
                break;
            }
            Ok(Ok(k)) => {
                buf.extend_from_slice(&chunk[..k]);
                if greeting_complete(&buf) || buf.len() >= MAX_GREETING {
                    break;
                }
            }
        }
    }
    let answer = if buf.is_empty() {
        Answer::Silent
    } else if buf.len() >= 3 && buf[..3].iter().all(u8::is_ascii_digit) {
        let _ = stream.write_all(b"QUIT\r\n").await;
        Answer::Greeted(buf)
    } else {
        buf.truncate(64);
        Answer::Other(buf)
    };
    let _ = stream.shutdown().await;
    Some(answer)
}

/// A whole first reply: its last line is `NNN ` (or `NNN` alone).
fn greeting_complete(buf: &[u8]) -> bool {
    let Some(code) = buf.get(..3) else {
        return false;
    };
    if !code.iter().all(u8::is_ascii_digit) {
        // Not FTP: no need to wait for more.
        return true;
    }
    buf.split(|&b| b == b'\n')
        .filter(|l| l.ends_with(b"\r") || !l.is_empty())
        .any(|l| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            l.starts_with(code) && l.get(3).is_none_or(|&b| b == b' ')
        })
        && buf.ends_with(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greetings_end_at_their_last_line() {
        assert!(greeting_complete(b"220 ready\r\n"));
        assert!(!greeting_complete(b"220 rea"));
        assert!(!greeting_complete(b"220-Welcome\r\n"));
        assert!(greeting_complete(b"220-Welcome\r\n220 ready\r\n"));
        assert!(greeting_complete(b"SSH-2.0-OpenSSH\r\n"));
    }
}
