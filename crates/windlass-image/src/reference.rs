//! Image references as docker, podman and skopeo read them, and the two
//! places an image can be: a registry (`REGISTRY/REPO[:TAG][@DIGEST]`,
//! optionally prefixed `docker://`) or an OCI layout directory
//! (`oci:DIR[:TAG]`).
//!
//! A name without a registry means Docker Hub (`docker.io`, with `library/`
//! before a one-part name), as every other client reads it; the first part
//! is a registry when it holds a `.` or a `:` or is `localhost`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::digest::Digest;

/// Docker Hub's registry name in references.
pub const DOCKER_HUB: &str = "docker.io";
/// Where Docker Hub's API answers.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// `REGISTRY/REPOSITORY[:TAG][@DIGEST]`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// `host[:port]`, lower-case.
    pub registry: String,
    /// `a/b/c`: lower-case letters, digits and separators.
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

/// A reference that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("`{0}` is not an image reference: {1}")]
    Invalid(String, &'static str),
    #[error(transparent)]
    Digest(#[from] crate::digest::DigestError),
}

impl Reference {
    /// The tag or digest the reference points at, as the manifest endpoint
    /// takes it: the digest when both are given.
    pub fn target(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => digest.to_string(),
            (None, Some(tag)) => tag.clone(),
            (None, None) => "latest".to_owned(),
        }
    }

    /// The host the API answers at (Docker Hub's API host for `docker.io`).
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// The same repository at `digest`, without a tag.
    #[must_use]
    pub fn with_digest(&self, digest: Digest) -> Self {
        Self {
            tag: None,
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The same repository with `tag`, without a digest.
    #[must_use]
    pub fn with_tag(&self, tag: &str) -> Self {
        Self {
            tag: Some(tag.to_owned()),
            digest: None,
            ..self.clone()
        }
    }
}

fn shown(s: &str) -> String {
    windlass_output::escape_controls(&s.chars().take(200).collect::<String>()).into_owned()
}

fn valid_repository(repo: &str) -> bool {
    !repo.is_empty()
        && repo.len() <= 255
        && repo.split('/').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && part
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphanumeric())
                && part
                    .bytes()
                    .last()
                    .is_some_and(|b| b.is_ascii_alphanumeric())
        })
}

/// A tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && tag
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn valid_registry(host: &str) -> bool {
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let invalid = |why| ReferenceError::Invalid(shown(input), why);
        let s = input.strip_prefix("docker://").unwrap_or(input);
        if s.contains("://") {
            return Err(invalid(
                "give `HOST/REPOSITORY[:TAG]`, without a URL scheme",
            ));
        }
        let (name, digest) = match s.split_once('@') {
            Some((name, digest)) => (name, Some(digest.parse::<Digest>()?)),
            None => (s, None),
        };
        // A tag is after the last `:` that follows the last `/`.
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name[last_slash..].rfind(':') {
            Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
            None => (name, None),
        };
        if let Some(tag) = tag
            && !valid_tag(tag)
        {
            return Err(invalid(
                "a tag is letters, digits, `_`, `.` and `-` (at most 128)",
            ));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_ascii_lowercase(), rest.to_owned())
            }
            Some(_) => (DOCKER_HUB.to_owned(), name.to_owned()),
            None => (DOCKER_HUB.to_owned(), format!("library/{name}")),
        };
        if !valid_registry(&registry) {
            return Err(invalid("the registry is a host name with an optional port"));
        }
        if !valid_repository(&repository) {
            return Err(invalid(
                "a repository is lower-case letters, digits and `.`, `_`, `-` between `/`",
            ));
        }
        Ok(Self {
            registry,
            repository,
            tag: tag.map(str::to_owned),
            digest,
        })
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Where an image is: a registry or an OCI layout directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Registry(Reference),
    /// `oci:DIR[:TAG]`: the tag is the `org.opencontainers.image.ref.name`
    /// annotation in the layout's index.
    Layout {
        dir: PathBuf,
        tag: Option<String>,
    },
}

impl FromStr for Location {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(rest) = s.strip_prefix("oci:") {
            // `oci:DIR:TAG`; a DIR holding `:` needs a tag after it.
            let (dir, tag) = match rest.rsplit_once(':') {
                Some((dir, tag)) if !tag.contains('/') && !dir.is_empty() => (dir, Some(tag)),
                _ => (rest, None),
            };
            if dir.is_empty() {
                return Err(ReferenceError::Invalid(shown(s), "give `oci:DIR[:TAG]`"));
            }
            if let Some(tag) = tag
                && !valid_tag(tag)
            {
                return Err(ReferenceError::Invalid(
                    shown(s),
                    "a tag is letters, digits, `_`, `.` and `-` (at most 128)",
                ));
            }
            return Ok(Self::Layout {
                dir: PathBuf::from(dir),
                tag: tag.map(str::to_owned),
            });
        }
        s.parse().map(Self::Registry)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Registry(reference) => reference.fmt(f),
            Self::Layout { dir, tag: None } => write!(f, "oci:{}", dir.display()),
            Self::Layout {
                dir,
                tag: Some(tag),
            } => write!(f, "oci:{}:{tag}", dir.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> String {
        match s.parse::<Reference>() {
            Ok(r) => format!(
                "{} | {} | {:?} | {:?}",
                r.registry,
                r.repository,
                r.tag,
                r.digest.map(|d| d.to_string())
            ),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn reads_references_as_docker_does() {
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let cases = [
            ("python", "docker.io | library/python | None | None"),
            (
                "python:3.11-slim",
                "docker.io | library/python | Some(\"3.11-slim\") | None",
            ),
            ("user/app", "docker.io | user/app | None | None"),
            ("127.0.0.1:5000/job", "127.0.0.1:5000 | job | None | None"),
            ("localhost/a/b:v1", "localhost | a/b | Some(\"v1\") | None"),
            (
                "docker://ghcr.io/o/r:t",
                "ghcr.io | o/r | Some(\"t\") | None",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input), want, "{input}");
        }
        let pinned = format!("reg.example:443/x:1@{d}");
        assert_eq!(
            parse(&pinned),
            format!("reg.example:443 | x | Some(\"1\") | Some(\"{d}\")")
        );
        let r: Reference = pinned.parse().unwrap();
        assert_eq!(r.target(), d);
        assert_eq!(r.to_string(), pinned);
        for bad in [
            "",
            "UPPER/case",
            "a//b",
            "https://x/y",
            "x:tag with space",
            "x:",
            "x@sha256:1",
        ] {
            assert!(parse(bad).starts_with("error"), "{bad}: {}", parse(bad));
        }
    }

    #[test]
    fn reads_locations() {
        assert_eq!(
            "oci:out/img:v1".parse::<Location>().unwrap(),
            Location::Layout {
                dir: "out/img".into(),
                tag: Some("v1".into())
            }
        );
        assert_eq!(
            "oci:out/img".parse::<Location>().unwrap(),
            Location::Layout {
                dir: "out/img".into(),
                tag: None
            }
        );
        assert!(matches!(
            "127.0.0.1:5000/a:b".parse::<Location>().unwrap(),
            Location::Registry(_)
        ));
        // skopeo's transport prefix names the same registry reference.
        assert_eq!(
            "docker://127.0.0.1:5000/a:b".parse::<Location>().unwrap(),
            "127.0.0.1:5000/a:b".parse::<Location>().unwrap()
        );
        assert!(matches!(
            "docker://oci:x".parse::<Location>().unwrap(),
            Location::Registry(_)
        ));
    }
}
