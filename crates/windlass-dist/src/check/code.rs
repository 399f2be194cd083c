//! The stable codes of [`Problem`](super::Problem)s: one documented
//! variant per thing `check` finds, serialised as the kebab-case string
//! that `--json` carries and that GitHub annotations use as their title.
//!
//! Each variant says what it means, why it matters and which tool we did not
//! write finds the same thing (`twine check --strict`, check-wheel-contents'
//! `Wxxx` codes, installers, PyPI's upload checks). The table in
//! `docs/wheel-check.md` is generated from these comments.

use serde::Serialize;

/// Why a distribution fails `check`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemCode {
    // Archives.
    /// The file is not a readable zip or tar.gz archive, or a member cannot
    /// be decompressed. Nothing else can be trusted: installers and PyPI
    /// refuse it. Peers: pip, uv, `twine check`.
    Archive,
    /// The file name does not follow the wheel (`{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`)
    /// or sdist (`{name}-{version}.tar.gz`, name normalised by PEP 625)
    /// naming rules. Installers pick wheels by their name; PyPI refuses
    /// names it cannot parse. Peers: PyPI upload, pip.
    Filename,
    /// The archive holds the same path more than once: which copy an
    /// extractor keeps is up to it. Peers: PyPI upload.
    Duplicate,
    /// A member, a metadata file or the whole archive decompresses to more
    /// than the check allows: a zip bomb or a broken build. The rest is not
    /// read. Peers: none (PyPI caps the upload size, not what it
    /// decompresses to).
    TooLarge,
    /// A member path is absolute (`/…` or `C:…`): extracting it writes
    /// outside the target directory. Peers: pip, uv, `tarfile` data filter.
    PathAbsolute,
    /// A member path holds a backslash: on Windows it is a separator, so the
    /// file lands elsewhere than listed. Peers: uv, PyPI upload.
    PathBackslash,
    /// A member path leaves the archive with `..`, or a link (or a path
    /// through a link) resolves outside the archive root: extracting it
    /// writes anywhere. Peers: pip, uv, `tarfile` data filter.
    PathEscape,
    /// A link in an sdist does not resolve: more links than Linux follows
    /// (a loop). Extraction fails with `ELOOP`. Peers: `tarfile` data filter.
    LinkLoop,
    /// An sdist holds a device, a fifo or another special file: extracting
    /// it needs privileges or hangs a reader. Peers: `tarfile` data filter.
    SpecialFile,

    // Core metadata (`METADATA`, `PKG-INFO`).
    /// A wheel's `METADATA` is not UTF-8 text: `publish` refuses it, as
    /// PyPI would (for an sdist's `PKG-INFO`, see `pkg-info`). Peers: `twine
    /// check`, PyPI upload.
    MetadataEncoding,
    /// A required core-metadata field (`Metadata-Version`, `Name`,
    /// `Version`) is missing: no index accepts the upload. Peers: `twine
    /// check`, PyPI upload.
    MetadataMissing,
    /// `Metadata-Version` is unknown, or too old for a field that is used
    /// (`License-Expression` needs 2.4, `Dynamic` needs 2.2): tools ignore or
    /// refuse fields their version does not define. Peers: `twine check`
    /// (packaging), PyPI upload.
    MetadataVersion,
    /// `Name` is not a valid project name (letters, digits, `.`, `_`, `-`,
    /// starting and ending with a letter or digit). Peers: `twine check`
    /// (packaging), PyPI upload.
    Name,
    /// `Version` is not a valid PEP 440 version: installers cannot order or
    /// select it. Peers: `twine check` (packaging), PyPI upload.
    Version,
    /// `Summary` spans several lines: the header format cannot carry it and
    /// PyPI refuses it. Peers: `twine check` (packaging), PyPI upload.
    Summary,
    /// A `Requires-Dist` is not a valid PEP 508 requirement: installers
    /// cannot resolve the dependencies. Peers: `twine check` (packaging),
    /// PyPI upload.
    Requirement,
    /// `Requires-Python` is not a valid version specifier: installers cannot
    /// tell which Pythons the project supports. Peers: `twine check`
    /// (packaging), PyPI upload.
    RequiresPython,
    /// A `Provides-Extra` is not a valid extra name: `pkg[extra]` cannot
    /// name it. Peers: `twine check` (packaging).
    Extra,
    /// The description (the readme) is missing or empty: the project page
    /// on PyPI is blank. Peers: `twine check --strict`.
    DescriptionMissing,
    /// `Description-Content-Type` is missing, not `text/plain`,
    /// `text/x-rst` or `text/markdown`, or names an unknown markdown
    /// variant: PyPI renders the readme wrongly or not at all. Peers: `twine
    /// check --strict`.
    ContentType,
    /// `License-Expression` is not a valid SPDX expression (PEP 639). Peers:
    /// PyPI upload, `twine check` (packaging).
    LicenseExpression,
    /// A `License ::` classifier is used together with `License-Expression`:
    /// PEP 639 forbids both. Peers: PyPI upload.
    LicenseClassifier,
    /// A `License-File` is not in the archive (wheels keep them under
    /// `.dist-info/licenses/`). Peers: PyPI upload (PEP 639).
    LicenseFile,
    /// `Name`, `Version` or `Metadata-Version` is listed as `Dynamic`:
    /// PEP 643 forbids it. Peers: `twine check` (packaging).
    Dynamic,
    /// The name or version in the file name differs from the core
    /// metadata: the index files the upload under one and installers see
    /// the other. Peers: PyPI upload, pip, uv.
    FilenameMismatch,

    // Wheels.
    /// No `.dist-info` directory, several, one not named after the file, or
    /// a missing `METADATA`, `WHEEL` or `RECORD` in it: installers refuse
    /// the wheel. Peers: pip, uv, check-wheel-contents W101, PyPI upload.
    DistInfo,
    /// The `WHEEL` file lacks `Wheel-Version` 1.x, `Root-Is-Purelib` or
    /// `Tag`s matching the file name: installers refuse it or install it in
    /// the wrong place. Peers: pip, uv.
    WheelFile,
    /// A `RECORD` line is malformed or lists a path twice. Peers: pip, uv,
    /// check-wheel-contents W002/W101.
    Record,
    /// `RECORD` lists a file the wheel does not hold. Peers:
    /// check-wheel-contents W102, uv.
    RecordMissingFile,
    /// A file's hash in `RECORD` is missing, weak (not sha256 or stronger)
    /// or does not match: the wheel was changed after it was built. Peers:
    /// pip, uv, check-wheel-contents W102.
    RecordHash,
    /// A file's size in `RECORD` does not match. Peers: pip, uv,
    /// check-wheel-contents W102.
    RecordSize,
    /// A file of the wheel is not listed in `RECORD`: an installer neither
    /// checks nor uninstalls it. Peers: check-wheel-contents W101, uv.
    RecordUnlisted,
    /// Compiled bytecode (`.pyc`, `.pyo`, `__pycache__`): tied to one
    /// interpreter, installers compile their own. Peers: check-wheel-contents
    /// W001.
    Bytecode,
    /// Two library files have the same content: usually a build that copied
    /// a tree twice. Peers: check-wheel-contents W002.
    DuplicateContent,
    /// A top-level file that is not a module (`.py`, `.pyi`, `.pth`, `.so`,
    /// `.pyd`): it lands loose in site-packages. Peers: check-wheel-contents
    /// W003.
    ToplevelFile,
    /// A top-level `tests`, `docs`, `src`, … that other projects ship too:
    /// installs overwrite each other. Peers: check-wheel-contents W005.
    ToplevelCommon,
    /// An `__init__.py` at the top of the wheel: it installs into
    /// site-packages itself. Peers: check-wheel-contents W006.
    ToplevelInit,
    /// The wheel holds no package, module or data: it installs nothing.
    /// Peers: check-wheel-contents W007/W008.
    Empty,

    // Sdists.
    /// The sdist is not one `{name}-{version}/` directory holding
    /// `PKG-INFO` and `pyproject.toml` (PEP 517, the sdist specification):
    /// front ends cannot build it. Peers: `build`, pip, PyPI upload.
    SdistLayout,
    /// `PKG-INFO` is not UTF-8 text (for a wheel's `METADATA`, see
    /// `metadata-encoding`). Peers: `twine check`, PyPI upload.
    PkgInfo,
}

