//! What the deployment tests check the shipped files with: `kubernetes-validate` (PyPI; it carries the
//! Kubernetes schemas, so validation is offline) in a venv under target/, and the machine's own
//! `systemd-analyze` and `groff`. A missing tool fails the calling test, naming it: nothing is skipped.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::process::run_bounded;
use crate::python_tools::{must, workspace, RUN_LIMIT};

const INSTALL_LIMIT: Duration = Duration::from_secs(600);

/// The `kubernetes-validate` executable, installed into target/k8s-venv on first use and reused.
pub fn kubernetes_validate() -> PathBuf {
    let venv = workspace().join("target").join("k8s-venv");
    let tool = venv.join("bin").join("kubernetes-validate");
    let ready =
        || tool.is_file() && run_bounded(Command::new(&tool).arg("--version"), RUN_LIMIT).success();
    if ready() {
        return tool;
    }
    must(
        run_bounded(
            Command::new("python3")
                .args(["-m", "venv", "--clear"])
                .arg(&venv),
            RUN_LIMIT,
        ),
        "python3 -m venv (install python3 and python3-venv)",
    );
    must(
        run_bounded(
            Command::new(venv.join("bin").join("pip")).args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "kubernetes-validate",
            ]),
            INSTALL_LIMIT,
        ),
        "pip install kubernetes-validate",
    );
    assert!(
        ready(),
        "{} does not run after installing it",
        tool.display()
    );
    tool
}

/// A file shipped under deploy/.
pub fn shipped(relative: &str) -> PathBuf {
    workspace().join("deploy").join(relative)
}
