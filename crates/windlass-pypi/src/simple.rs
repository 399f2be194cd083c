//! Looking files up in an index's simple API (PEP 691 JSON, else PEP 503
//! HTML with `#sha256=` fragments), and finding the simple API of an
//! upload URL.

use std::collections::BTreeMap;

use percent_encoding::percent_decode_str;
use serde::Deserialize;
use url::Url;
use windlass_http::{
    ErrorKind, HttpClient, HttpError, Method, Policy, Retries, StatusCode, header,
};
use windlass_redact::RedactedUrl;

use crate::repository::Auth;

/// The media types we accept, JSON first.
const ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1";

/// The largest simple page we read.
const MAX_PAGE_BYTES: u64 = 64 * 1024 * 1024;

/// The simple API root for an upload URL, for the layouts we know:
/// warehouse (`https://upload.pypi.org/legacy/` → `https://pypi.org/simple/`,
/// any `…/legacy/` → `…/simple/`), devpi (`/USER/INDEX/` →
/// `/USER/INDEX/+simple/`) and everything else, pypiserver included
/// (`/` → `/simple/`, `/base/` → `/base/simple/`).
pub fn derive_simple_url(upload: &Url) -> Url {
    let mut url = upload.clone();
    url.set_query(None);
    url.set_fragment(None);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    if url.host_str() == Some("upload.pypi.org") {
        let _ = url.set_host(Some("pypi.org"));
    }
    let segments: Vec<String> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    let new_segments: Vec<String> = match segments.as_slice() {
        [rest @ .., last] if last == "legacy" => {
            let mut s = rest.to_vec();
            s.push("simple".to_owned());
            s
        }
        [user, index] if !user.starts_with('+') && !index.starts_with('+') => {
            vec![user.clone(), index.clone(), "+simple".to_owned()]
        }
        other => {
            let mut s = other.to_vec();
            s.push("simple".to_owned());
            s
        }
    };
    url.set_path(&format!("/{}/", new_segments.join("/")));
    url
}

/// The page of a project in the simple API.
pub fn project_url(simple: &RedactedUrl, normalized_name: &str) -> RedactedUrl {
    let mut base = simple.expose().clone();
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    let joined = base
        .join(&format!("{normalized_name}/"))
        .unwrap_or_else(|_| simple.expose().clone());
    RedactedUrl::new(joined)
}

/// The files of one project on the index: file name → SHA-256 (lowercase
/// hex), `None` when the index gives no SHA-256.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectFiles {
    pub files: BTreeMap<String, Option<String>>,
    /// File name → where the index serves it (the link, without its
    /// fragment), when the page gives a link that resolves.
    pub urls: BTreeMap<String, Url>,
    /// Where the index redirected the look-up, to another origin: the
    /// project is not on this index (the redirect was not followed).
    pub elsewhere: Option<RedactedUrl>,
}

/// What the index has under a file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existing {
    /// No file of that name.
    Absent,
    /// The same bytes.
    Same,
    /// Other bytes under the same name.
    Different { sha256: String },
    /// A file of that name whose hash the index does not publish.
    Unknown,
}

impl ProjectFiles {
    pub fn compare(&self, filename: &str, sha256: &str) -> Existing {
        let found = self.files.get(filename).or_else(|| {
            self.files
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(filename))
                .map(|(_, hash)| hash)
        });
        match found {
            None => Existing::Absent,
            Some(None) => Existing::Unknown,
            Some(Some(hash)) if hash.eq_ignore_ascii_case(sha256) => Existing::Same,
            Some(Some(hash)) => Existing::Different {
                sha256: hash.to_ascii_lowercase(),
            },
        }
    }
}

/// Why a look-up failed.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("cannot look the project up in the simple index")]
    Http(#[source] HttpError),
    #[error("the simple index at {url} answered with a page that is not valid PEP 691 JSON")]
    Json {
        url: RedactedUrl,
        #[source]
        source: serde_json::Error,
    },
}

