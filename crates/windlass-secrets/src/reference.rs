//! The one reference syntax: `vault://`, `env://`, `keyring://`, `file://`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use percent_encoding::percent_decode_str;

/// Where a secret lives. A reference is a locator, never a value: it is safe
/// to print.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SecretRef {
    /// `vault://MOUNT/PATH#KEY`, optionally `?kv=1|2` and `?version=N`.
    Vault(VaultRef),
    /// `env://NAME`: an environment variable (a CI secret variable).
    Env(EnvRef),
    /// `keyring://SERVICE/USER`, optionally `?store=secret-service|keyutils`:
    /// the OS keyring.
    Keyring(KeyringRef),
    /// `file://PATH`: the whole content of a file, one trailing newline
    /// removed.
    File(FileRef),
}

/// A key in a Vault/OpenBao KV secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VaultRef {
    /// The full logical path as written, mount included (`secret/ci/pypi`).
    pub path: String,
    /// The key inside the secret (`token`).
    pub key: String,
    /// The KV engine version, when the reference pins it (`?kv=1`);
    /// otherwise it is detected from the mount.
    pub kv: Option<KvVersion>,
    /// A KV v2 version to read (`?version=3`); the latest when absent.
    pub version: Option<u64>,
}

/// The KV secrets engine version of a mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KvVersion {
    V1,
    V2,
}

/// An environment variable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EnvRef {
    pub name: String,
}

/// An entry of the OS keyring.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyringRef {
    pub service: String,
    pub user: String,
    /// The store, when the reference pins one (`?store=keyutils`);
    /// otherwise chosen at run time: the Secret Service when a D-Bus
    /// session bus answers for it, else the kernel keyring.
    pub store: Option<KeyringStore>,
}

/// A keyring store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyringStore {
    /// The freedesktop Secret Service over the D-Bus session bus (GNOME
    /// Keyring, KeePassXC, KWallet): `?store=secret-service`.
    SecretService,
    /// The Linux kernel keyring (keyutils), headless-safe: `?store=keyutils`.
    Keyutils,
}

impl KeyringStore {
    /// The name used in `?store=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SecretService => "secret-service",
            Self::Keyutils => "keyutils",
        }
    }

    /// How messages name it.
    pub fn description(self) -> &'static str {
        match self {
            Self::SecretService => "the secret service",
            Self::Keyutils => "the kernel keyring",
        }
    }
}

/// A file; relative paths are relative to the project directory, `~/`
/// expands to the home directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileRef {
    pub path: PathBuf,
}

/// A reference that could not be parsed. `Display` shows the reason, the
/// reference and a caret under the offending character; it never shows a
/// value that was not a reference at all (it may be a pasted secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ParseError {
    /// What was parsed, or `None` when it must not be echoed.
    input: Option<String>,
    /// Character offset of the caret in `input`.
    column: usize,
    kind: ParseErrorKind,
}

/// Why a reference is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    Empty,
    /// No `scheme://`: a plain value where a secret reference is expected.
    BareValue,
    /// A known scheme followed by `:` but not `://` (`vault:/secret/...`).
    MissingSlashes(String),
    UnknownScheme(String),
    MissingMount,
    MissingPath,
    MissingKey,
    EmptyKey,
    QueryAfterKey,
    UnknownParameter(String),
    BadKvVersion,
    BadVersion,
    BadEnvName,
    MissingService,
    MissingUser,
    /// An option of a `keyring://` reference other than `store`.
    UnknownKeyringParameter(String),
    BadKeyringStore,
    MissingFilePath,
    ControlCharacter,
    BadPercentEncoding,
}

impl ParseError {
    pub fn kind(&self) -> &ParseErrorKind {
        &self.kind
    }

    const VAULT_FORM: &'static str = "write vault://MOUNT/PATH#KEY, e.g. \
        vault://secret/ci/pypi#token; options go before the key: \
        vault://kv/app?kv=1&version=2#token";
    const ENV_FORM: &'static str = "write env://NAME with a variable name like PYPI_TOKEN";
    const KEYRING_FORM: &'static str = "write keyring://SERVICE/USER, e.g. \
        keyring://pypi/__token__; pin the store with ?store=secret-service or ?store=keyutils";
    const FILE_FORM: &'static str =
        "write file://PATH, e.g. file:///run/secrets/token or file://secrets/token";

