//! What `phiscan discover` visits: addresses (IPv4, IPv6), CIDR blocks,
//! dash ranges and host names, each with the ports to try, less the
//! `--exclude` blocks; and the shuffled but repeatable order it visits them
//! in ([`Order`]), a keyed permutation of the index space that holds no list
//! of addresses.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};

/// Largest block swept without `--allow-large`: a /16 (IPv4) or /112 (IPv6).
pub const DEFAULT_MAX_ADDRESSES: u64 = 1 << 16;
/// Largest number of addresses swept at all, even with `--allow-large`
/// (a /8): past that a sweep takes days and the order's index space
/// would be all there is to it.
pub const HARD_MAX_ADDRESSES: u64 = 1 << 24;

/// A target that cannot be swept, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid target {target:?}: {message}")]
pub struct TargetError {
    pub target: String,
    pub message: String,
}

fn bad(target: &str, message: impl Into<String>) -> TargetError {
    TargetError {
        target: target.to_string(),
        message: message.into(),
    }
}

/// A run of consecutive addresses of one family, with the ports to try
/// there (`None`: the `--ports` list) and the host name it was given as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub v6: bool,
    /// First address as an integer (IPv4 in the low 32 bits).
    pub start: u128,
    pub len: u64,
    pub port: Option<u16>,
    /// The host name, for a target given by name (one address).
    pub name: Option<String>,
}

impl Range {
    fn end(&self) -> u128 {
        self.start + u128::from(self.len)
    }
}

/// One address to visit, and its ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub ip: IpAddr,
    pub name: Option<String>,
    pub ports: Vec<u16>,
}

impl Host {
    /// How the host is written in a URL: the name if it was given by
    /// name, else the address (IPv6 in brackets).
    pub fn url_host(&self) -> String {
        match (&self.name, self.ip) {
            (Some(n), _) => n.clone(),
            (None, IpAddr::V6(v6)) => format!("[{v6}]"),
            (None, IpAddr::V4(v4)) => v4.to_string(),
        }
    }
}

fn to_ip(v6: bool, n: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(n))
    } else {
        IpAddr::V4(Ipv4Addr::from(n as u32))
    }
}

fn from_ip(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(v4) => (false, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (true, u128::from(v6)),
    }
}

/// Parses one target as written on the command line or in a `--targets`
/// file. `resolve` looks host names up (tests pass their own).
pub fn parse_target(
    s: &str,
    resolve: &dyn Fn(&str) -> Result<IpAddr, String>,
) -> Result<Vec<Range>, TargetError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(bad(s, "empty target"));
    }
    if t.contains("://") {
        return Err(bad(
            s,
            "a URL is not an address to sweep; give the host (host or host:port)",
        ));
    }
    // CIDR block.
    if let Some((addr, bits)) = t.split_once('/') {
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| bad(s, "expected ADDRESS/PREFIX (e.g. 10.20.0.0/22)"))?;
        let bits: u32 = bits
            .parse()
            .map_err(|_| bad(s, "the prefix length is not a number"))?;
        let (v6, n) = from_ip(ip);
        let width = if v6 { 128 } else { 32 };
        if bits > width {
            return Err(bad(s, format!("the prefix length must be 0..={width}")));
        }
        let host_bits = width - bits;
        if host_bits > 63 {
            return Err(bad(s, "the block is far too large to sweep"));
        }
        let len = 1u64 << host_bits;
        let start = n & !(u128::from(len) - 1);
        return Ok(vec![Range {
            v6,
            start,
            len,
            port: None,
            name: None,
        }]);
    }
    // Dash range: a.b.c.d-e.f.g.h, or a.b.c.d-h (last octet).
    if let Some((from, to)) = t.split_once('-') {
        if let Ok(first) = from.parse::<IpAddr>() {
            let last: IpAddr = match (first, to.parse::<IpAddr>(), to.parse::<u8>()) {
                (_, Ok(ip), _) => ip,
                (IpAddr::V4(f), Err(_), Ok(octet)) => {
                    let o = f.octets();
                    IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], octet))
                }
                _ => {
                    return Err(bad(
                        s,
                        "expected FIRST-LAST (e.g. 192.168.5.10-192.168.5.40)",
                    ))
                }
            };
            let (v6a, a) = from_ip(first);
            let (v6b, b) = from_ip(last);
            if v6a != v6b {
                return Err(bad(s, "the two ends are of different address families"));
            }
            if b < a {
                return Err(bad(s, "the range ends before it starts"));
            }
            let len = u64::try_from(b - a + 1).map_err(|_| bad(s, "the range is far too large"))?;
            return Ok(vec![Range {
                v6: v6a,
                start: a,
                len,
                port: None,
                name: None,
            }]);
        }
    }
    // A bare address (IPv6 has colons of its own).
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Ok(vec![single(ip, None, None)]);
    }
    // [v6]:port, address:port, name:port, name.
    let (host, port) = if let Some(rest) = t.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| bad(s, "missing ']' after an IPv6 address"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(parse_port(s, p)?),
            None if after.is_empty() => None,
            None => return Err(bad(s, "expected [ADDRESS]:PORT")),
        };
        (h, port)
    } else {
        match t.rsplit_once(':') {
            Some((h, p)) => (h, Some(parse_port(s, p)?)),
            None => (t, None),
        }
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![single(ip, port, None)]);
    }
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    {
        return Err(bad(s, "not an address, block, range or host name"));
    }
    let ip = resolve(host).map_err(|e| bad(s, e))?;
    Ok(vec![single(ip, port, Some(host.to_string()))])
}