#[derive(Deserialize)]
struct JsonPage {
    files: Vec<JsonFile>,
}

#[derive(Deserialize)]
struct JsonFile {
    filename: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    hashes: BTreeMap<String, String>,
}

/// Parses a PEP 691 JSON project page. Hashes come out lowercase, as
/// from an HTML page. Only absolute file URLs are kept (see
/// [`parse_json_at`] for relative ones).
pub fn parse_json(body: &[u8]) -> Result<ProjectFiles, serde_json::Error> {
    parse_json_inner(body, None)
}

/// [`parse_json`] of a page read from `base`: relative file URLs resolve
/// against it.
pub fn parse_json_at(body: &[u8], base: &Url) -> Result<ProjectFiles, serde_json::Error> {
    parse_json_inner(body, Some(base))
}

fn parse_json_inner(body: &[u8], base: Option<&Url>) -> Result<ProjectFiles, serde_json::Error> {
    let page: JsonPage = serde_json::from_slice(body)?;
    let mut files = BTreeMap::new();
    let mut urls = BTreeMap::new();
    for f in page.files {
        let sha256 = f.hashes.get("sha256").map(|h| h.to_ascii_lowercase());
        let url = f.url.as_deref().and_then(|u| match base {
            Some(base) => base.join(u).ok(),
            None => Url::parse(u).ok(),
        });
        if let Some(mut url) = url {
            url.set_fragment(None);
            urls.insert(f.filename.clone(), url);
        }
        files.insert(f.filename, sha256);
    }
    Ok(ProjectFiles {
        files,
        urls,
        elsewhere: None,
    })
}

/// Parses a PEP 503 HTML project page: the `href` of every `<a>` start
/// tag (character references decoded), the file name from the last path
/// segment of the link, the SHA-256 from its `#sha256=` fragment.
///
/// The markup is read the way a browser tokenizes it, as far as links go:
/// a `>` inside a quoted attribute value does not end the tag, comments
/// and the text of `<script>`, `<style>`, `<title>` and `<textarea>` hold
/// no links, `<abbr>` or `<area>` is not `<a>`, and the first of repeated
/// attributes wins.
pub fn parse_html(body: &str, base: &Url) -> ProjectFiles {
    let mut files = BTreeMap::new();
    let mut urls = BTreeMap::new();
    for href in anchor_hrefs(body) {
        let Ok(link) = base.join(&href) else {
            continue;
        };
        let Some(name) = link
            .path_segments()
            .and_then(|mut s| s.next_back())
            .filter(|s| !s.is_empty())
        else {
            continue;
        };
        let name = percent_decode_str(name).decode_utf8_lossy().into_owned();
        let sha256 = link.fragment().and_then(|fragment| {
            fragment
                .strip_prefix("sha256=")
                .map(str::to_ascii_lowercase)
        });
        let mut url = link.clone();
        url.set_fragment(None);
        urls.insert(name.clone(), url);
        files.insert(name, sha256);
    }
    ProjectFiles {
        files,
        urls,
        elsewhere: None,
    }
}