    /// The expected form for the scheme involved, to show as a hint.
    pub fn expected_form(&self) -> &'static str {
        use ParseErrorKind as K;
        match &self.kind {
            K::MissingSlashes(scheme) if scheme == "vault" => Self::VAULT_FORM,
            K::MissingSlashes(scheme) if scheme == "env" => Self::ENV_FORM,
            K::MissingSlashes(scheme) if scheme == "keyring" => Self::KEYRING_FORM,
            K::MissingSlashes(scheme) if scheme == "file" => Self::FILE_FORM,
            K::Empty
            | K::BareValue
            | K::MissingSlashes(_)
            | K::UnknownScheme(_)
            | K::ControlCharacter => {
                "a secret reference is one of vault://MOUNT/PATH#KEY, env://NAME, \
                 keyring://SERVICE/USER or file://PATH"
            }
            K::MissingMount
            | K::MissingPath
            | K::MissingKey
            | K::EmptyKey
            | K::QueryAfterKey
            | K::UnknownParameter(_)
            | K::BadKvVersion
            | K::BadVersion => Self::VAULT_FORM,
            K::BadEnvName => Self::ENV_FORM,
            K::MissingService
            | K::MissingUser
            | K::BadPercentEncoding
            | K::UnknownKeyringParameter(_)
            | K::BadKeyringStore => Self::KEYRING_FORM,
            K::MissingFilePath => Self::FILE_FORM,
        }
    }

    fn reason(&self) -> String {
        use ParseErrorKind as K;
        match &self.kind {
            K::Empty => "the reference is empty".into(),
            K::BareValue => "a plain value is not a secret reference (the value is not shown in \
                             case it is a secret)"
                .into(),
            K::MissingSlashes(s) => format!("expected `//` after `{s}:`"),
            K::UnknownScheme(s) => format!("unknown scheme `{s}`"),
            K::MissingMount => "expected a mount after `vault://`".into(),
            K::MissingPath => "expected a secret path after the mount".into(),
            K::MissingKey => "expected `#KEY` after the secret path".into(),
            K::EmptyKey => "expected a key name after `#`".into(),
            K::QueryAfterKey => "options (`?...`) must come before `#KEY`".into(),
            K::UnknownParameter(p) => {
                format!("unknown option `{p}` (expected `kv` or `version`)")
            }
            K::BadKvVersion => "`kv` must be 1 or 2".into(),
            K::BadVersion => "`version` must be a positive integer".into(),
            K::BadEnvName => "expected an environment variable name (letters, digits, `_`)".into(),
            K::MissingService => "expected a service name after `keyring://`".into(),
            K::MissingUser => "expected `/USER` after the service".into(),
            K::UnknownKeyringParameter(p) => format!("unknown option `{p}` (expected `store`)"),
            K::BadKeyringStore => "`store` must be `secret-service` or `keyutils`".into(),
            K::MissingFilePath => "expected a path after `file://`".into(),
            K::ControlCharacter => "control characters are not allowed".into(),
            K::BadPercentEncoding => "percent-encoding does not decode to UTF-8".into(),
        }
    }

    fn render(&self) -> String {
        let reason = self.reason();
        match &self.input {
            None => format!("invalid secret reference: {reason}"),
            Some(input) => {
                let shown: String = input
                    .chars()
                    .map(|c| if c.is_control() { '\u{fffd}' } else { c })
                    .collect();
                format!(
                    "invalid secret reference: {reason}\n  {shown}\n  {pad}^",
                    pad = " ".repeat(self.column)
                )
            }
        }
    }
}

const SCHEMES: &[&str] = &["vault", "env", "keyring", "file"];

impl FromStr for SecretRef {
    type Err = ParseError;

    fn from_str(input: &str) -> Result<Self, ParseError> {
        Parser { input }.parse()
    }
}

impl SecretRef {
    /// Parses a reference (see the crate documentation for the forms).
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        input.parse()
    }

    /// The scheme, for reports (`vault`, `env`, `keyring`, `file`).
    pub fn scheme(&self) -> &'static str {
        match self {
            Self::Vault(_) => "vault",
            Self::Env(_) => "env",
            Self::Keyring(_) => "keyring",
            Self::File(_) => "file",
        }
    }
}

struct Parser<'a> {
    input: &'a str,
}