fn single(ip: IpAddr, port: Option<u16>, name: Option<String>) -> Range {
    let (v6, start) = from_ip(ip);
    Range {
        v6,
        start,
        len: 1,
        port,
        name,
    }
}

fn parse_port(target: &str, p: &str) -> Result<u16, TargetError> {
    match p.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(bad(target, "bad port number")),
    }
}

/// Looks a host name up with the system resolver: its first address,
/// IPv4 preferred.
pub fn system_resolve(host: &str) -> Result<IpAddr, String> {
    let addrs: Vec<IpAddr> = (host, 0)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .map(|a| a.ip())
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| format!("{host} has no address"))
}

/// Parses `--ports`: `21,990,2121`, ranges `2100-2130`.
pub fn parse_ports(s: &str) -> Result<Vec<u16>, String> {
    let mut ports = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let one = |p: &str| match p.trim().parse::<u16>() {
            Ok(p) if p > 0 => Ok(p),
            _ => Err(format!("{p:?} is not a port number (1-65535)")),
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (one(a)?, one(b)?);
                if b < a {
                    return Err(format!("{part:?}: the range ends before it starts"));
                }
                ports.extend(a..=b);
            }
            None => ports.push(one(part)?),
        }
    }
    ports.sort_unstable();
    ports.dedup();
    if ports.is_empty() {
        return Err("no port given".into());
    }
    if ports.len() > 64 {
        return Err("at most 64 ports per address".into());
    }
    Ok(ports)
}

/// Everything to visit, in index order (before shuffling): disjoint
/// ranges, excluded blocks taken out.
#[derive(Debug, Clone)]
pub struct Space {
    ranges: Vec<Range>,
    /// Running totals of `len`, for index → range.
    ends: Vec<u64>,
    ports: Vec<u16>,
}

impl Space {
    /// Builds the space. `max_addresses`: refuse more than this many
    /// addresses (see [`DEFAULT_MAX_ADDRESSES`]).
    pub fn new(
        targets: Vec<Range>,
        excludes: &[Range],
        ports: Vec<u16>,
        max_addresses: u64,
    ) -> Result<Space, TargetError> {
        let mut ranges = merge(targets);
        for ex in merge(excludes.to_vec()) {
            ranges = ranges.into_iter().flat_map(|r| subtract(r, &ex)).collect();
        }
        let mut ends = Vec::with_capacity(ranges.len());
        let mut total: u64 = 0;
        for r in &ranges {
            total = total.saturating_add(r.len);
            ends.push(total);
        }
        let limit = max_addresses.min(HARD_MAX_ADDRESSES);
        if total > limit {
            let message = if limit < HARD_MAX_ADDRESSES {
                format!(
                    "{total} addresses to sweep, more than a /16 ({limit}); pass --allow-large \
                     if you mean it (and are allowed to audit all of them)"
                )
            } else {
                format!(
                    "{total} addresses to sweep; at most {HARD_MAX_ADDRESSES} (a /8) in one run"
                )
            };
            return Err(bad("(all targets)", message));
        }
        Ok(Space {
            ranges,
            ends,
            ports,
        })
    }

