//! Credentials never follow a redirect to another origin: every kind of
//! credential header and every kind of body, against every redirect status,
//! for both redirect policies. Every server listens on loopback; a second
//! port is a second origin.

#![allow(clippy::unwrap_used, reason = "test helpers panic on failed setup")]

mod support;

use std::fmt::Write as _;

use windlass_http::{ErrorKind, Idempotency, Method, Policy, Redirects, RequestBuilder, multipart};

use crate::support::{FaultServer, OK, Reply, client, config};

const SECRET: &str = "CANARY-cr0ss-0rigin-s3cret";

/// A request kind that carries [`SECRET`] somewhere.
#[derive(Clone, Copy, Debug)]
enum Carrier {
    Basic,
    Bearer,
    VaultToken,
    Cookie,
    CustomHeader,
    JsonBody,
    FormBody,
    Multipart,
    StreamBody,
}

const CARRIERS: [Carrier; 9] = [
    Carrier::Basic,
    Carrier::Bearer,
    Carrier::VaultToken,
    Carrier::Cookie,
    Carrier::CustomHeader,
    Carrier::JsonBody,
    Carrier::FormBody,
    Carrier::Multipart,
    Carrier::StreamBody,
];

impl Carrier {
    fn has_body(self) -> bool {
        matches!(
            self,
            Self::JsonBody | Self::FormBody | Self::Multipart | Self::StreamBody
        )
    }

    fn method(self) -> Method {
        if self.has_body() {
            Method::POST
        } else {
            Method::GET
        }
    }

    fn apply(self, request: RequestBuilder) -> RequestBuilder {
        match self {
            Self::Basic => request.basic_auth("user", Some(SECRET)),
            Self::Bearer => request.bearer_auth(SECRET),
            Self::VaultToken => request.header("X-Vault-Token", SECRET),
            Self::Cookie => request.header("Cookie", format!("session={SECRET}")),
            Self::CustomHeader => request.header("X-Registry-Auth", SECRET),
            Self::JsonBody => request.json(&serde_json::json!({ "secret_id": SECRET })),
            Self::FormBody => request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("password={SECRET}")),
            Self::Multipart => request.multipart(
                multipart::Form::new()
                    .text(":action", "file_upload")
                    .text("token", SECRET),
            ),
            Self::StreamBody => request.body(windlass_http::Body::wrap_stream(
                futures_util::stream::iter([Ok::<_, std::io::Error>(SECRET.as_bytes().to_vec())]),
            )),
        }
    }
}

/// Whether a recorded request shows the secret in any form: plain or base64
/// (a Basic header).
fn leaks(seen: &support::Seen) -> bool {
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("user:{SECRET}"));
    let head = &seen.head;
    let body = String::from_utf8_lossy(&seen.body);
    head.contains(SECRET) || head.contains(&basic) || body.contains(SECRET)
}

const STATUSES: [u16; 5] = [301, 302, 303, 307, 308];

#[tokio::test]
async fn same_origin_policy_never_contacts_the_other_origin() {
    let mut report = String::new();
    for carrier in CARRIERS {
        for code in STATUSES {
            let elsewhere = FaultServer::start(vec![OK]).await;
            let origin = FaultServer::start(vec![Reply::Redirect {
                code,
                location: elsewhere.url("/moved").expose().to_string(),
            }])
            .await;
            let error = client(&config())
                .send_with(
                    carrier.method(),
                    &origin.url("/v1/secret/data/app"),
                    Policy::NON_IDEMPOTENT,
                    |request| carrier.apply(request),
                )
                .await
                .unwrap_err();
            assert_eq!(
                error.kind(),
                ErrorKind::CrossOriginRedirect,
                "{carrier:?} {code}"
            );
            assert_eq!(error.attempts(), 1, "a refused redirect is not retried");
            assert!(
                elsewhere.seen().is_empty(),
                "{carrier:?} {code}: the other origin was contacted"
            );
            assert_eq!(origin.seen().len(), 1);
            let text = format!("{error}\n  hint: {}", error.hint().unwrap())
                .replace(&origin.addr.port().to_string(), "[ORIGIN]")
                .replace(&elsewhere.addr.port().to_string(), "[OTHER]");
            assert!(!text.contains(SECRET));
            writeln!(report, "{carrier:?} {code}: {text}").unwrap();
        }
    }
    insta::assert_snapshot!(report);
}

