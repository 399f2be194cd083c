//! A pypiserver of a test's own, in its stock configuration (no auth, the
//! fallback to another index on), on a free port; killed when dropped.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Services;

/// A pypiserver started by a test for itself (the shared one of
/// `scripts/services.sh` runs with its fallback off).
#[derive(Debug)]
pub struct StockPypiserver {
    child: Child,
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
}

impl StockPypiserver {
    /// Starts `pypi-server run -a . -P .` (uploads from anyone) serving
    /// `packages`, with `--fallback-url fallback` when given (else
    /// pypiserver's default, the public index), and waits until it listens.
    ///
    /// # Panics
    ///
    /// When pypi-server is not installed or does not listen within 60 s.
    pub fn start(services: &Services, packages: &Path, fallback: Option<&str>) -> Self {
        let state = PathBuf::from(services.var("WINDLASS_TEST_STATE_DIR"));
        let server = state.join("venv-services/bin/pypi-server");
        assert!(
            server.is_file(),
            "pypi-server is missing at {}: run scripts/services.sh install",
            server.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_or_else(|err| panic!("no free port: {err}"), |addr| addr.port());
        std::fs::create_dir_all(packages)
            .unwrap_or_else(|err| panic!("cannot create {}: {err}", packages.display()));
        let mut command = Command::new(server);
        command
            .args(["run", "-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-a", ".", "-P", "."]);
        if let Some(fallback) = fallback {
            command.args(["--fallback-url", fallback]);
        }
        let child = command
            .arg(packages)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start pypi-server: {err}"));
        let server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "pypiserver did not listen on port {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// `http://127.0.0.1:PORT/`, where uploads go.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for StockPypiserver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
