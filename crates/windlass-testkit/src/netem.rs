//! A TCP proxy that makes loopback behave like a network: each chunk is
//! released a fixed delay after it was read (order kept), and each
//! direction shares one bandwidth cap across all connections, as a link
//! does. It counts connections and bytes, so a test can check how many
//! connections a run opened without timing anything.
//!
//! Benchmarks start it through the `windlass-netem` binary; tests use
//! [`Netem::start`].

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// Bytes read per chunk.
const CHUNK: usize = 64 * 1024;

/// How far the cap may send ahead of the clock: a token bucket this many
/// milliseconds of the rate deep. Timers wake up to a millisecond late;
/// without this slack every late wake-up would be lost link time.
const BURST: Duration = Duration::from_millis(5);

/// How the proxy shapes traffic; the same each way.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NetemConfig {
    /// Added to every chunk, each way.
    pub delay: Duration,
    /// Bits per second, each way, shared by all connections; `None` for
    /// no cap.
    pub rate: Option<u64>,
}

impl NetemConfig {
    /// A CI runner talking to PyPI: 25 ms each way, 200 Mbit/s.
    pub const CI_TO_PYPI: Self = Self {
        delay: Duration::from_millis(25),
        rate: Some(200_000_000),
    };
}

/// What went through the proxy so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetemStats {
    /// Connections accepted.
    pub connections: u64,
    /// Bytes from clients to the upstream.
    pub bytes_up: u64,
    /// Bytes from the upstream to clients.
    pub bytes_down: u64,
    /// Time the cap spent sending the upstream bytes (bytes / rate): the
    /// link's accounting, not a clock reading.
    pub paced_up: Duration,
    /// The same for the downstream bytes.
    pub paced_down: Duration,
}

