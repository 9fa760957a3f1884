//! The admin API against its OpenAPI document: the document the gateway
//! serves is the file in the repository, the file is a valid OpenAPI 3.1
//! document (openapi-spec-validator), and a real `levee serve` answers as
//! the document says (schemathesis, from PyPI, in a venv under `target/`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::maintenance_page::{artifacts_dir, target_dir};
use crate::support::*;

/// The document, as the repository has it.
const DOCUMENT: &str = include_str!("../../levee-control/openapi.json");

/// The Python tools, pinned so that a new release cannot change a verdict.
const PIP_PACKAGES: [&str; 2] = ["schemathesis==4.32.5", "openapi-spec-validator==0.9.0"];

/// The checks every response must pass.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance";

const TOKEN: &str = "schemathesis-token-0123456789";

#[tokio::test]
async fn the_admin_listener_serves_the_repository_document() {
    let upstream = Upstream::echo().await;
    let gw = Gw::to(upstream.addr, "").await;
    let got = get(&gw.admin_url("/openapi.json"), &[]).await;
    assert_eq!(got.status.as_u16(), 200, "{}", got.text());
    assert!(
        got.header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{:?}",
        got.header("content-type")
    );
    let file: serde_json::Value = serde_json::from_str(DOCUMENT).expect("openapi.json is JSON");
    assert_eq!(got.json(), file, "the served document is the file");
    assert_eq!(file["openapi"], "3.1.0");
}

#[tokio::test]
async fn the_admin_api_answers_as_its_openapi_document_says() {
    let Some(venv) = python_tools().await else {
        return;
    };
    let document = Path::new(env!("CARGO_MANIFEST_DIR")).join("../levee-control/openapi.json");
    let out = bounded(
        Command::new(venv.join("bin/openapi-spec-validator")).arg(&document),
        60,
    )
    .await;
    assert!(
        out.status.success(),
        "openapi.json is not a valid OpenAPI document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let served = serve(dir.path());
    let admin = format!("http://{}", served.admin);
    let report = artifacts_dir().join("schemathesis.xml");
    let out = bounded(
        Command::new(venv.join("bin/schemathesis"))
            .arg("--no-color")
            .arg("run")
            .arg(format!("{admin}/openapi.json"))
            .args(["--url", &admin])
            .args(["--header", &format!("Authorization: Bearer {TOKEN}")])
            .args(["--checks", CHECKS])
            .args(["--max-examples", "30", "--max-time", "120", "--seed", "1"])
            .args(["--workers", "1", "--request-timeout", "10"])
            .args(["--report", "junit", "--report-junit-path"])
            .arg(&report)
            // Hypothesis keeps its example database in the working directory.
            .current_dir(dir.path())
            .env("NO_COLOR", "1"),
        400,
    )
    .await;
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{output}");
    assert!(
        out.status.success(),
        "schemathesis found responses that break openapi.json (report: {}); the gateway's last log lines:\n{}",
        report.display(),
        last_lines(&served.log.lock().expect("lock"), 40)
    );
}

/// A `levee serve` child with one pool, one route, a window declared in the
/// config file, a data directory and an admin token, all under `dir`.
fn serve(dir: &Path) -> Served {
    let config = dir.join("levee.toml");
    std::fs::write(
        &config,
        "[[listeners]]\nlisten = \"127.0.0.1:0\"\n\n[admin]\nlisten = \"127.0.0.1:0\"\n\n\
         [[pools]]\nname = \"app\"\nendpoints = [\"127.0.0.1:8081\"]\n\n\
         [[routes]]\nname = \"api\"\npool = \"app\"\n\n\
         [maintenance]\n[[maintenance.windows]]\nname = \"nightly\"\n\
         starts_at = \"2099-01-01T00:00:00Z\"\nends_at = \"2099-01-01T01:00:00Z\"\n\
         message = \"Declared in the config file\"\n",
    )
    .expect("write config");
    let tokens = dir.join("tokens");
    std::fs::write(&tokens, format!("schemathesis:{TOKEN}\n")).expect("write tokens");
    let path = |p: &Path| p.to_str().expect("a UTF-8 temp path").to_owned();
    Served::start(&[
        "--config",
        &path(&config),
        "--data-dir",
        &path(&dir.join("data")),
        "--admin-token-file",
        &path(&tokens),
    ])
}

/// The last `n` of `lines`, one per line.
fn last_lines(lines: &[String], n: usize) -> String {
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Runs `cmd` to completion within `secs` seconds, killing it otherwise.
async fn bounded(cmd: &mut Command, secs: u64) -> std::process::Output {
    let what = format!("{:?}", cmd.as_std().get_program());
    tokio::time::timeout(
        Duration::from_secs(secs),
        cmd.stdin(Stdio::null()).kill_on_drop(true).output(),
    )
    .await
    .unwrap_or_else(|_| panic!("{what} did not finish within {secs} s"))
    .unwrap_or_else(|e| panic!("{what} cannot run: {e}"))
}

/// A venv under `target/` with [`PIP_PACKAGES`], made on first use. `None`
/// (with the reason printed) only when there is no Python 3 to make it with.
async fn python_tools() -> Option<PathBuf> {
    let venv = target_dir().join("test-venv");
    let stamp = venv.join(PIP_PACKAGES.join(" ").replace(['=', ' '], "_"));
    if stamp.is_file() {
        return Some(venv);
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .stdin(Stdio::null())
        .output()
        .await;
    match made {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "python3 -m venv failed (Debian: apt-get install python3-venv):\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => {
            println!("skipped: no python3 to install schemathesis with ({e})");
            return None;
        }
    }
    let out = bounded(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(PIP_PACKAGES),
        600,
    )
    .await;
    assert!(
        out.status.success(),
        "pip install {PIP_PACKAGES:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&stamp, "").expect("stamp the venv");
    Some(venv)
}
