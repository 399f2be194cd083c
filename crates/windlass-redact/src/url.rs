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

/// A lone username at least this long is taken for a token and registered
/// with the redactor; a shorter one (`reader`, `ci`) would mask ordinary
/// words everywhere. Either way `Display` hides it.
const TOKEN_USERNAME_MIN_LEN: usize = 16;

/// A URL that is safe to print.
///
/// `Display` and `Debug` hide the password, a username that stands alone (it
/// is often a token), and the values of query parameters that carry
/// credentials or signatures. The full URL is available through
/// [`RedactedUrl::expose`] for the request itself.
///
/// Making one registers its password (as written and percent-decoded) and a
/// token-like lone username with the [global redactor](crate::global), so
/// the credential stays hidden wherever else it shows up (a server echoing
/// it, a child printing its URL).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RedactedUrl(Url);

impl RedactedUrl {
    pub fn new(url: Url) -> Self {
        register_userinfo(&url);
        Self(url)
    }

    /// Parses a URL; the error never contains the input.
    pub fn parse(input: &str) -> Result<Self, url::ParseError> {
        Url::parse(input).map(Self::new)
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
        Self::new(url)
    }
}

/// Registers the credentials in a URL's user info with the global redactor.
fn register_userinfo(url: &Url) {
    let redactor = crate::global();
    let username = url.username();
    match url.password() {
        Some(password) => register_with_decoded(redactor, password),
        None if username.len() >= TOKEN_USERNAME_MIN_LEN
            && !PUBLIC_USERNAMES.contains(&username) =>
        {
            register_with_decoded(redactor, username);
        }
        None => {}
    }
}

fn register_with_decoded(redactor: &crate::Redactor, value: &str) {
    redactor.register(value);
    let decoded = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
    if decoded != value {
        redactor.register(&decoded);
    }
}

/// Hides the user info of every URL written in `text` (a configuration
/// value, a TOML array of URLs, a message), whether or not the whole text
/// parses as one: `https://user:pass@host/` becomes `https://user:****@host/`,
/// a lone `https://token@host/` becomes `https://****@host/`. The hidden
/// passwords are registered with the global redactor. Text without `://`
/// and `@` comes back borrowed.
pub fn mask_userinfo(text: &str) -> std::borrow::Cow<'_, str> {
    if !(text.contains("://") && text.contains('@')) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        // The authority ends at the path, query, fragment, or anything that
        // cannot be part of a URL in running text.
        let end = after
            .find(|c: char| {
                matches!(c, '/' | '?' | '#' | '"' | '\'' | '`' | '<' | '>') || c.is_whitespace()
            })
            .unwrap_or(after.len());
        let authority = &after[..end];
        match authority.rfind('@') {
            Some(split) => {
                let userinfo = &authority[..split];
                if let Some((user, password)) = userinfo.split_once(':') {
                    register_with_decoded(crate::global(), password);
                    let user = if PUBLIC_USERNAMES.contains(&user)
                        || user.len() < TOKEN_USERNAME_MIN_LEN
                    {
                        user
                    } else {
                        crate::MASK
                    };
                    out.push_str(user);
                    out.push(':');
                    out.push_str(crate::MASK);
                } else {
                    let public = PUBLIC_USERNAMES.contains(&userinfo);
                    if !public && userinfo.len() >= TOKEN_USERNAME_MIN_LEN {
                        register_with_decoded(crate::global(), userinfo);
                    }
                    out.push_str(if public { userinfo } else { crate::MASK });
                }
                out.push_str(&authority[split..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
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
    fn user_info_in_text_is_masked() {
        let cases = [
            "https://pypi.example.org/simple/",
            "\"http://reader:PASSWORD-in-config@127.0.0.1:8081/simple/\"",
            "[\"https://a:pw1@one.example/\", \"https://two.example/\"]",
            "{ url = \"HTTPS://ci:p%40ss@Index.Example/legacy/\" }",
            "https://ghp_0123456789abcdefghij@git.example.org/repo.git",
            "https://__token__:pypi-AgEIcHlwaS5vcmc@upload.example.org/legacy/",
            "user@example.org is not a url",
            "see https://host.example/a@b for the @ in a path",
        ];
        let rendered: Vec<String> = cases
            .iter()
            .map(|c| format!("{c}\n  -> {}", super::mask_userinfo(c)))
            .collect();
        insta::assert_snapshot!(rendered.join("\n"));
        // The passwords are registered: anywhere else they show, they are
        // masked too.
        let redacted = crate::global().redact("echo PASSWORD-in-config p@ss pw1");
        assert_eq!(redacted, "echo **** **** ****");
    }

    #[test]
    fn making_one_registers_its_password() {
        let url =
            RedactedUrl::parse("https://ci:S3cret%2Fvalue-for-url@index.example/simple/").unwrap();
        assert_eq!(url.to_string(), "https://ci:****@index.example/simple/");
        assert_eq!(
            crate::global().redact("raw S3cret%2Fvalue-for-url decoded S3cret/value-for-url"),
            "raw **** decoded ****"
        );
    }

    #[test]
    fn debug_matches_display() {
        let url = RedactedUrl::parse("https://u:p4ss@h.example/").unwrap();
        assert_eq!(format!("{url:?}"), "RedactedUrl(https://u:****@h.example/)");
        assert_eq!(url.expose().password(), Some("p4ss"));
    }
}
