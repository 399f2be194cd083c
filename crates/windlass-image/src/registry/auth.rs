//! `WWW-Authenticate` challenges and the token protocol of the
//! distribution spec's auth extension (`Bearer realm=,service=,scope=`).

use std::collections::BTreeMap;

/// What a registry asked for in its `WWW-Authenticate` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        /// The scope the registry named (on a 401 for a request whose
        /// scope we did not have, or `insufficient_scope`).
        scope: Option<String>,
    },
}

impl Challenge {
    /// Reads the first challenge of a `WWW-Authenticate` value we can
    /// answer: `Bearer` (with a `realm`) or `Basic`.
    pub fn parse(header: &str) -> Option<Self> {
        let header = header.trim();
        let (scheme, rest) = header
            .split_once(|c: char| c.is_ascii_whitespace())
            .unwrap_or((header, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return Some(Self::Basic);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let params = parse_params(rest);
        let realm = params.get("realm")?.clone();
        Some(Self::Bearer {
            realm,
            service: params.get("service").cloned(),
            scope: params.get("scope").cloned(),
        })
    }
}

/// `key="value", key=token` pairs (keys lower-cased; quoted values may
/// hold commas and `\"`).
fn parse_params(text: &str) -> BTreeMap<String, String> {
    let mut params = BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars
            .peek()
            .is_some_and(|c| c.is_ascii_whitespace() || *c == ',')
        {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if chars.next() != Some('=') {
            return params;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(next) = chars.next() {
                            value.push(next);
                        }
                    }
                    '"' => break,
                    _ => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        params.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
}

/// A token endpoint's answer: `token` or `access_token` (OAuth's name).
#[derive(serde::Deserialize)]
pub(crate) struct TokenAnswer {
    pub token: Option<String>,
    pub access_token: Option<String>,
}

/// The scopes one request needs: `repository:NAME:pull` or
/// `repository:NAME:pull,push`, and for a mount the source's `pull` too.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope(Vec<String>);

impl Scope {
    pub fn pull(repository: &str) -> Self {
        Self(vec![format!("repository:{repository}:pull")])
    }

    pub fn push(repository: &str) -> Self {
        Self(vec![format!("repository:{repository}:pull,push")])
    }

    /// Pushing to `repository` and reading from `from` (a mount).
    pub fn mount(repository: &str, from: &str) -> Self {
        let mut scopes = vec![
            format!("repository:{repository}:pull,push"),
            format!("repository:{from}:pull"),
        ];
        scopes.sort();
        scopes.dedup();
        Self(scopes)
    }

    /// This scope and one more the registry asked for.
    #[must_use]
    pub fn with(&self, extra: &str) -> Self {
        let mut scopes = self.0.clone();
        for scope in extra.split(' ').filter(|s| !s.is_empty()) {
            if !scopes.iter().any(|s| s == scope) {
                scopes.push(scope.to_owned());
            }
        }
        scopes.sort();
        Self(scopes)
    }

    pub fn parts(&self) -> &[String] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_challenges() {
        let cases = [
            ("Basic realm=\"windlass-test\"", Some(Challenge::Basic)),
            (
                "Bearer realm=\"https://auth.example/token\",service=\"registry.example\",scope=\"repository:a/b:pull,push\"",
                Some(Challenge::Bearer {
                    realm: "https://auth.example/token".into(),
                    service: Some("registry.example".into()),
                    scope: Some("repository:a/b:pull,push".into()),
                }),
            ),
            (
                "bearer realm=https://auth.example/t, error=\"insufficient_scope\"",
                Some(Challenge::Bearer {
                    realm: "https://auth.example/t".into(),
                    service: None,
                    scope: None,
                }),
            ),
            ("Bearer service=\"x\"", None),
            ("Negotiate abc", None),
        ];
        for (header, want) in cases {
            assert_eq!(Challenge::parse(header), want, "{header}");
        }
    }

    #[test]
    fn scopes_merge() {
        let scope = Scope::mount("a/b", "c/d").with("repository:a/b:pull,push repository:e:pull");
        assert_eq!(
            scope.parts(),
            [
                "repository:a/b:pull,push",
                "repository:c/d:pull",
                "repository:e:pull"
            ]
        );
    }
}