/// A running proxy; stops (with every connection) when dropped.
#[derive(Debug)]
pub struct Netem {
    addr: SocketAddr,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

impl Netem {
    /// Listens on `listen` (port 0 for a free one) and forwards every
    /// connection to `upstream` (`HOST:PORT`).
    pub async fn start(
        listen: SocketAddr,
        upstream: &str,
        config: NetemConfig,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let up = Arc::new(Direction::new(config));
        let down = Arc::new(Direction::new(config));
        let upstream = upstream.to_owned();
        let shared = Arc::clone(&counters);
        let task = tokio::spawn(async move {
            // Dropped with the task: every connection ends with the proxy.
            let mut connections = JoinSet::new();
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                shared.connections.fetch_add(1, Ordering::Relaxed);
                let (upstream, up, down, counters) = (
                    upstream.clone(),
                    Arc::clone(&up),
                    Arc::clone(&down),
                    Arc::clone(&shared),
                );
                connections.spawn(async move {
                    let _ = relay(client, &upstream, &up, &down, &counters).await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(Self {
            addr,
            counters,
            task,
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stats(&self) -> NetemStats {
        let c = &self.counters;
        NetemStats {
            connections: c.connections.load(Ordering::Relaxed),
            bytes_up: c.bytes_up.load(Ordering::Relaxed),
            bytes_down: c.bytes_down.load(Ordering::Relaxed),
            paced_up: Duration::from_nanos(c.paced_up.load(Ordering::Relaxed)),
            paced_down: Duration::from_nanos(c.paced_down.load(Ordering::Relaxed)),
        }
    }
}

impl Drop for Netem {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A duration as `25ms`, `1.5s`, `200us` or `0`.
pub fn parse_delay(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let (number, scale) = [("us", 1e-6), ("ms", 1e-3), ("s", 1.0)]
        .into_iter()
        .find_map(|(unit, scale)| text.strip_suffix(unit).map(|n| (n, scale)))?;
    let value: f64 = number.trim().parse().ok()?;
    (value.is_finite() && value >= 0.0).then(|| Duration::from_secs_f64(value * scale))
}

/// A rate in bits per second, as tc writes it: `200mbit`, `1gbit`,
/// `500kbit`, `64bit`; `none` or `0` for no cap.
pub fn parse_rate(text: &str) -> Option<Option<u64>> {
    let text = text.trim().to_ascii_lowercase();
    if text == "none" || text == "0" {
        return Some(None);
    }
    let (number, scale) = [("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3), ("bit", 1.0)]
        .into_iter()
        .find_map(|(unit, scale)| text.strip_suffix(unit).map(|n| (n, scale)))?;
    let value: f64 = number.trim().parse().ok()?;
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a positive, finite rate well below u64::MAX"
    )]
    let bits = (value * scale).round() as u64;
    (value.is_finite() && bits > 0).then_some(Some(bits))
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    paced_up: AtomicU64,
    paced_down: AtomicU64,
}

/// One direction of the link: its delay and its cap.
#[derive(Debug)]
struct Direction {
    delay: Duration,
    rate: Option<u64>,
    /// When the link is free to send again.
    busy_until: Mutex<Instant>,
}

impl Direction {
    fn new(config: NetemConfig) -> Self {
        Self {
            delay: config.delay,
            rate: config.rate,
            busy_until: Mutex::new(Instant::now()),
        }
    }

    /// Waits until `n` bytes have gone through the cap (after whatever
    /// other connections sent before); returns the time they took, in
    /// nanoseconds.
    async fn pace(&self, n: usize) -> u64 {
        let Some(rate) = self.rate else {
            return 0;
        };
        #[allow(
            clippy::cast_precision_loss,
            reason = "chunk sizes and rates are far below 2^52"
        )]
        let seconds = (n as f64 * 8.0) / rate as f64;
        let took = Duration::from_secs_f64(seconds);
        let done = {
            let mut busy = self
                .busy_until
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            let start = (*busy).max(now.checked_sub(BURST).unwrap_or(now));
            *busy = start + took;
            *busy
        };
        tokio::time::sleep_until(done).await;
        u64::try_from(took.as_nanos()).unwrap_or(u64::MAX)
    }
}

/// Which counters a pipe adds to.
#[derive(Clone, Copy)]
enum Way {
    Up,
    Down,
}

async fn relay(
    client: TcpStream,
    upstream: &str,
    up: &Direction,
    down: &Direction,
    counters: &Counters,
) -> io::Result<()> {
    let server = TcpStream::connect(upstream).await?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        pipe(client_read, server_write, up, counters, Way::Up),
        pipe(server_read, client_write, down, counters, Way::Down),
    );
    Ok(())
}

/// Copies one way: a reader that paces each chunk through the cap and
/// stamps it with its release time, and a writer that sends each chunk at
/// its time, in order. The end of input is passed on as a shutdown.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    way: &Direction,
    counters: &Counters,
    which: Way,
) {
    let (bytes, paced) = match which {
        Way::Up => (&counters.bytes_up, &counters.paced_up),
        Way::Down => (&counters.bytes_down, &counters.paced_down),
    };
    let (chunks, mut released) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            paced.fetch_add(way.pace(n).await, Ordering::Relaxed);
            let at = Instant::now() + way.delay;
            if chunks.send((at, buf[..n].to_vec())).is_err() {
                break;
            }
        }
    };
    let writer = async move {
        while let Some((at, chunk)) = released.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
            bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::{TcpListener, TcpStream};

    use super::{Netem, NetemConfig, parse_delay, parse_rate};

    /// An echo server: every connection gets back what it sends, then EOF.
    async fn echo() -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut read, mut write) = stream.into_split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                    let _ = write.shutdown().await;
                });
            }
        });
        addr
    }

    /// Sends `data` through a connection, half-closes, reads until EOF.
    async fn round_trip(addr: std::net::SocketAddr, data: &[u8]) -> Vec<u8> {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut read, mut write) = stream.into_split();
        let payload = data.to_vec();
        let sender = tokio::spawn(async move {
            write.write_all(&payload).await.unwrap();
            write.shutdown().await.unwrap();
        });
        let mut back = Vec::new();
        read.read_to_end(&mut back).await.unwrap();
        sender.await.unwrap();
        back
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| u8::try_from((i * 31 + i / 7) % 251).unwrap())
            .collect()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn bytes_arrive_intact_in_order_and_are_counted() {
        let upstream = echo().await;
        let config = NetemConfig {
            delay: Duration::from_millis(5),
            rate: Some(100_000_000),
        };
        let netem = Netem::start(
            "127.0.0.1:0".parse().unwrap(),
            &upstream.to_string(),
            config,
        )
        .await
        .unwrap();
        let sent = data(1_000_000);
        let back = round_trip(netem.addr(), &sent).await;
        assert!(back == sent, "the echo differs from what was sent");
        let stats = netem.stats();
        assert_eq!(stats.connections, 1, "{stats:?}");
        assert_eq!(stats.bytes_up, 1_000_000, "{stats:?}");
        assert_eq!(stats.bytes_down, 1_000_000, "{stats:?}");
        // 8 Mbit each way through a 100 Mbit/s cap: 80 ms of the link's
        // time by its own accounting (rounded per chunk).
        for paced in [stats.paced_up, stats.paced_down] {
            let micros = paced.as_micros();
            assert!((79_990..=80_010).contains(&micros), "{stats:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn connections_are_counted_and_concurrent_ones_stay_apart() {
        let upstream = echo().await;
        let netem = Netem::start(
            "127.0.0.1:0".parse().unwrap(),
            &upstream.to_string(),
            NetemConfig {
                delay: Duration::from_millis(1),
                rate: None,
            },
        )
        .await
        .unwrap();
        let addr = netem.addr();
        let runs: Vec<_> = (0..4u8)
            .map(|i| {
                tokio::spawn(async move {
                    let sent: Vec<u8> = data(100_000).into_iter().map(|b| b ^ i).collect();
                    let back = round_trip(addr, &sent).await;
                    back == sent
                })
            })
            .collect();
        for run in runs {
            assert!(run.await.unwrap(), "a connection got another's bytes");
        }
        let stats = netem.stats();
        assert_eq!(stats.connections, 4, "{stats:?}");
        assert_eq!(stats.bytes_up, 400_000, "{stats:?}");
        assert_eq!(stats.bytes_down, 400_000, "{stats:?}");
        assert_eq!(
            stats.paced_up,
            Duration::ZERO,
            "no cap, no pacing: {stats:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_upstream_that_is_down_closes_the_connection() {
        let dead = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let netem = Netem::start(
            "127.0.0.1:0".parse().unwrap(),
            &dead.to_string(),
            NetemConfig::default(),
        )
        .await
        .unwrap();
        // The proxy closes the connection: an end of file, or a reset when
        // it closed while our bytes were unread. Nothing comes back.
        let mut stream = TcpStream::connect(netem.addr()).await.unwrap();
        let _ = stream.write_all(b"hello").await;
        let mut back = Vec::new();
        match stream.read_to_end(&mut back).await {
            Ok(_) => assert!(back.is_empty(), "{back:?}"),
            Err(error) => assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset),
        }
        // At least ours: another test on this machine that probes a port
        // it believes dead may have picked the proxy's.
        assert!(netem.stats().connections >= 1);
        assert_eq!(netem.stats().bytes_up, 0);
    }

    #[test]
    fn delays_and_rates_parse_as_tc_writes_them() {
        let delays: Vec<String> = ["25ms", "1.5s", "200us", "0", "0ms", "25", "-1ms", "fast"]
            .iter()
            .map(|t| format!("{t} -> {:?}", parse_delay(t)))
            .collect();
        assert_eq!(
            delays,
            [
                "25ms -> Some(25ms)",
                "1.5s -> Some(1.5s)",
                "200us -> Some(200µs)",
                "0 -> Some(0ns)",
                "0ms -> Some(0ns)",
                "25 -> None",
                "-1ms -> None",
                "fast -> None",
            ]
        );
        let rates: Vec<String> = [
            "200mbit", "1gbit", "500kbit", "64bit", "2.5Mbit", "none", "0", "10mb", "mbit",
        ]
        .iter()
        .map(|t| format!("{t} -> {:?}", parse_rate(t)))
        .collect();
        assert_eq!(
            rates,
            [
                "200mbit -> Some(Some(200000000))",
                "1gbit -> Some(Some(1000000000))",
                "500kbit -> Some(Some(500000))",
                "64bit -> Some(Some(64))",
                "2.5Mbit -> Some(Some(2500000))",
                "none -> Some(None)",
                "0 -> Some(None)",
                "10mb -> None",
                "mbit -> None",
            ]
        );
    }
}
