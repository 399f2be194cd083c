//! `windlass-netem`: a TCP proxy that adds a delay each way and caps the
//! bandwidth, for benchmarks that should see a network, not loopback.
//!
//! ```text
//! windlass-netem --upstream 127.0.0.1:8081 [--listen 127.0.0.1:0] [--delay 25ms] [--rate 200mbit]
//! ```
//!
//! Prints the port it listens on (one line on stdout) once it accepts
//! connections; on SIGINT or SIGTERM prints what went through it on stderr
//! and exits.

use std::net::SocketAddr;
use std::process::ExitCode;

use windlass_testkit::netem::{Netem, NetemConfig, parse_delay, parse_rate};

const USAGE: &str = "usage: windlass-netem --upstream HOST:PORT [--listen ADDR:PORT] [--delay 25ms] [--rate 200mbit]";

struct Args {
    listen: SocketAddr,
    upstream: String,
    config: NetemConfig,
}

fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut upstream = None;
    let mut config = NetemConfig::default();
    while let Some(flag) = argv.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (flag, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| argv.next())
                .ok_or_else(|| format!("`{name}` needs a value"))
        };
        match name.as_str() {
            "--listen" => {
                let text = value()?;
                listen = text
                    .parse()
                    .map_err(|_| format!("`--listen {text}` is not an ADDRESS:PORT"))?;
            }
            "--upstream" => upstream = Some(value()?),
            "--delay" => {
                let text = value()?;
                config.delay = parse_delay(&text)
                    .ok_or_else(|| format!("`--delay {text}` is not a delay like 25ms"))?;
            }
            "--rate" => {
                let text = value()?;
                config.rate = parse_rate(&text)
                    .ok_or_else(|| format!("`--rate {text}` is not a rate like 200mbit"))?;
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let upstream = upstream.ok_or_else(|| "`--upstream` is required".to_owned())?;
    Ok(Args {
        listen,
        upstream,
        config,
    })
}

#[allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a standalone test tool: its port on stdout, its counts on stderr"
)]
#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("error: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let netem = match Netem::start(args.listen, &args.upstream, args.config).await {
        Ok(netem) => netem,
        Err(error) => {
            eprintln!("error: cannot listen on {}: {error}", args.listen);
            return ExitCode::from(2);
        }
    };
    println!("{}", netem.addr().port());
    let Ok(mut terminate) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    else {
        eprintln!("error: cannot handle SIGTERM");
        return ExitCode::from(2);
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    let stats = netem.stats();
    eprintln!(
        "windlass-netem: {} connections, {} bytes up, {} bytes down",
        stats.connections, stats.bytes_up, stats.bytes_down
    );
    ExitCode::SUCCESS
}