impl Parser<'_> {
    /// An error with the caret at byte offset `at`.
    fn err(&self, at: usize, kind: ParseErrorKind) -> ParseError {
        let column = self.input[..at.min(self.input.len())].chars().count();
        ParseError {
            input: Some(self.input.to_owned()),
            column,
            kind,
        }
    }

    fn parse(&self) -> Result<SecretRef, ParseError> {
        let input = self.input;
        if input.trim().is_empty() {
            return Err(ParseError {
                input: None,
                column: 0,
                kind: ParseErrorKind::Empty,
            });
        }
        let Some((scheme, rest)) = input.split_once("://") else {
            // A known scheme with its slashes mistyped is a reference with a
            // typo, not a value: point at it.
            if let Some(scheme) = SCHEMES
                .iter()
                .find(|s| input.strip_prefix(**s).is_some_and(|r| r.starts_with(':')))
            {
                return Err(self.err(
                    scheme.len() + 1,
                    ParseErrorKind::MissingSlashes((*scheme).to_owned()),
                ));
            }
            return Err(ParseError {
                input: None,
                column: 0,
                kind: ParseErrorKind::BareValue,
            });
        };
        let is_word = !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if !is_word {
            // `://` inside something that is not a scheme: treat as a value.
            return Err(ParseError {
                input: None,
                column: 0,
                kind: ParseErrorKind::BareValue,
            });
        }
        if !SCHEMES.contains(&scheme) {
            // Only the scheme is echoed: the rest may hold credentials
            // (`https://user:token@...`).
            return Err(ParseError {
                input: Some(format!("{scheme}://…")),
                column: 0,
                kind: ParseErrorKind::UnknownScheme(scheme.to_owned()),
            });
        }
        if let Some(pos) = input.find(char::is_control) {
            return Err(self.err(pos, ParseErrorKind::ControlCharacter));
        }
        let start = scheme.len() + 3;
        match scheme {
            "vault" => self.vault(start, rest).map(SecretRef::Vault),
            "env" => self.env(start, rest).map(SecretRef::Env),
            "keyring" => self.keyring(start, rest).map(SecretRef::Keyring),
            _ => self.file(start, rest).map(SecretRef::File),
        }
    }

    fn vault(&self, start: usize, rest: &str) -> Result<VaultRef, ParseError> {
        let (locator, key) = match rest.split_once('#') {
            Some((l, k)) => (l, Some(k)),
            None => (rest, None),
        };
        let (path, query) = match locator.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (locator, None),
        };
        let path_trimmed = path.trim_matches('/');
        let Some((mount, sub)) = path_trimmed.split_once('/') else {
            if path_trimmed.is_empty() {
                return Err(self.err(start, ParseErrorKind::MissingMount));
            }
            return Err(self.err(start + path.len(), ParseErrorKind::MissingPath));
        };
        if mount.is_empty() {
            return Err(self.err(start, ParseErrorKind::MissingMount));
        }
        if sub.trim_matches('/').is_empty() {
            return Err(self.err(start + path.len(), ParseErrorKind::MissingPath));
        }
        let mut kv = None;
        let mut version = None;
        if let Some(query) = query {
            let mut offset = start + path.len() + 1;
            for pair in query.split('&') {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                let value_at = offset + name.len() + 1;
                match name {
                    "kv" => {
                        kv = Some(match value {
                            "1" => KvVersion::V1,
                            "2" => KvVersion::V2,
                            _ => return Err(self.err(value_at, ParseErrorKind::BadKvVersion)),
                        });
                    }
                    "version" => match value.parse::<u64>() {
                        Ok(v) if v > 0 => version = Some(v),
                        _ => return Err(self.err(value_at, ParseErrorKind::BadVersion)),
                    },
                    _ => {
                        return Err(
                            self.err(offset, ParseErrorKind::UnknownParameter(name.to_owned()))
                        );
                    }
                }
                offset += pair.len() + 1;
            }
        }
        let key_at = start + locator.len() + 1;
        let Some(key) = key else {
            return Err(self.err(start + locator.len(), ParseErrorKind::MissingKey));
        };
        if let Some(q) = key.find('?') {
            return Err(self.err(key_at + q, ParseErrorKind::QueryAfterKey));
        }
        if key.is_empty() {
            return Err(self.err(key_at, ParseErrorKind::EmptyKey));
        }
        Ok(VaultRef {
            path: path_trimmed.to_owned(),
            key: key.to_owned(),
            kv,
            version,
        })
    }

    fn env(&self, start: usize, rest: &str) -> Result<EnvRef, ParseError> {
        let bad = rest.char_indices().find(|&(i, c)| {
            !(c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
        });
        match (rest.is_empty(), bad) {
            (true, _) => Err(self.err(start, ParseErrorKind::BadEnvName)),
            (false, Some((i, _))) => Err(self.err(start + i, ParseErrorKind::BadEnvName)),
            (false, None) => Ok(EnvRef {
                name: rest.to_owned(),
            }),
        }
    }

    fn keyring(&self, start: usize, rest: &str) -> Result<KeyringRef, ParseError> {
        let (locator, query) = match rest.split_once('?') {
            Some((l, q)) => (l, Some(q)),
            None => (rest, None),
        };
        let (service, user) = match locator.split_once('/') {
            Some((s, u)) => (s, u),
            None => (locator, ""),
        };
        if service.is_empty() {
            return Err(self.err(start, ParseErrorKind::MissingService));
        }
        if user.is_empty() {
            return Err(self.err(start + locator.len(), ParseErrorKind::MissingUser));
        }
        let decode = |s: &str, at: usize| {
            percent_decode_str(s)
                .decode_utf8()
                .map(std::borrow::Cow::into_owned)
                .map_err(|_| self.err(at, ParseErrorKind::BadPercentEncoding))
        };
        let mut store = None;
        if let Some(query) = query {
            let mut offset = start + locator.len() + 1;
            for pair in query.split('&') {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                if name != "store" {
                    return Err(self.err(
                        offset,
                        ParseErrorKind::UnknownKeyringParameter(name.to_owned()),
                    ));
                }
                store = Some(match value {
                    "secret-service" => KeyringStore::SecretService,
                    "keyutils" => KeyringStore::Keyutils,
                    _ => {
                        return Err(
                            self.err(offset + name.len() + 1, ParseErrorKind::BadKeyringStore)
                        );
                    }
                });
                offset += pair.len() + 1;
            }
        }
        Ok(KeyringRef {
            service: decode(service, start)?,
            user: decode(user, start + service.len() + 1)?,
            store,
        })
    }

    fn file(&self, start: usize, rest: &str) -> Result<FileRef, ParseError> {
        if rest.is_empty() {
            return Err(self.err(start, ParseErrorKind::MissingFilePath));
        }
        Ok(FileRef {
            path: PathBuf::from(rest),
        })
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Vault(v) => {
                write!(f, "vault://{}", v.path)?;
                let mut sep = '?';
                if let Some(kv) = v.kv {
                    write!(f, "{sep}kv={}", if kv == KvVersion::V1 { 1 } else { 2 })?;
                    sep = '&';
                }
                if let Some(version) = v.version {
                    write!(f, "{sep}version={version}")?;
                }
                write!(f, "#{}", v.key)
            }
            Self::Env(e) => write!(f, "env://{}", e.name),
            Self::Keyring(k) => {
                let enc = |s: &str| {
                    percent_encoding::utf8_percent_encode(s, KEYRING_COMPONENT).to_string()
                };
                write!(f, "keyring://{}/{}", enc(&k.service), enc(&k.user))?;
                match k.store {
                    Some(store) => write!(f, "?store={}", store.as_str()),
                    None => Ok(()),
                }
            }
            Self::File(p) => write!(f, "file://{}", p.path.display()),
        }
    }
}