#[tokio::test]
async fn download_policy_follows_without_any_credential() {
    let mut outcomes = Vec::new();
    for carrier in CARRIERS {
        for code in STATUSES {
            let elsewhere = FaultServer::start(vec![OK]).await;
            let origin = FaultServer::start(vec![Reply::Redirect {
                code,
                location: elsewhere.url("/cdn/file.whl").expose().to_string(),
            }])
            .await;
            let policy = Policy {
                idempotency: Idempotency::NonIdempotent,
                redirects: Redirects::WithoutCredentials,
                ..Policy::default()
            };
            let result = client(&config())
                .send_with(
                    carrier.method(),
                    &origin.url("/files/file.whl"),
                    policy,
                    |request| carrier.apply(request),
                )
                .await;
            let seen = elsewhere.seen();
            assert!(
                !seen.iter().any(leaks),
                "{carrier:?} {code}: the secret reached the other origin"
            );
            let outcome = match result {
                Ok(response) => {
                    assert_eq!(response.status(), 200);
                    assert_eq!(seen.len(), 1);
                    let request_line = seen[0].head.lines().next().unwrap().to_owned();
                    // Nothing but what every request carries.
                    for header in seen[0].head.lines().skip(1).filter(|l| !l.is_empty()) {
                        let name = header.split(':').next().unwrap().to_ascii_lowercase();
                        assert!(
                            ["host", "user-agent", "accept", "accept-encoding"]
                                .contains(&name.as_str()),
                            "{carrier:?} {code}: unexpected header {header}"
                        );
                    }
                    assert!(seen[0].body.is_empty());
                    format!("followed as {request_line}")
                }
                Err(error) => {
                    assert_eq!(error.kind(), ErrorKind::CrossOriginRedirect);
                    assert!(seen.is_empty());
                    "refused".to_owned()
                }
            };
            outcomes.push(format!("{carrier:?} {code}: {outcome}"));
        }
    }
    insta::assert_snapshot!(outcomes.join("\n"));
}

#[tokio::test]
async fn same_origin_redirects_keep_credentials_and_bodies_as_http_says() {
    let mut outcomes = Vec::new();
    for carrier in [Carrier::VaultToken, Carrier::JsonBody] {
        for code in STATUSES {
            let server = FaultServer::start(vec![
                Reply::Redirect {
                    code,
                    location: "/v1/other".to_owned(),
                },
                OK,
            ])
            .await;
            let response = client(&config())
                .send_with(
                    carrier.method(),
                    &server.url("/v1/path"),
                    Policy::NON_IDEMPOTENT,
                    |request| carrier.apply(request),
                )
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let seen = server.seen();
            assert_eq!(seen.len(), 2);
            let second = &seen[1];
            let request_line = second.head.lines().next().unwrap().to_owned();
            outcomes.push(format!(
                "{carrier:?} {code}: {request_line}, secret {}",
                if leaks(second) { "kept" } else { "dropped" }
            ));
        }
    }
    insta::assert_snapshot!(outcomes.join("\n"));
}

#[tokio::test]
async fn once_stripped_a_chain_never_gets_credentials_back() {
    let origin = FaultServer::start(vec![OK]).await;
    let cdn = FaultServer::start(vec![Reply::Redirect {
        code: 302,
        location: origin.url("/back").expose().to_string(),
    }])
    .await;
    // The first hop is served by a third server so that the origin sees
    // only the request that comes back.
    let first = FaultServer::start(vec![Reply::Redirect {
        code: 302,
        location: cdn.url("/cdn").expose().to_string(),
    }])
    .await;
    let response = client(&config())
        .send_with(
            Method::GET,
            &first.url("/file"),
            Policy::DOWNLOAD,
            |request| Carrier::Bearer.apply(request),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        leaks(&first.seen()[0]),
        "the first request carries the token"
    );
    assert!(!cdn.seen().iter().any(leaks));
    assert!(!origin.seen().iter().any(leaks));
}

#[tokio::test]
async fn another_host_on_the_same_port_is_another_origin() {
    let server = FaultServer::start(vec![OK]).await;
    let port = server.addr.port();
    let other = FaultServer::start(vec![Reply::Redirect {
        code: 307,
        location: format!("http://localhost:{port}/v1/next"),
    }])
    .await;
    let error = client(&config())
        .send(Method::GET, &other.url("/v1/start"), |request| {
            Carrier::VaultToken.apply(request)
        })
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::CrossOriginRedirect);
    assert!(server.seen().is_empty());
}

#[tokio::test]
async fn redirect_loops_end() {
    let server = FaultServer::start(vec![Reply::Redirect {
        code: 302,
        location: "/again".to_owned(),
    }])
    .await;
    let error = client(&config())
        .send(Method::GET, &server.url("/start"), |request| request)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Redirect);
    assert_eq!(server.seen().len(), 11);
}
