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
use crate::shard::Shard;
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
    /// The address:port is this shard's (always, unsharded): its rows and
    /// counts are written here.
    pub mine: bool,
}

/// Which address:ports of the sweep this process probes (`--shard I/N`):
/// its own, the shard of `FNV-1a-64(ADDRESS:PORT) mod N` (see
/// [`crate::shard::sweep_key`]); with `learn_others` every other one as
/// well, to learn which servers exist (their rows and counts are another
/// shard's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepPart {
    pub shard: Option<Shard>,
    pub learn_others: bool,
}

impl SweepPart {
    /// Whether `addr` is this shard's.
    pub fn owns(&self, addr: SocketAddr) -> bool {
        self.shard.is_none_or(|s| s.owns_service(addr))
    }

    /// The ports of `host` to probe, each with whether it is this shard's.
    pub fn ports(&self, host: &Host) -> Vec<(u16, bool)> {
        host.ports
            .iter()
            .map(|&p| (p, self.owns(SocketAddr::new(host.ip, p))))
            .filter(|&(_, mine)| mine || self.learn_others)
            .collect()
    }

    /// Whether the address counts in this shard's totals of addresses
    /// (swept, done): in the shard of its first port, so that the shards'
    /// totals add up to one sweep's.
    pub fn counts_address(&self, host: &Host) -> bool {
        host.ports
            .first()
            .is_some_and(|&p| self.owns(SocketAddr::new(host.ip, p)))
    }
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
    part: SweepPart,
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
            let next = next_host.map(|h| {
                let ports = part.ports(&h);
                let counted = part.counts_address(&h);
                (h, ports, counted)
            });
            if let Some((_, ports, _)) = &next {
                if ports.is_empty() {
                    // Another shard's address: nothing to probe here.
                    i += 1;
                    continue;
                }
            }
            let room = next.as_ref().is_some_and(|(_, ports, _)| {
                connections_in_flight == 0
                    || connections_in_flight + ports.len() <= opts.max_in_flight.max(1)
            });
            if let (true, Some((host, ports, counted))) = (room, next) {
                i += 1;
                connections_in_flight += ports.len();
                let (pacer, counts, tx, opts) =
                    (pacer.clone(), counts.clone(), tx.clone(), opts.clone());
                tasks.spawn(async move {
                    let n = ports.len();
                    visit(host, ports, counted, &opts, &pacer, &counts, &tx).await;
                    n
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

/// The `ports` of one address (each with whether it is this shard's, see
/// [`SweepPart`]), one after another (an address's ports are not hit at
/// once). Only this shard's ports, and only its addresses (`counted`),
/// count.
async fn visit(
    host: Host,
    ports: Vec<(u16, bool)>,
    counted: bool,
    opts: &SweepOptions,
    pacer: &Pacer,
    counts: &SweepCounts,
    tx: &tokio::sync::mpsc::UnboundedSender<Open>,
) {
    let count = |c: &AtomicU64, mine: bool| {
        if mine {
            c.fetch_add(1, Ordering::Relaxed);
        }
    };
    for (port, mine) in ports {
        if let Some(slot) = pacer.slot() {
            tokio::time::sleep_until(tokio::time::Instant::from_std(slot)).await;
        }
        let addr = SocketAddr::new(host.ip, port);
        count(&counts.ports_probed, mine);
        match probe(addr, opts).await {
            Some(answer) => {
                count(&counts.ports_open, mine);
                let _ = tx.send(Open {
                    host: host.clone(),
                    addr,
                    answer,
                    mine,
                });
            }
            None => count(&counts.ports_closed, mine),
        }
    }
    count(&counts.addresses_done, counted);
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
    use crate::discover::targets::{parse_target, Space};
    use crate::test_rng::Rng;
    use std::collections::HashMap;

    /// A random sweep: a few blocks, ranges, single addresses (some with
    /// their own port, some IPv6), less a random exclusion, on a random
    /// port list.
    fn random_space(rng: &mut Rng) -> Space {
        let no_names = |_: &str| Err("no names here".to_string());
        let mut ranges = Vec::new();
        for _ in 0..1 + rng.below(4) {
            let (a, b) = (rng.below(256), rng.below(256));
            let t = match rng.below(5) {
                0 => format!("10.{a}.{b}.0/{}", 24 + rng.below(9)),
                1 => format!("192.168.{a}.{}-{}", b / 2, b / 2 + rng.below(100)),
                2 => format!("172.16.{a}.{b}:{}", 1 + rng.below(65535)),
                3 => format!("fd00::{a:x}:{b:x}/{}", 120 + rng.below(9)),
                _ => format!("10.{a}.{b}.7"),
            };
            ranges.extend(parse_target(&t, &no_names).unwrap());
        }
        let excludes = if rng.below(2) == 0 {
            let r = ranges[rng.below(ranges.len())].to_string();
            let first = r.split(['/', '-']).next().unwrap().to_string();
            let first = first
                .rsplit_once(':')
                .filter(|_| !first.contains("::"))
                .map_or(first.clone(), |(a, _)| a.to_string());
            parse_target(&first, &no_names).unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut ports: Vec<u16> = (0..1 + rng.below(6))
            .map(|_| 1 + rng.below(65535) as u16)
            .collect();
        ports.sort_unstable();
        ports.dedup();
        Space::new(ranges, &excludes, ports, u64::MAX).unwrap()
    }

    /// Over random sweeps and shard counts: every address:port is probed
    /// as its own by exactly one shard (learning or not), a shard that does
    /// not learn probes nothing else, and every address counts in exactly
    /// one shard, so the shards' counts add up to one sweep's.
    #[test]
    fn every_address_and_port_lands_in_exactly_one_shard() {
        let mut rng = Rng::new(16);
        for _ in 0..150 {
            let space = random_space(&mut rng);
            let count = 1 + rng.below(9) as u32;
            let learn = rng.below(2) == 0;
            let mut mine: HashMap<SocketAddr, Vec<u32>> = HashMap::new();
            let mut counted: HashMap<std::net::IpAddr, u32> = HashMap::new();
            let mut all = 0u64;
            for index in 0..count {
                let part = SweepPart {
                    shard: Some(Shard { index, count }),
                    learn_others: learn,
                };
                for i in 0..space.len() {
                    let host = space.host(i).unwrap();
                    let probed = part.ports(&host);
                    if learn {
                        assert_eq!(probed.len(), host.ports.len(), "learning probes all");
                    }
                    for (port, own) in probed {
                        assert!(own || learn, "another shard's port probed");
                        if own {
                            mine.entry(SocketAddr::new(host.ip, port))
                                .or_default()
                                .push(index);
                        }
                    }
                    if part.counts_address(&host) {
                        *counted.entry(host.ip).or_default() += 1;
                    }
                }
            }
            for i in 0..space.len() {
                let host = space.host(i).unwrap();
                for &port in &host.ports {
                    all += 1;
                    let owners = mine.get(&SocketAddr::new(host.ip, port));
                    assert_eq!(
                        owners.map_or(0, Vec::len),
                        1,
                        "{}:{port} owned by {owners:?} (N={count})",
                        host.ip
                    );
                }
                assert_eq!(counted.get(&host.ip), Some(&1), "{} counted", host.ip);
            }
            assert_eq!(all, space.port_count());
            assert_eq!(mine.len() as u64, all);
        }
    }

    #[test]
    fn greetings_end_at_their_last_line() {
        assert!(greeting_complete(b"220 ready\r\n"));
        assert!(!greeting_complete(b"220 rea"));
        assert!(!greeting_complete(b"220-Welcome\r\n"));
        assert!(greeting_complete(b"220-Welcome\r\n220 ready\r\n"));
        assert!(greeting_complete(b"SSH-2.0-OpenSSH\r\n"));
    }
}