    /// Number of addresses.
    pub fn len(&self) -> u64 {
        self.ends.last().copied().unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ports tried across all addresses (for the summary).
    pub fn port_count(&self) -> u64 {
        self.ranges
            .iter()
            .map(|r| {
                r.len
                    * if r.port.is_some() {
                        1
                    } else {
                        self.ports.len() as u64
                    }
            })
            .sum()
    }

    /// The `i`th address (`i < len()`) in index order.
    pub fn host(&self, i: u64) -> Option<Host> {
        let at = self.ends.partition_point(|&e| e <= i);
        let r = self.ranges.get(at)?;
        let before = if at == 0 { 0 } else { self.ends[at - 1] };
        let n = r.start + u128::from(i - before);
        Some(Host {
            ip: to_ip(r.v6, n),
            name: r.name.clone(),
            ports: match r.port {
                Some(p) => vec![p],
                None => self.ports.clone(),
            },
        })
    }

    /// A fixed value from the space's contents: the same targets give the
    /// same order, run after run.
    pub fn seed(&self) -> u64 {
        let mut h = 0x9e37_79b9_7f4a_7c15u64;
        for r in &self.ranges {
            h = mix(h ^ (r.start as u64) ^ ((r.start >> 64) as u64).rotate_left(17));
            h = mix(h ^ r.len ^ (u64::from(r.port.unwrap_or(0)) << 48) ^ u64::from(r.v6));
        }
        h
    }
}

/// Sorts and joins ranges of the same family and port (named ones are
/// kept apart: the name goes into the report).
fn merge(mut ranges: Vec<Range>) -> Vec<Range> {
    ranges.sort_by(|a, b| (a.v6, a.port, &a.name, a.start).cmp(&(b.v6, b.port, &b.name, b.start)));
    let mut out: Vec<Range> = Vec::with_capacity(ranges.len());
    for r in ranges {
        if let Some(last) = out.last_mut() {
            if last.v6 == r.v6
                && last.port == r.port
                && last.name.is_none()
                && r.name.is_none()
                && r.start <= last.end()
            {
                let end = last.end().max(r.end());
                last.len = u64::try_from(end - last.start).unwrap_or(u64::MAX);
                continue;
            }
        }
        out.push(r);
    }
    out
}

/// `r` less the addresses in `ex` (any port of `ex` counts: an excluded
/// address is never contacted).
fn subtract(r: Range, ex: &Range) -> Vec<Range> {
    if r.v6 != ex.v6 || ex.end() <= r.start || r.end() <= ex.start {
        return vec![r];
    }
    let mut out = Vec::new();
    if ex.start > r.start {
        out.push(Range {
            len: (ex.start - r.start) as u64,
            ..r.clone()
        });
    }
    if ex.end() < r.end() {
        out.push(Range {
            start: ex.end(),
            len: (r.end() - ex.end()) as u64,
            ..r.clone()
        });
    }
    out
}

/// A 64-bit mixer (the splitmix64 finalizer): every input bit moves every
/// output bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A keyed permutation of `0..n`: a balanced Feistel network over the
/// smallest even-width power of two that holds `n`, with cycle-walking
/// for the values past `n`. Constant memory whatever `n`, and the walk
/// takes fewer than four rounds on average (the domain is under 4n).
#[derive(Debug, Clone)]
pub struct Order {
    n: u64,
    half_bits: u32,
    keys: [u64; 4],
}

impl Order {
    pub fn new(n: u64, seed: u64) -> Order {
        let bits = 64 - n.saturating_sub(1).leading_zeros();
        let half_bits = bits.div_ceil(2).max(1);
        let mut k = seed;
        let keys = [0u64; 4].map(|_| {
            k = mix(k.wrapping_add(0x9e37_79b9_7f4a_7c15));
            k
        });
        Order { n, half_bits, keys }
    }

    fn feistel(&self, x: u64) -> u64 {
        let mask = (1u64 << self.half_bits) - 1;
        let (mut l, mut r) = (x >> self.half_bits, x & mask);
        for key in self.keys {
            let f = mix(r ^ key) & mask;
            (l, r) = (r, l ^ f);
        }
        (l << self.half_bits) | r
    }