impl ProblemCode {
    /// Every code, in the order of the documentation.
    pub const ALL: &'static [Self] = &[
        Self::Archive,
        Self::Filename,
        Self::Duplicate,
        Self::TooLarge,
        Self::PathAbsolute,
        Self::PathBackslash,
        Self::PathEscape,
        Self::LinkLoop,
        Self::SpecialFile,
        Self::MetadataEncoding,
        Self::MetadataMissing,
        Self::MetadataVersion,
        Self::Name,
        Self::Version,
        Self::Summary,
        Self::Requirement,
        Self::RequiresPython,
        Self::Extra,
        Self::DescriptionMissing,
        Self::ContentType,
        Self::LicenseExpression,
        Self::LicenseClassifier,
        Self::LicenseFile,
        Self::Dynamic,
        Self::FilenameMismatch,
        Self::DistInfo,
        Self::WheelFile,
        Self::Record,
        Self::RecordMissingFile,
        Self::RecordHash,
        Self::RecordSize,
        Self::RecordUnlisted,
        Self::Bytecode,
        Self::DuplicateContent,
        Self::ToplevelFile,
        Self::ToplevelCommon,
        Self::ToplevelInit,
        Self::Empty,
        Self::SdistLayout,
        Self::PkgInfo,
    ];

    /// The stable string, as `--json` carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Archive => "archive",
            Self::Filename => "filename",
            Self::Duplicate => "duplicate",
            Self::TooLarge => "too-large",
            Self::PathAbsolute => "path-absolute",
            Self::PathBackslash => "path-backslash",
            Self::PathEscape => "path-escape",
            Self::LinkLoop => "link-loop",
            Self::SpecialFile => "special-file",
            Self::MetadataEncoding => "metadata-encoding",
            Self::MetadataMissing => "metadata-missing",
            Self::MetadataVersion => "metadata-version",
            Self::Name => "name",
            Self::Version => "version",
            Self::Summary => "summary",
            Self::Requirement => "requirement",
            Self::RequiresPython => "requires-python",
            Self::Extra => "extra",
            Self::DescriptionMissing => "description-missing",
            Self::ContentType => "content-type",
            Self::LicenseExpression => "license-expression",
            Self::LicenseClassifier => "license-classifier",
            Self::LicenseFile => "license-file",
            Self::Dynamic => "dynamic",
            Self::FilenameMismatch => "filename-mismatch",
            Self::DistInfo => "dist-info",
            Self::WheelFile => "wheel-file",
            Self::Record => "record",
            Self::RecordMissingFile => "record-missing-file",
            Self::RecordHash => "record-hash",
            Self::RecordSize => "record-size",
            Self::RecordUnlisted => "record-unlisted",
            Self::Bytecode => "bytecode",
            Self::DuplicateContent => "duplicate-content",
            Self::ToplevelFile => "toplevel-file",
            Self::ToplevelCommon => "toplevel-common",
            Self::ToplevelInit => "toplevel-init",
            Self::Empty => "empty",
            Self::SdistLayout => "sdist-layout",
            Self::PkgInfo => "pkg-info",
        }
    }

    /// How to fix it, where one fix fits every case.
    pub fn hint(self) -> Option<&'static str> {
        Some(match self {
            Self::DescriptionMissing => {
                "set `readme` in `[project]` of pyproject.toml (e.g. `readme = \"README.md\"`)"
            }
            Self::ContentType => {
                "name the readme with a `.md`, `.rst` or `.txt` suffix, or set \
                 `readme = { file = ..., content-type = ... }`"
            }
            Self::LicenseClassifier => {
                "remove the `License ::` classifiers: `license` in pyproject.toml replaces them"
            }
            Self::Bytecode => "exclude `__pycache__` and `*.pyc` from the build",
            Self::ToplevelCommon => {
                "exclude the directory from the wheel, or move it inside the package"
            }
            Self::RecordHash
            | Self::RecordSize
            | Self::RecordUnlisted
            | Self::RecordMissingFile => "rebuild the wheel instead of editing it after the build",
            Self::FilenameMismatch | Self::Filename => {
                "rebuild: let the build backend name the file"
            }
            _ => return None,
        })
    }
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