/// The `href` values of the `<a>` start tags of `html`, in order.
fn anchor_hrefs(html: &str) -> Vec<String> {
    let mut hrefs = Vec::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        if let Some(comment) = rest.strip_prefix("!--") {
            // `<!-->` and `<!--->` are empty comments.
            rest = if let Some(after) = comment.strip_prefix('>') {
                after
            } else if let Some(after) = comment.strip_prefix("->") {
                after
            } else {
                comment.find("-->").map_or("", |end| &comment[end + 3..])
            };
            continue;
        }
        let (name, href) = match rest.chars().next() {
            // `<!DOCTYPE ...>`, `<?xml ...?>`: up to the next `>`.
            Some('!' | '?') => {
                rest = rest.find('>').map_or("", |end| &rest[end + 1..]);
                continue;
            }
            Some('/') => {
                let (_, after) = start_tag(&rest[1..], "");
                rest = after;
                continue;
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let end = rest
                    .find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
                    .unwrap_or(rest.len());
                let name = rest[..end].to_ascii_lowercase();
                let wanted = if name == "a" { "href" } else { "" };
                let (href, after) = start_tag(&rest[name.len()..], wanted);
                rest = after;
                (name, href)
            }
            // A `<` that starts no tag is text.
            _ => continue,
        };
        if let Some(href) = href {
            hrefs.push(href);
        } else if ["script", "style", "title", "textarea"].contains(&name.as_str()) {
            // Raw text up to the matching end tag.
            rest = rest
                .match_indices("</")
                .find(|(at, _)| {
                    let bytes = rest.as_bytes();
                    let end = at + 2 + name.len();
                    bytes
                        .get(at + 2..end)
                        .is_some_and(|tag| tag.eq_ignore_ascii_case(name.as_bytes()))
                        && bytes
                            .get(end)
                            .is_none_or(|&b| b.is_ascii_whitespace() || b == b'/' || b == b'>')
                })
                .map_or("", |(at, _)| &rest[at..]);
        }
    }
    hrefs
}

/// Reads the attributes of a tag whose name has been read: the decoded
/// value of the first attribute named `wanted` (lowercase), if any, and
/// the text after the tag's `>`.
fn start_tag<'a>(mut rest: &'a str, wanted: &str) -> (Option<String>, &'a str) {
    let mut found = None;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
        if rest.is_empty() {
            return (found, rest);
        }
        if let Some(after) = rest.strip_prefix('>') {
            return (found, after);
        }
        // A name runs to whitespace, `/`, `>` or `=` (not at its start).
        let end = rest
            .char_indices()
            .find(|&(i, c)| c.is_ascii_whitespace() || c == '/' || c == '>' || (c == '=' && i > 0))
            .map_or(rest.len(), |(i, _)| i);
        let name = &rest[..end];
        rest = rest[end..].trim_start_matches(|c: char| c.is_ascii_whitespace());
        let mut raw = "";
        if let Some(after) = rest.strip_prefix('=') {
            rest = after.trim_start_matches(|c: char| c.is_ascii_whitespace());
            raw = if let Some(quote @ ('"' | '\'')) = rest.chars().next() {
                let inner = &rest[1..];
                let end = inner.find(quote).unwrap_or(inner.len());
                rest = inner.get(end + 1..).unwrap_or("");
                &inner[..end]
            } else {
                let end = rest
                    .find(|c: char| c.is_ascii_whitespace() || c == '>')
                    .unwrap_or(rest.len());
                let unquoted = &rest[..end];
                rest = &rest[end..];
                unquoted
            };
        }
        // Of repeated attributes, the first counts.
        if found.is_none() && !wanted.is_empty() && name.eq_ignore_ascii_case(wanted) {
            found = Some(decode_references(raw));
        }
    }
}

