//! The native plan of each backend, one table: which `[tool.*]` keys and
//! build requirements make it decline (and in which order the reasons
//! come), what its discovery puts in the wheel, its data files, sdist,
//! extra `.dist-info` files and metadata quirks.

#![allow(clippy::unwrap_used, reason = "test helpers panic on failed setup")]

use std::fmt::Write as _;
use std::path::Path;

use windlass_dist::archive::{Entry, Source};
use windlass_dist::plan;
use windlass_dist::pyproject::PyProject;

/// One project: its `pyproject.toml` and other files (`name/` is a directory).
struct Case {
    title: &'static str,
    pyproject: &'static str,
    files: &'static [&'static str],
}

const HATCH: &str =
    "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n";
const FLIT: &str =
    "[build-system]\nrequires = [\"flit_core >=3.2\"]\nbuild-backend = \"flit_core.buildapi\"\n";
const SETUPTOOLS: &str = "[build-system]\nrequires = [\"setuptools>=61\", \"wheel\"]\nbuild-backend = \"setuptools.build_meta\"\n";
const UV: &str = "[build-system]\nrequires = [\"uv_build>=0.7\"]\nbuild-backend = \"uv_build\"\n";

const CASES: &[Case] = &[
    Case {
        title: "hatchling, src layout, gitignore, readme and license",
        pyproject: "[project]\nname = \"demo\"\nversion = \"1.0\"\nreadme = \"README.md\"\nkeywords = [\"zeta\", \"alpha\"]\n",
        files: &[
            "src/demo/__init__.py",
            "src/demo/mod.pyc",
            "src/demo/__pycache__/x.py",
            "README.md",
            "LICENSE",
            "NOTICE.txt",
            ".gitignore=build/\n*.log\n",
            "build/junk.py",
            "app.log",
            "dist/demo-0.9.tar.gz",
            ".tox/x.py",
        ],
    },
    Case {
        title: "hatchling, explicit packages and shared data",
        pyproject: "[project]\nname = \"demo\"\nversion = \"1.0\"\n\
            [tool.hatch.build.targets.wheel]\npackages = [\"lib/demo\"]\n\
            shared-data = { \"share/x.txt\" = \"etc/x.txt\", \"assets\" = \"assets\" }\n\
            [tool.hatch.metadata]\nallow-direct-references = true\n",
        files: &[
            "lib/demo/__init__.py",
            "lib/demo/core.py",
            "share/x.txt",
            "assets/a/b.css",
            "assets/c.pyc",
        ],
    },
    Case {
        title: "hatchling, a single module",
        pyproject: "[project]\nname = \"Demo.Mod\"\nversion = \"1.0\"\n",
        files: &["demo_mod.py", "tests/test_x.py"],
    },
    Case {
        title: "hatchling, options it does not reproduce, in order",
        pyproject: "[project]\nname = \"demo\"\nversion = \"1.0\"\ndynamic = [\"readme\"]\n\
            [tool.hatch.build]\ndev-mode-dirs = [\".\"]\n\
            [tool.hatch.build.hooks.vcs]\nversion-file = \"v.py\"\n\
            [tool.hatch.build.targets.wheel]\nonly-include = [\"src\"]\n\
            [tool.hatch.build.targets.sdist]\nexclude = [\"x\"]\n\
            [tool.hatch.build.targets.custom]\n\
            [tool.hatch.metadata.hooks.fancy]\n",
        files: &["src/demo/__init__.py", "hatch_build.py", "hatch.toml"],
    },
    Case {
        title: "hatchling, plugins among the build requirements",
        pyproject: "[build-system]\nrequires = [\"hatchling\", \"hatch-vcs>=0.3\", \"flit-core\", \"uv_build\", \"setuptools\"]\nbuild-backend = \"hatchling.build\"\n\
            [project]\nname = \"demo\"\nversion = \"1.0\"\n",
        files: &["src/demo/__init__.py"],
    },
    Case {
        title: "hatchling, no package",
        pyproject: "[project]\nname = \"demo\"\nversion = \"1.0\"\n",
        files: &["other/__init__.py"],
    },
    Case {
        title: "flit_core, src layout",
        pyproject: "[project]\nname = \"demo-pkg\"\nversion = \"1.0\"\nreadme = \"README.rst\"\nkeywords = [\"zeta\", \"alpha\"]\n",
        files: &[
            "src/demo_pkg/__init__.py",
            "src/demo_pkg/data/x.json",
            "src/demo_pkg/y.pyc",
            "README.rst",
            "LICENSE.txt",
            "notes.txt",
        ],
    },
    Case {
        title: "flit_core, module name",
        pyproject: "[project]\nname = \"demo\"\nversion = \"1.0\"\n[tool.flit.module]\nname = \"other\"\n",
        files: &["other.py", "demo/__init__.py"],
    },
    Case {
        title: "flit_core, package at the root and under src",
        pyproject: "[project]\nname = \"demo\"\nversion = \"1.0\"\n",
        files: &["demo/__init__.py", "src/demo/__init__.py"],
    },
    Case {
        title: "flit_core, options it does not reproduce",
        pyproject: "[build-system]\nrequires = [\"flit_core >=3.2\", \"setuptools\"]\nbuild-backend = \"flit_core.buildapi\"\n\
            [project]\nname = \"demo\"\nversion = \"1.0\"\n\
            [tool.flit.sdist]\ninclude = [\"x\"]\n[tool.flit.module]\nname = \"demo\"\nfoo = 1\n",
        files: &["demo/__init__.py"],
    },
    Case {
        title: "flit_core with a `[tool.uv.build-backend]` data table",
        pyproject: "[project]\nname = \"demo\"\nversion = \"1.0\"\n\
            [tool.uv.build-backend.data]\ndata = \"share\"\n",
        files: &["demo/__init__.py", "share/a.txt"],
    },
    Case {
        title: "flit_core, no package",
        pyproject: "[project]\nname = \"demo\"\nversion = \"1.0\"\n",
        files: &["lib/demo/__init__.py"],
    },
    Case {
        title: "setuptools, src layout found automatically",
        pyproject: "[project]\nname = \"demo\"\nversion = \"1.0\"\nkeywords = [\"zeta\", \"alpha\"]\n",
        files: &[
            "src/demo/__init__.py",
            "src/demo/data.json",
            "src/demo/py.typed",
            "src/demo/stubs.pyi",
            "src/demo/sub/__init__.py",
            "src/demo/sub/deep.py",
            "src/other/x.py",
            "LICENSE",
            "AUTHORS.md",
        ],
    },
    Case {
        title: "setuptools, packages.find and py-modules",
        pyproject: "[project]\nname = \"demo\"\nversion = \"1.0\"\nlicense-files = [\"LICENSE\"]\n\
            [tool.setuptools]\nzip-safe = false\npy-modules = [\"helper\"]\n\
            [tool.setuptools.packages.find]\nwhere = [\"lib\"]\ninclude = [\"demo*\"]\nexclude = [\"demo.tests\"]\nnamespaces = false\n",
        files: &[
            "lib/demo/__init__.py",
            "lib/demo/tests/__init__.py",
            "lib/demo/ns/x.py",
            "lib/helper.py",
            "lib/other/__init__.py",
            "LICENSE",
            "COPYING",
        ],
    },
    Case {
        title: "setuptools, explicit package list and package-dir",
        pyproject: "[project]\nname = \"demo\"\nversion = \"1.0\"\n\
            [tool.setuptools]\npackages = [\"demo\", \"demo.sub\"]\npackage-dir = { \"\" = \"code\" }\n",
        files: &["code/demo/__init__.py", "code/demo/sub/__init__.py"],
    },
    Case {
        title: "setuptools, flat layout discovery",
        pyproject: "[project]\nname = \"demo\"\nversion = \"1.0\"\n",
        files: &["demo/__init__.py"],
    },
    Case {
        title: "setuptools, several find directories",
        pyproject: "[project]\nname = \"demo\"\nversion = \"1.0\"\n\
            [tool.setuptools.packages.find]\nwhere = [\"a\", \"b\"]\n",
        files: &["a/demo/__init__.py"],
    },
    Case {
        title: "setuptools, options it does not reproduce, in order",
        pyproject: "[build-system]\nrequires = [\"setuptools\", \"setuptools-scm>=8\", \"cython\"]\nbuild-backend = \"setuptools.build_meta\"\n\
            [project]\nname = \"demo\"\nversion = \"1.0\"\n\
            [tool.setuptools]\npackage-dir = { \"\" = \"src\", \"x\" = \"y\" }\n\
            [tool.setuptools.package-data]\ndemo = [\"*.json\"]\n",
        files: &["src/demo/__init__.py", "setup.py", "MANIFEST.in"],
    },
    Case {
        title: "uv_build, src layout and data directories",
        pyproject: "[project]\nname = \"Demo.Pkg\"\nversion = \"1.0\"\nreadme = \"README.md\"\nkeywords = [\"zeta\", \"alpha\"]\n\
            [tool.uv.build-backend.data]\nscripts = \"bin\"\ndata = \"share/\"\n",
        files: &[
            "src/demo_pkg/__init__.py",
            "src/demo_pkg/x.pyo",
            "src/demo_pkg/assets/logo.svg",
            "bin/tool.sh",
            "share/a.txt",
            "README.md",
            "LICENSE",
        ],
    },
    Case {
        title: "uv_build, module root and dotted module name",
        pyproject: "[project]\nname = \"demo\"\nversion = \"1.0\"\nlicense-files = [\"LICEN[CS]E*\"]\n\
            [tool.uv.build-backend]\nmodule-root = \"\"\nmodule-name = \"ns.demo\"\n",
        files: &["ns/demo/core.py", "LICENSE"],
    },
    Case {
        title: "uv_build, unknown data kind",
        pyproject: "[project]\nname = \"demo\"\nversion = \"1.0\"\n\
            [tool.uv.build-backend.data]\nconfig = \"etc\"\n",
        files: &["src/demo/__init__.py", "etc/a.conf"],
    },
    Case {
        title: "uv_build, options it does not reproduce",
        pyproject: "[build-system]\nrequires = [\"uv_build>=0.7\", \"hatchling\", \"cffi\"]\nbuild-backend = \"uv_build\"\n\
            [project]\nname = \"demo\"\nversion = \"1.0\"\n\
            [tool.uv.build-backend]\nsource-include = [\"x\"]\nnamespace = true\n",
        files: &["src/demo/__init__.py"],
    },
    Case {
        title: "uv_build, no package",
        pyproject: "[project]\nname = \"demo\"\nversion = \"1.0\"\n",
        files: &["demo/__init__.py"],
    },
    Case {
        title: "an unknown backend",
        pyproject: "[build-system]\nrequires = [\"pdm-backend\"]\nbuild-backend = \"pdm.backend\"\n\
            [project]\nname = \"demo\"\nversion = \"1.0\"\n",
        files: &["src/demo/__init__.py"],
    },
];

