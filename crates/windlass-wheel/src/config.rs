//! `[wheel]` in `windlass.toml`.
//!
//! ```toml
//! [wheel]
//! backend = "auto"          # auto | native | pep517
//! out = "dist"              # relative to this file's directory
//! repository = "internal"   # where a bare `publish` uploads
//!
//! [wheel.repositories.internal]
//! url = "https://pypi.internal.example/legacy/"
//! token = "vault://secret/ci/pypi#token"
//! ```

use indexmap::IndexMap;
use serde::Deserialize;
use windlass_config::RelativePath;
use windlass_pypi::RepositorySection;

use crate::Backend;

/// `[wheel]`: defaults for `build`, `check` and `publish`, and the
/// repositories `publish` knows by name. Flags win over it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct WheelSection {
    /// The default of `build --backend`.
    pub backend: Option<Backend>,
    /// The default of `build --out`, relative to the file that set it; also
    /// where `check` and `publish` find the files when given none.
    pub out: Option<RelativePath>,
    /// The default of `publish --repository`: a name from `repositories`
    /// or `.pypirc`, or an upload URL. `TWINE_REPOSITORY_URL` and
    /// `TWINE_REPOSITORY` win over it.
    pub repository: Option<String>,
    /// Upload targets for `publish --repository NAME`.
    #[serde(default)]
    pub repositories: IndexMap<String, RepositorySection>,
}