/// Decodes the character references of an attribute value: `&amp;`,
/// `&lt;`, `&gt;`, `&quot;`, `&apos;` (and the upper-case forms HTML
/// knows), `&#NNN;` and `&#xHH;`. Anything else stays as written.
fn decode_references(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        // References are short: look for their `;` nearby only.
        let semi = rest.bytes().take(16).position(|b| b == b';');
        let decoded = semi.and_then(|semi| {
            let name = &rest[1..semi];
            let c = match name {
                "amp" | "AMP" => Some('&'),
                "lt" | "LT" => Some('<'),
                "gt" | "GT" => Some('>'),
                "quot" | "QUOT" => Some('"'),
                "apos" => Some('\''),
                _ => {
                    let number = name.strip_prefix('#')?;
                    let digits = |text: &str, radix: u32| {
                        let ok = (1..=8).contains(&text.len())
                            && text.chars().all(|c| c.is_digit(radix));
                        ok.then(|| u32::from_str_radix(text, radix).ok()).flatten()
                    };
                    let code = match number.strip_prefix(['x', 'X']) {
                        Some(hex) => digits(hex, 16),
                        None => digits(number, 10),
                    }?;
                    // Invalid code points decode to the replacement character.
                    Some(
                        char::from_u32(code)
                            .filter(|&c| c != '\0')
                            .unwrap_or('\u{fffd}'),
                    )
                }
            }?;
            Some((c, semi + 1))
        });
        if let Some((c, len)) = decoded {
            out.push(c);
            rest = &rest[len..];
        } else {
            out.push('&');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

/// Fetches a project's page; a `404` means the project has no files yet.
/// With [`Retries::ByCaller`] it makes one attempt (the caller's loop
/// retries).
pub async fn lookup(
    client: &HttpClient,
    page: &RedactedUrl,
    auth: Option<&Auth>,
    retries: Retries,
) -> Result<ProjectFiles, LookupError> {
    let policy = Policy {
        retries,
        ..Policy::default()
    };
    let response = client
        .send_with(Method::GET, page, policy, |request| {
            let request = request.header(header::ACCEPT, ACCEPT);
            match auth {
                Some(auth) => auth.apply(request),
                None => request,
            }
        })
        .await;
    let response = match response {
        Ok(response) => response,
        Err(error) if error.status() == Some(StatusCode::NOT_FOUND) => {
            return Ok(ProjectFiles::default());
        }
        // An index that redirects a look-up to another origin does not hold
        // the project (pypiserver sends what it lacks to pypi.org): that
        // origin's files, even under the same name, are not on this index.
        // The redirect is not followed: the other origin never learns the
        // name, nor gets the index's credentials.
        Err(error) if error.kind() == ErrorKind::CrossOriginRedirect => {
            tracing::debug!(
                page = %page,
                to = error.redirect_target().map(tracing::field::display),
                "the index redirected the look-up to another origin; the project is not on this index"
            );
            return Ok(ProjectFiles {
                files: BTreeMap::new(),
                urls: BTreeMap::new(),
                elsewhere: Some(
                    error
                        .redirect_target()
                        .cloned()
                        .unwrap_or_else(|| page.clone()),
                ),
            });
        }
        Err(error) => return Err(LookupError::Http(error)),
    };
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let base = response.url().clone();
    let body = windlass_http::read_bytes(&Method::GET, page, response, MAX_PAGE_BYTES)
        .await
        .map_err(LookupError::Http)?;
    if is_json {
        parse_json_at(&body, &base).map_err(|source| LookupError::Json {
            url: page.clone(),
            source,
        })
    } else {
        Ok(parse_html(&String::from_utf8_lossy(&body), &base))
    }
}

#[cfg(test)]
mod tests {
    use url::Url;

    use super::{derive_simple_url, parse_html, parse_json, parse_json_at, project_url};

    #[test]
    fn simple_urls() {
        let cases = [
            "https://upload.pypi.org/legacy/",
            "https://test.pypi.org/legacy/",
            "http://127.0.0.1:8081/",
            "http://127.0.0.1:8081",
            "http://127.0.0.1:3141/windlass/dev/",
            "http://127.0.0.1:3141/windlass/dev",
            "https://user:pw@gitlab.example.com/api/v4/projects/12/packages/pypi",
            "https://example.jfrog.io/artifactory/api/pypi/pypi-local",
            "https://pypi.internal.example/pypi/",
        ];
        let out: Vec<String> = cases
            .iter()
            .map(|c| {
                let simple = derive_simple_url(&Url::parse(c).unwrap());
                format!(
                    "{c} -> {simple} -> {}",
                    project_url(&simple.clone().into(), "demo-pkg")
                )
            })
            .collect();
        insta::assert_snapshot!(out.join("\n"));
    }

    #[test]
    fn html_pages() {
        let base = Url::parse("http://127.0.0.1:8081/simple/demo/").unwrap();
        let page = r#"<!DOCTYPE html><html><body>
<a href="../../packages/demo-1.0-py3-none-any.whl#sha256=ABCDEF">demo-1.0-py3-none-any.whl</a><br>
<A class="x" HREF='/packages/demo-1.0.tar.gz#sha256=123' data-requires-python="&gt;=3.9">demo-1.0.tar.gz</A>
<a href="https://files.example.org/p/demo%2B-2.0.tar.gz#md5=99">x</a>
<a name="nohref">nothing</a>
</body></html>"#;
        insta::assert_debug_snapshot!(parse_html(page, &base).files);
    }

    /// Markup the earlier scanner misread, one link per case (each found
    /// by the property tests): the files each page lists.
    #[test]
    fn html_pages_tricky() {
        let base = Url::parse("https://index.example.org/simple/demo/").unwrap();
        let cases = [
            // A raw `>` in a quoted value does not end the tag.
            r#"<a data-requires-python=">=3.9" href="demo-1.0.tar.gz">x</a>"#,
            r#"<a data-yanked='say "no" <a href="x">' href="demo-1.0.tar.gz">x</a>"#,
            // `href=` inside another attribute's value is not the link.
            r#"<a title='see href=elsewhere.whl' href="demo-1.0.tar.gz">x</a>"#,
            // No links in comments, scripts, or tags that only start with `a`.
            r#"<!-- <a href="old-0.1.tar.gz"> --><a href="demo-1.0.tar.gz">x</a>"#,
            r#"<script>"<a href='s-1.0.tar.gz'>"</script><a href="demo-1.0.tar.gz">x</a>"#,
            r#"<area href="map-1.0.tar.gz"><a href="demo-1.0.tar.gz">x</a>"#,
            // Character references: numeric, hexadecimal, decoded once.
            r#"<a href="demo-1.0&#43;local-py3-none-any.whl#sha256=AB&#x43;D">x</a>"#,
            r#"<a href="a&amp;lt;b-1.0.tar.gz">x</a>"#,
            "<a href=demo-1.0.tar.gz#sha256=ff>x</a>",
        ];
        let out: Vec<String> = cases
            .iter()
            .map(|page| format!("{page}\n  {:?}", parse_html(page, &base).files))
            .collect();
        insta::assert_snapshot!(out.join("\n"));
    }

    #[test]
    fn json_pages() {
        let page = br#"{"meta":{"api-version":"1.1"},"name":"demo","files":[
{"filename":"demo-1.0.tar.gz","url":"x","hashes":{"sha256":"ABC","md5":"d"}},
{"filename":"demo-1.0-py3-none-any.whl","url":"y","hashes":{}}]}"#;
        insta::assert_debug_snapshot!(parse_json(page).unwrap().files);
    }

    /// Each file's link: resolved against the page, without its fragment.
    #[test]
    fn file_links() {
        let base = Url::parse("http://127.0.0.1:8081/simple/demo/").unwrap();
        let html = r#"<a href="../../packages/demo-1.0.tar.gz#sha256=ab">x</a>"#;
        assert_eq!(
            parse_html(html, &base).urls["demo-1.0.tar.gz"].as_str(),
            "http://127.0.0.1:8081/packages/demo-1.0.tar.gz"
        );
        let json = br#"{"files":[
{"filename":"demo-1.0.tar.gz","url":"../../packages/demo-1.0.tar.gz#sha256=ab","hashes":{}},
{"filename":"demo-1.0-py3-none-any.whl","url":"https://files.example.org/d.whl","hashes":{}}]}"#;
        let at = parse_json_at(json, &base).unwrap();
        assert_eq!(
            at.urls["demo-1.0.tar.gz"].as_str(),
            "http://127.0.0.1:8081/packages/demo-1.0.tar.gz"
        );
        // Without a base, only absolute links.
        let unbased = parse_json(json).unwrap();
        assert!(!unbased.urls.contains_key("demo-1.0.tar.gz"));
        assert_eq!(
            unbased.urls["demo-1.0-py3-none-any.whl"].as_str(),
            "https://files.example.org/d.whl"
        );
    }
}