/// The `[build-system]` a case gets when it declares none: the backend its
/// title starts with.
fn build_system(case: &Case) -> &'static str {
    if case.pyproject.starts_with("[build-system]") {
        ""
    } else if case.title.starts_with("hatchling") {
        HATCH
    } else if case.title.starts_with("flit_core") {
        FLIT
    } else if case.title.starts_with("setuptools") {
        SETUPTOOLS
    } else {
        UV
    }
}

/// Writes the case's files under `root`: `path=content`, or `path` with
/// content naming it.
fn write_files(root: &Path, case: &Case) -> String {
    // A repository root: hatchling looks for a `.gitignore` no further up.
    std::fs::create_dir_all(root.join(".git")).unwrap();
    for spec in case.files {
        let (path, content) = spec
            .split_once('=')
            .map_or((*spec, format!("# {spec}\n")), |(p, c)| (p, c.to_owned()));
        let full = root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, content).unwrap();
    }
    let text = format!("{}{}", build_system(case), case.pyproject);
    std::fs::write(root.join("pyproject.toml"), &text).unwrap();
    text
}

fn entries(out: &mut String, root: &Path, label: &str, list: &[Entry]) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(out, "  {label}:");
    for e in list {
        let from = match &e.source {
            Source::Disk(path) => {
                let rel = path.strip_prefix(root).unwrap_or(path);
                let rel = rel.to_string_lossy().replace('\\', "/");
                if rel == e.path {
                    String::new()
                } else {
                    format!(" <- {rel}")
                }
            }
            Source::Bytes(bytes) => format!(" = {:?}", String::from_utf8_lossy(bytes)),
        };
        let _ = writeln!(out, "    {}{from}", e.path);
    }
}

