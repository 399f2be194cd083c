//! Fixtures the secrets tests share: an OpenBao server of a test's own
//! (for what the shared one must not do: listen on TLS, audit raw, be
//! sealed) and a raw Vault API call.

#![allow(
    dead_code,
    clippy::unwrap_used,
    reason = "shared by several test binaries, each using a part; a broken fixture should panic"
)]

use serde_json::Value;
use windlass_http::{HttpClient, HttpConfig, Method};
use windlass_redact::RedactedUrl;
use windlass_testkit::Services;

/// How an own OpenBao server listens and what it records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OwnMode {
    /// Plain http, nothing recorded.
    Http,
    /// `-dev-tls`: https with a CA of its own, written to `ca_file()`.
    Tls,
    /// Plain http, with every request and response written raw (tokens
    /// included) to `audit_log()`.
    AuditedHttp,
}

/// An OpenBao dev server of the test's own (the shared one stays as it
/// is), killed when dropped.
pub(crate) struct OwnBao {
    pub(crate) addr: String,
    /// Its root token (a canary).
    pub(crate) root: String,
    dir: tempfile::TempDir,
    _server: windlass_process::Running,
}

impl OwnBao {
    pub(crate) async fn start(mode: OwnMode) -> Self {
        let bin = Services::load().bao().bin;
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let dir = tempfile::tempdir().unwrap();
        let root = windlass_testkit::canary("own-root");
        let mut args = vec![
            "server".to_owned(),
            "-dev".to_owned(),
            "-dev-no-store-token".to_owned(),
            format!("-dev-listen-address=127.0.0.1:{port}"),
        ];
        match mode {
            OwnMode::Tls => {
                args.push("-dev-tls".to_owned());
                args.push(format!("-dev-tls-cert-dir={}", dir.path().display()));
            }
            OwnMode::Http => {}
            OwnMode::AuditedHttp => {
                // OpenBao enables audit devices from its configuration only.
                let config = dir.path().join("audit.hcl");
                std::fs::write(
                    &config,
                    format!(
                        "audit \"file\" \"file\" {{\n  options {{\n    file_path = {:?}\n    log_raw = \"true\"\n  }}\n}}\n",
                        dir.path().join("audit.log").display().to_string()
                    ),
                )
                .unwrap();
                args.push(format!("-config={}", config.display()));
            }
        }
        let server = windlass_process::Cmd::new(&bin, dir.path())
            .args(&args)
            .env("BAO_DEV_ROOT_TOKEN_ID", &root)
            .env("HOME", dir.path())
            .stdout(windlass_process::Sink::Null)
            .stderr(windlass_process::Sink::Null)
            .spawn()
            .unwrap();
        let scheme = if mode == OwnMode::Tls {
            "https"
        } else {
            "http"
        };
        let own = Self {
            addr: format!("{scheme}://127.0.0.1:{port}"),
            root,
            dir,
            _server: server,
        };
        for _ in 0..200 {
            if (mode != OwnMode::Tls || own.ca_file().exists())
                && own.call(Method::GET, "sys/health", None, None).await.0 == 200
            {
                return own;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the own openbao server at {} did not start", own.addr);
    }

    pub(crate) fn audit_log(&self) -> std::path::PathBuf {
        self.dir.path().join("audit.log")
    }

    pub(crate) fn ca_file(&self) -> std::path::PathBuf {
        self.dir.path().join("vault-ca.pem")
    }

    /// An API call with the root token, or with `token`.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        Api {
            addr: &self.addr,
            ca_file: self.addr.starts_with("https").then(|| self.ca_file()),
            token: token.unwrap_or(&self.root),
        }
        .call(method, path, body, &[])
        .await
    }

    pub(crate) async fn root(&self, method: Method, path: &str, body: Value) -> Value {
        let (status, answer) = self.call(method, path, Some(body), None).await;
        assert!((200..300).contains(&status), "{path}: {status} {answer}");
        answer
    }
}

/// Where a raw Vault API call goes and with what token.
pub(crate) struct Api<'a> {
    /// `http(s)://127.0.0.1:PORT`.
    pub(crate) addr: &'a str,
    /// The CA of a server on TLS.
    pub(crate) ca_file: Option<std::path::PathBuf>,
    pub(crate) token: &'a str,
}

impl Api<'_> {
    /// `method` on `/v1/{path}` with `headers` and a JSON `body`, sent once:
    /// the status (0 when no answer came) and the JSON answer (`Null` when
    /// it is none).
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let client = HttpClient::new(&HttpConfig {
            max_retries: 0,
            extra_ca_file: self.ca_file.clone(),
            ..HttpConfig::default()
        })
        .unwrap();
        let url = RedactedUrl::parse(&format!("{}/v1/{path}", self.addr)).unwrap();
        let token = self.token;
        let result = client
            .send_with(
                method,
                &url,
                windlass_http::Idempotency::NonIdempotent,
                |mut r| {
                    r = r.header("X-Vault-Token", token);
                    for (name, value) in headers {
                        r = r.header(*name, *value);
                    }
                    if let Some(b) = &body {
                        r = r.json(b);
                    }
                    r
                },
            )
            .await;
        match result {
            Ok(response) => {
                let status = response.status().as_u16();
                #[allow(
                    clippy::disallowed_methods,
                    reason = "a test reads a local server's answer whole"
                )]
                let text = response.text().await.unwrap_or_default();
                (status, serde_json::from_str(&text).unwrap_or(Value::Null))
            }
            Err(e) => (e.status().map_or(0, |s| s.as_u16()), Value::Null),
        }
    }
}
