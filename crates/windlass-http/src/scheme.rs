use url::{Host, Url};

use crate::error::ErrorKind;

/// Checks that `url` may be requested: `https`, or plain `http` to a
/// loopback host or to one of `insecure_hosts` (`host` or `host:port`,
/// compared case-insensitively).
pub(crate) fn check(url: &Url, insecure_hosts: &[String]) -> Result<(), ErrorKind> {
    let Some(host) = url.host() else {
        return Err(ErrorKind::InvalidUrl);
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&host) || is_allowed(url, insecure_hosts) => Ok(()),
        "http" => Err(ErrorKind::InsecureScheme),
        _ => Err(ErrorKind::InvalidUrl),
    }
}

/// Whether `host` is a loopback address or `localhost`.
pub(crate) fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
        Host::Domain(name) => {
            let name = name.strip_suffix('.').unwrap_or(name);
            name.eq_ignore_ascii_case("localhost")
        }
    }
}

fn is_allowed(url: &Url, insecure_hosts: &[String]) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let with_port = url
        .port_or_known_default()
        .map(|port| format!("{host}:{port}"));
    insecure_hosts
        .iter()
        .map(|allowed| allowed.trim())
        .any(|allowed| {
            allowed.eq_ignore_ascii_case(host)
                || with_port
                    .as_deref()
                    .is_some_and(|hp| allowed.eq_ignore_ascii_case(hp))
        })
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn table() {
        let allowed = vec![
            "registry.lan".to_owned(),
            "ci.lan:8080".to_owned(),
            "[fd00::1]".to_owned(),
        ];
        let cases = [
            "https://pypi.example.org/simple/",
            "http://127.0.0.1:5000/v2/",
            "http://127.8.9.10/",
            "http://[::1]:8200/v1/",
            "http://localhost:8080/",
            "http://LOCALHOST./",
            "http://localhost.example.org/",
            "http://10.0.0.1/",
            "http://registry.lan/v2/",
            "http://REGISTRY.lan:5000/v2/",
            "http://ci.lan:8080/",
            "http://ci.lan:9090/",
            "http://ci.lan/",
            "http://[fd00::1]/",
            "ftp://127.0.0.1/",
            "file:///etc/passwd",
            "unix:/run/socket",
        ];
        let rendered: Vec<String> = cases
            .iter()
            .map(|case| {
                let url = url::Url::parse(case).unwrap();
                match check(&url, &allowed) {
                    Ok(()) => format!("{case} -> ok"),
                    Err(kind) => format!("{case} -> {kind}"),
                }
            })
            .collect();
        insta::assert_debug_snapshot!(rendered);
    }
}
