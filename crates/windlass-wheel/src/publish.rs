//! `windlass wheel publish`'s flags, and the request they make for
//! `windlass-pypi`.

use std::num::NonZeroU16;
use std::path::PathBuf;

use windlass_pypi::{PublishRequest, TargetRequest, TrustedPublishingMode};

/// `windlass wheel publish`: upload wheels and sdists to a PyPI-compatible
/// index.
#[derive(Debug, Clone, clap::Args)]
pub struct PublishArgs {
    /// Wheels (`.whl`) and sdists (`.tar.gz`) to upload [default: the ones
    /// in `[wheel] out`, else in dist/ of the project]
    #[arg(value_name = "DIST")]
    pub dists: Vec<PathBuf>,

    /// A repository name (`[wheel.repositories.NAME]` in windlass.toml, a
    /// `.pypirc` section, `pypi`, `testpypi`), an upload URL, or a
    /// `file:///DIR/simple/` URL: a static index directory [default:
    /// `TWINE_REPOSITORY_URL`, `TWINE_REPOSITORY`, `[wheel] repository`,
    /// else pypi]
    #[arg(long, short = 'r', value_name = "NAME|URL")]
    pub repository: Option<String>,

    /// The index's simple API root, for looking files up [default: derived
    /// from the upload URL]
    #[arg(long, value_name = "URL")]
    pub simple_url: Option<String>,

    /// A secret reference to an API token, sent as user `__token__`
    /// (`vault://MOUNT/PATH#KEY`, `env://NAME`, `keyring://SERVICE/USER`,
    /// `file://PATH`)
    #[arg(long, value_name = "REF")]
    pub token: Option<String>,

    /// The username for `--password` (or for `TWINE_PASSWORD`)
    #[arg(long, short = 'u', value_name = "NAME")]
    pub username: Option<String>,

    /// A secret reference to the password
    #[arg(long, value_name = "REF", requires = "username")]
    pub password: Option<String>,

    /// Exchange the CI identity token (GitHub Actions, GitLab CI) for a
    /// short-lived upload token
    #[arg(long, value_enum, default_value_t, value_name = "WHEN")]
    pub trusted_publishing: TrustedPublishing,

    /// Where trusted-publishing tokens are minted [default: the index's
    /// origin; `https://pypi.org/` for PyPI]
    #[arg(long, value_name = "URL")]
    pub trusted_publishing_url: Option<String>,

    /// Expect files that are already on the index (same name and sha256)
    /// and skip them without a warning
    #[arg(long)]
    pub skip_existing: bool,

    /// Show the plan (files, sizes, hashes, target, upload or skip and why)
    /// and send nothing but look-ups
    #[arg(long)]
    pub dry_run: bool,

    /// How many files to upload at once
    #[arg(long, short = 'j', default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,

    /// The `.pypirc` file to read [default: ~/.pypirc]
    #[arg(long, value_name = "FILE")]
    pub pypirc: Option<PathBuf>,

    /// Upload without credentials, to an index that takes uploads from
    /// anyone (an open pypiserver). Without it, a run that finds no
    /// credentials asks for a token in a terminal and otherwise stops
    /// before sending anything
    #[arg(long, conflicts_with_all = ["token", "username", "password", "trusted_publishing"])]
    pub no_credentials: bool,
}

/// `--trusted-publishing`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum TrustedPublishing {
    /// When no credentials are configured and a CI identity token is
    /// available.
    #[default]
    Auto,
    /// Always; fail when no CI identity token is available.
    Always,
    /// Never.
    Never,
}

impl From<TrustedPublishing> for TrustedPublishingMode {
    fn from(value: TrustedPublishing) -> Self {
        match value {
            TrustedPublishing::Auto => Self::Auto,
            TrustedPublishing::Always => Self::Always,
            TrustedPublishing::Never => Self::Never,
        }
    }
}

impl PublishArgs {
    /// The request for `windlass-pypi`: these flags, the files to publish
    /// (`dists`, already chosen by the caller) and `[wheel] repository`
    /// (`default_repository`), the target when neither `--repository` nor
    /// `TWINE_REPOSITORY*` names one.
    pub fn request(
        &self,
        dists: Vec<PathBuf>,
        default_repository: Option<String>,
    ) -> PublishRequest {
        PublishRequest {
            dists,
            target: TargetRequest {
                repository: self.repository.clone(),
                simple_url: self.simple_url.clone(),
                token: self.token.clone(),
                username: self.username.clone(),
                password: self.password.clone(),
                trusted_publishing: self.trusted_publishing.into(),
                trusted_publishing_url: self.trusted_publishing_url.clone(),
                anonymous: self.no_credentials,
                default_repository,
            },
            skip_existing: self.skip_existing,
            dry_run: self.dry_run,
            // clap keeps `--jobs` within 1..=64.
            jobs: NonZeroU16::new(self.jobs).unwrap_or(NonZeroU16::MIN),
            pypirc: self.pypirc.clone(),
        }
    }
}