const KEYRING_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b'/')
    .add(b'%')
    .add(b' ')
    .add(b'#')
    .add(b'?');

impl fmt::Display for KvVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V1 => "1",
            Self::V2 => "2",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::SecretRef;

    fn check(input: &str) -> String {
        match SecretRef::parse(input) {
            Ok(r) => format!("ok   {input}\n  -> {r:?}\n  display: {r}"),
            Err(e) => format!("err  {input:?}\n{e}\n  hint: {}", e.expected_form()),
        }
    }

    #[test]
    fn valid() {
        let cases = [
            "vault://secret/ci/pypi#token",
            "vault://secret/ci/pypi?kv=1#token",
            "vault://team/kv/app/db?kv=2&version=3#password",
            "vault:///secret/ci/pypi/#token",
            "env://PYPI_TOKEN",
            "env://_x1",
            "keyring://pypi/__token__",
            "keyring://my%2Fservice/me@example.org",
            "keyring://pypi/__token__?store=secret-service",
            "keyring://pypi/a%3Fb?store=keyutils",
            "file:///run/secrets/token",
            "file://secrets/token",
            "file://~/.config/token",
        ];
        let out: Vec<String> = cases.iter().map(|c| check(c)).collect();
        insta::assert_snapshot!(out.join("\n\n"));
    }

    #[test]
    fn invalid() {
        let cases = [
            "",
            "pypi-AgEIcHlwaS5vcmcCJDEyMzQ",
            "https://user:hunter2@example.org/x",
            "vault:/secret/ci/pypi#token",
            "env:PYPI_TOKEN",
            "vault://",
            "vault://secret",
            "vault://secret/#k",
            "vault://secret/ci/pypi",
            "vault://secret/ci/pypi#",
            "vault://secret/ci/pypi#token?kv=1",
            "vault://secret/ci/pypi?kv=3#token",
            "vault://secret/ci/pypi?version=0#token",
            "vault://secret/ci/pypi?engine=kv#token",
            "env://",
            "env://PYPI-TOKEN",
            "env://1ABC",
            "keyring://",
            "keyring://pypi",
            "keyring://pypi/%ff",
            "keyring://pypi/__token__?store=kwallet",
            "keyring://pypi/__token__?backend=keyutils",
            "keyring://pypi?store=keyutils",
            "file://",
            "vault://sécret/ci#k\u{7}",
        ];
        let out: Vec<String> = cases.iter().map(|c| check(c)).collect();
        insta::assert_snapshot!(out.join("\n\n"));
    }
}
