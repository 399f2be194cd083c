use std::fmt;

use url::Url;

/// Query parameters whose values are credentials or signatures (compared
/// case-insensitively): pre-signed object-store URLs, OAuth and token query
/// strings.
const SENSITIVE_QUERY_KEYS: &[&str] = &[
    "access_token",
    "api_key",
    "apikey",
    "auth",
    "client_secret",
    "code",
    "credential",
    "id_token",
    "key",
    "password",
    "refresh_token",
    "secret",
    "sig",
    "signature",
    "token",
    "x-amz-credential",
    "x-amz-security-token",
    "x-amz-signature",
    "x-goog-credential",
    "x-goog-signature",
    "x-ms-signature",
];

/// Usernames that are protocol conventions rather than identities, and so
/// are safe to show.
const PUBLIC_USERNAMES: &[&str] = &["__token__", "oauth2accesstoken", "x-access-token"];

/// A URL that is safe to print.
///
/// `Display` and `Debug` hide the password, a username that stands alone (it
/// is often a token), and the values of query parameters that carry
/// credentials or signatures. The full URL is available through
/// [`RedactedUrl::expose`] for the request itself.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RedactedUrl(Url);

impl RedactedUrl {
    pub fn new(url: Url) -> Self {
        Self(url)
    }

    /// Parses a URL; the error never contains the input.
    pub fn parse(input: &str) -> Result<Self, url::ParseError> {
        Url::parse(input).map(Self)
    }

    /// The URL with its credentials, for sending a request only.
    pub fn expose(&self) -> &Url {
        &self.0
    }

    pub fn into_exposed(self) -> Url {
        self.0
    }

    /// The URL as it may be printed.
    pub fn to_display_url(&self) -> Url {
        let mut url = self.0.clone();
        let has_password = url.password().is_some();
        let username = url.username().to_owned();
        if has_password {
            let _ = url.set_password(Some(crate::MASK));
        }
        if !username.is_empty() && !PUBLIC_USERNAMES.contains(&username.as_str()) && !has_password {
            let _ = url.set_username(crate::MASK);
        }
        if url.query().is_some() {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| {
                    let hidden = SENSITIVE_QUERY_KEYS
                        .iter()
                        .any(|s| k.eq_ignore_ascii_case(s));
                    let value = if hidden {
                        crate::MASK.to_owned()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), value)
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        url
    }
}

impl From<Url> for RedactedUrl {
    fn from(url: Url) -> Self {
        Self(url)
    }
}

impl fmt::Display for RedactedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The whole rendering also passes the redactor, in case a registered
        // secret sits in the path (some indexes take tokens there).
        let shown = self.to_display_url();
        f.write_str(&crate::global().redact(shown.as_str()))
    }
}

impl fmt::Debug for RedactedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedactedUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::RedactedUrl;

    fn check(input: &str) -> String {
        RedactedUrl::parse(input).unwrap().to_string()
    }

    #[test]
    fn table() {
        let cases = [
            "https://upload.example.org/legacy/",
            "https://user:pa55word@index.example.org/simple/",
            "https://__token__:pypi-AgEIcHlwaS5vcmc@upload.example.org/legacy/",
            "https://ghp_abcdefghijklmnop@git.example.org/repo.git",
            "https://x-access-token:ghs_abc@git.example.org/repo.git",
            "https://bucket.s3.example.com/obj?X-Amz-Credential=AKIA%2F20260101&X-Amz-Signature=deadbeef&X-Amz-Expires=300",
            "https://storage.example.com/o?x-goog-signature=abc&alt=media",
            "https://blob.example.net/c/b?sv=2020&sig=c2VjcmV0&se=2026",
            "http://127.0.0.1:8200/v1/auth/jwt/login?token=eyJabc&role=release",
            "http://127.0.0.1:5000/v2/repo/blobs/uploads/abc?_state=xyz",
        ];
        let rendered: Vec<String> = cases.iter().map(|c| check(c)).collect();
        insta::assert_debug_snapshot!(rendered);
    }

    #[test]
    fn debug_matches_display() {
        let url = RedactedUrl::parse("https://u:p4ss@h.example/").unwrap();
        assert_eq!(format!("{url:?}"), "RedactedUrl(https://u:****@h.example/)");
        assert_eq!(url.expose().password(), Some("p4ss"));
    }
}