    /// The index visited `i`th (`i < n`).
    pub fn at(&self, i: u64) -> u64 {
        let mut x = i;
        loop {
            x = self.feistel(x);
            if x < self.n {
                return x;
            }
        }
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = to_ip(self.v6, self.start);
        if self.len == 1 {
            write!(f, "{first}")
        } else {
            write!(f, "{first}+{}", self.len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn no_dns(h: &str) -> Result<IpAddr, String> {
        match h {
            "nas.clinic.local" => Ok("127.0.0.9".parse().unwrap()),
            _ => Err(format!("cannot resolve {h}")),
        }
    }

    fn space(targets: &[&str], excludes: &[&str]) -> Space {
        let t = targets
            .iter()
            .flat_map(|t| parse_target(t, &no_dns).unwrap())
            .collect();
        let e: Vec<Range> = excludes
            .iter()
            .flat_map(|t| parse_target(t, &no_dns).unwrap())
            .collect();
        Space::new(t, &e, vec![21, 990, 2121], DEFAULT_MAX_ADDRESSES).unwrap()
    }

    fn addrs(s: &Space) -> Vec<String> {
        (0..s.len())
            .map(|i| s.host(i).unwrap().ip.to_string())
            .collect()
    }

    #[test]
    fn blocks_ranges_addresses_and_names() {
        let s = space(&["10.20.0.0/30"], &[]);
        assert_eq!(
            addrs(&s),
            ["10.20.0.0", "10.20.0.1", "10.20.0.2", "10.20.0.3"]
        );
        // A block is aligned to its prefix, as routers read it.
        let s = space(&["10.20.0.7/30"], &[]);
        assert_eq!(addrs(&s)[0], "10.20.0.4");
        let s = space(&["192.168.5.10-192.168.5.12", "192.168.5.40-41"], &[]);
        assert_eq!(
            addrs(&s),
            [
                "192.168.5.10",
                "192.168.5.11",
                "192.168.5.12",
                "192.168.5.40",
                "192.168.5.41"
            ]
        );
        let s = space(&["nas.clinic.local:2121"], &[]);
        let h = s.host(0).unwrap();
        assert_eq!(
            (h.ip.to_string(), h.ports.clone()),
            ("127.0.0.9".into(), vec![2121])
        );
        assert_eq!(h.url_host(), "nas.clinic.local");
        let s = space(&["[::1]:21", "fe80::1"], &[]);
        assert_eq!(s.len(), 2);
        assert_eq!(s.host(1).unwrap().url_host(), "[::1]");
        assert_eq!(s.port_count(), 1 + 3);
        let s = space(&["fd00::/126"], &[]);
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn overlaps_merge_and_excludes_cut() {
        let s = space(&["10.0.0.0/29", "10.0.0.4/30", "10.0.0.8"], &[]);
        assert_eq!(s.len(), 9);
        let s = space(
            &["10.0.0.0/28"],
            &["10.0.0.4/30", "10.0.0.15", "192.168.0.0/16"],
        );
        assert_eq!(s.len(), 11);
        let a = addrs(&s);
        assert!(!a.contains(&"10.0.0.5".to_string()) && !a.contains(&"10.0.0.15".to_string()));
        assert!(a.contains(&"10.0.0.3".to_string()) && a.contains(&"10.0.0.8".to_string()));
    }

    #[test]
    fn bad_targets_say_why() {
        for (t, why) in [
            ("10.0.0.0/33", "prefix length"),
            ("10.0.0.0/x", "not a number"),
            ("10.0.0.9-10.0.0.1", "ends before"),
            ("10.0.0.1-::1", "families"),
            ("host:0", "port"),
            ("ftp://x/", "URL"),
            ("no such host", "not an address"),
            ("unknown.example", "cannot resolve"),
            ("", "empty"),
        ] {
            let e = parse_target(t, &no_dns).unwrap_err();
            assert!(e.message.contains(why), "{t}: {e}");
        }
        assert!(parse_ports("21,x").is_err());
        assert_eq!(parse_ports("2121, 21,21,990").unwrap(), [21, 990, 2121]);
        assert_eq!(parse_ports("2100-2102").unwrap(), [2100, 2101, 2102]);
    }

    #[test]
    fn blocks_larger_than_a_slash_16_need_a_flag() {
        let big = parse_target("10.0.0.0/15", &no_dns).unwrap();
        let e = Space::new(big.clone(), &[], vec![21], DEFAULT_MAX_ADDRESSES).unwrap_err();
        assert!(e.message.contains("--allow-large"), "{e}");
        assert_eq!(
            Space::new(big, &[], vec![21], HARD_MAX_ADDRESSES)
                .unwrap()
                .len(),
            1 << 17
        );
        let huge = parse_target("10.0.0.0/7", &no_dns).unwrap();
        assert!(Space::new(huge, &[], vec![21], u64::MAX).is_err());
        let s = Space::new(
            parse_target("127.0.0.0/16", &no_dns).unwrap(),
            &[],
            vec![21],
            DEFAULT_MAX_ADDRESSES,
        )
        .unwrap();
        assert_eq!(s.len(), 65536);
    }

    #[test]
    fn order_is_a_repeatable_shuffle() {
        for n in [1u64, 2, 3, 5, 31, 32, 1000, 65536, 100_003] {
            let o = Order::new(n, 42);
            let seen: HashSet<u64> = (0..n).map(|i| o.at(i)).collect();
            assert_eq!(seen.len() as u64, n, "n={n}");
            assert!(seen.iter().all(|&x| x < n));
            let again = Order::new(n, 42);
            assert!((0..n.min(100)).all(|i| o.at(i) == again.at(i)));
        }
        // Shuffled: neighbours in the visit order are rarely neighbours in
        // the block (one subnet is not hammered).
        let o = Order::new(65536, 7);
        let adjacent = (1..65536u64)
            .filter(|&i| o.at(i).abs_diff(o.at(i - 1)) < 256)
            .count();
        assert!(adjacent < 65536 / 50, "{adjacent} near neighbours");
        assert_ne!(
            (0..8)
                .map(|i| Order::new(1000, 1).at(i))
                .collect::<Vec<_>>(),
            (0..8)
                .map(|i| Order::new(1000, 2).at(i))
                .collect::<Vec<_>>()
        );
    }
}
