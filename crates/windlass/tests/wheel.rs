//! End to end through `windlass wheel`: build a project, check it, publish it
//! to a real pypiserver with the password kept in a real OpenBao, install it
//! with pip, publish again (skipped), and never print a credential.

#![allow(
    clippy::unwrap_used,
    clippy::disallowed_methods,
    reason = "a test fails loudly on the first surprise and drives independent clients directly"
)]

use std::fs;
use std::path::Path;
use std::process::Command;

use windlass_testkit::cli::{Cli, Run};
use windlass_testkit::{Services, assert_no_leak_in_dir};

fn windlass(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    Cli::new(env!("CARGO_BIN_EXE_windlass"), dir)
        .env("RUST_BACKTRACE", "1")
        .args(args)
        .envs(env.iter().copied())
        .run()
}

/// A small hatchling project with a console script printing `e2e ok`.
fn write_project(root: &Path, name: &str) {
    let module = name.replace('-', "_");
    fs::write(
        root.join("pyproject.toml"),
        format!(
            "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n\
             [project]\nname = \"{name}\"\nversion = \"1.0.0\"\ndescription = \"end-to-end\"\n\
             readme = \"README.md\"\nlicense = \"MIT\"\nrequires-python = \">=3.9\"\n\n\
             [project.scripts]\n{name} = \"{module}:main\"\n"
        ),
    )
    .unwrap();
    fs::write(root.join("README.md"), "# e2e\n").unwrap();
    fs::create_dir_all(root.join("src").join(&module)).unwrap();
    fs::write(
        root.join("src").join(&module).join("__init__.py"),
        "def main():\n    print('e2e ok')\n",
    )
    .unwrap();
}

/// Installs `name==1.0.0` from `simple_url` into a fresh venv with pip and
/// runs its console script; returns what the script printed.
fn pip_install_and_run(root: &Path, python: &Path, simple_url: &str, name: &str) -> String {
    let venv = root.join("venv");
    assert!(
        Command::new(python)
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap()
            .success()
    );
    let pip = Command::new(venv.join("bin/pip"))
        .args([
            "install",
            "--quiet",
            "--no-deps",
            "--disable-pip-version-check",
            "--index-url",
        ])
        .arg(simple_url)
        .arg(format!("{name}==1.0.0"))
        .output()
        .unwrap();
    assert!(
        pip.status.success(),
        "{}",
        String::from_utf8_lossy(&pip.stderr)
    );
    let script = Command::new(venv.join("bin").join(name)).output().unwrap();
    String::from_utf8_lossy(&script.stdout).into_owned()
}

#[test]
fn build_check_publish_install_and_republish() {
    let services = Services::load();
    let bao = services.bao();
    let index = services.pypiserver_auth();
    let (user, password) = index.auth.clone().unwrap();
    let tools = services.tools();

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("home")).unwrap();
    fs::create_dir(root.join(".git")).unwrap();
    // A project name no earlier run has used: the index keeps its files.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let suffix = format!("{:x}{:x}", nanos, std::process::id());
    let name = format!("windlass-e2e-{suffix}");
    let module = name.replace('-', "_");
    let secret_path = format!("e2e/{name}");
    services
        .bao()
        .kv_put("secret", &secret_path, &[("password", password.expose())]);

    write_project(root, &name);
    fs::write(
        root.join("windlass.toml"),
        format!(
            "[vault]\naddress = \"{}\"\n\n[wheel]\nout = \"dist\"\n\n\
             [wheel.repositories.local]\nurl = \"{}\"\nusername = \"{user}\"\n\
             password = \"vault://secret/{secret_path}#password\"\n",
            bao.addr,
            index.upload_url()
        ),
    )
    .unwrap();
    let vault_token = bao.root_token.expose().clone();
    let summary = root.join("summary.md");
    let env = [
        ("VAULT_TOKEN", vault_token.as_str()),
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
    ];

    let built = windlass(root, &["wheel", "build"], &env);
    assert_eq!(built.code, 0, "{built}");
    let checked = windlass(root, &["wheel", "check", "dist/"], &env);
    // A directory is not a distribution: bad input, exit 2.
    assert_eq!(checked.code, 2, "{checked}");
    let wheel = format!("dist/{module}-1.0.0-py3-none-any.whl");
    let sdist = format!("dist/{module}-1.0.0.tar.gz");
    let checked = windlass(root, &["wheel", "check", &wheel, &sdist], &env);
    assert_eq!(checked.code, 0, "{checked}");

    let published = windlass(
        root,
        &["wheel", "publish", "--repository", "local", "--json"],
        &env,
    );
    assert_eq!(published.code, 0, "{published}");
    let doc: serde_json::Value =
        serde_json::from_str(published.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(doc["ok"], true, "{published}");
    let statuses: Vec<&str> = doc["data"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["uploaded", "uploaded"], "{published}");

    // pip, a client we did not write, installs it from the index.
    assert_eq!(
        pip_install_and_run(root, &tools.python, &index.simple_url(), &name),
        "e2e ok\n"
    );

    // Again: everything is there with the same hashes, so nothing is sent.
    let again = windlass(root, &["wheel", "publish", "--repository", "local"], &env);
    assert_eq!(again.code, 0, "{again}");
    assert!(again.stdout.contains("skipped"), "{again}");

    // In GitHub Actions the runner alone is told the secrets, to mask them.
    for run in [&built, &checked, &published, &again] {
        for secret in [password.expose(), &vault_token] {
            run.assert_no_leak_outside_masks(secret);
        }
    }
    published.assert_masked_only(password.expose());
    let table = fs::read_to_string(&summary).unwrap();
    assert!(
        table.contains(&format!("{module}-1.0.0-py3-none-any.whl")),
        "{table}"
    );
    for secret in [password.expose(), &vault_token] {
        assert_no_leak_in_dir(root, secret);
    }
}