/// The plan of one case, as text.
fn render(case: &Case) -> String {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let text = write_files(root, case);
    let pyproject = PyProject::parse(&text, &root.join("pyproject.toml")).unwrap();
    let mut out = format!("## {}\n", case.title);
    match plan::plan(root, &pyproject) {
        Err(e) => {
            let shown = e.to_string().replace(&root.display().to_string(), "[ROOT]");
            let _ = writeln!(out, "  error: {shown}");
            if let Some(hint) = e.hint() {
                let _ = writeln!(out, "  hint: {hint}");
            }
        }
        Ok(Err(unsupported)) => {
            out.push_str("  unsupported:\n");
            for r in &unsupported.reasons {
                let _ = writeln!(out, "    {r}");
            }
        }
        Ok(Ok(p)) => {
            let m = &p.metadata;
            let _ = writeln!(out, "  backend: {}", p.backend);
            let _ = writeln!(out, "  name: {} {}", m.name, m.version);
            if !m.keywords.is_empty() {
                let _ = writeln!(out, "  keywords: {}", m.keywords.join(", "));
            }
            if !m.dynamic.is_empty() {
                let _ = writeln!(out, "  dynamic: {}", m.dynamic.join(", "));
            }
            if !m.license_files.is_empty() {
                let _ = writeln!(out, "  license files: {}", m.license_files.join(", "));
            }
            entries(&mut out, root, "wheel", &p.wheel_files);
            entries(&mut out, root, "data", &p.data_files);
            entries(&mut out, root, "licenses", &p.license_files);
            entries(&mut out, root, "dist-info", &p.extra_dist_info);
            entries(&mut out, root, "sdist", &p.sdist_files);
            if let Some(why) = &p.sdist_differs {
                let _ = writeln!(out, "  sdist differs: {why}");
            }
        }
    }
    out
}

#[test]
fn each_backend_plans_its_own_way() {
    let out: Vec<String> = CASES.iter().map(render).collect();
    insta::assert_snapshot!(out.join("\n"));
}
