//! The code examples `levee explain` prints are right. The Flask and Express
//! 503 examples run, on loopback, and pass `levee check` (status,
//! Retry-After, problem+json, no-store, request id); Flask is installed into
//! a venv and Express with npm under the target directory when missing. The
//! Go, PHP and Ruby examples are compiled (`go vet`, and `gofmt -l`) or
//! syntax-checked (`php -l`, `ruby -c`) when those tools are installed.
//! A tool that is missing and cannot be installed skips its test with a
//! message on stderr; nothing is faked.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use crate::fetch::levee;
use crate::support::{cache_dir, python_venv, run, skip};

/// The `code` of `levee explain CODE --json --examples FRAMEWORK`.
async fn example(code: &str, framework: &str) -> String {
    let out = levee(&["explain", code, "--json", "--examples", framework]).await;
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    v["examples"][0]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no {framework} example for {code}: {v}"))
        .to_owned()
}

/// Reads `from` until a line holds `http://127.0.0.1:PORT`; returns the URL.
async fn listening_url(from: impl AsyncRead + Unpin) -> Option<String> {
    let mut lines = BufReader::new(from).lines();
    let find = async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(at) = line.find("http://127.0.0.1:") {
                let url: String = line[at..]
                    .chars()
                    .take_while(|c| !c.is_whitespace())
                    .collect();
                return Some(format!("{}/", url.trim_end_matches('/')));
            }
        }
        None
    };
    tokio::time::timeout(Duration::from_secs(30), find)
        .await
        .ok()
        .flatten()
}

/// `levee check URL` must pass: the 503 contract is kept.
async fn assert_check_passes(url: &str, framework: &str) {
    let out = levee(&["check", url]).await;
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the {framework} 503 example falls short:\n{report}"
    );
    for needle in [
        "PASS  Retry-After: 120 (delay-seconds)",
        "PASS  Cache-Control: no-store",
        "PASS  Content-Type: application/problem+json",
        "PASS  problem status 503 matches the response",
        "in X-Request-Id and the body",
        "meets the 503 contract",
    ] {
        assert!(
            report.contains(needle),
            "{framework}: no {needle:?} in\n{report}"
        );
    }
}

fn spawn(mut cmd: Command) -> Option<Child> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .ok()
}

#[tokio::test]
async fn the_flask_503_example_runs_and_keeps_the_contract() {
    let Some(venv) = python_venv("explain-flask", &["flask"], "flask").await else {
        return skip("the Flask example: python3 -m venv + pip install flask failed");
    };
    let app = tempfile::tempdir().expect("tempdir");
    std::fs::write(app.path().join("app.py"), example("503", "flask").await).expect("write app.py");
    let mut cmd = Command::new(venv.join("bin/flask"));
    cmd.args(["--app", "app", "run", "--port", "0"])
        .current_dir(app.path());
    let mut server = spawn(cmd).expect("start flask");
    let url = listening_url(server.stderr.take().expect("stderr"))
        .await
        .expect("flask says where it listens");
    assert_check_passes(&url, "Flask").await;
}

#[tokio::test]
async fn the_express_503_example_runs_and_keeps_the_contract() {
    let dir = cache_dir("explain-express");
    if !dir.join("node_modules/express/package.json").exists() {
        let installed = run(
            "npm",
            &["install", "--no-audit", "--no-fund", "--silent", "express"],
            &dir,
        )
        .await;
        if installed.is_none() {
            return skip("the Express example: npm install express failed (or npm is missing)");
        }
    }
    // Next to node_modules, so that require("express") finds it.
    let file = dir.join(format!("app-{}.js", std::process::id()));
    std::fs::write(&file, example("503", "express").await).expect("write app.js");
    let mut cmd = Command::new("node");
    cmd.arg(&file).env("PORT", "0").current_dir(&dir);
    let Some(mut server) = spawn(cmd) else {
        let _ = std::fs::remove_file(&file);
        return skip("the Express example: node is missing");
    };
    let url = listening_url(server.stdout.take().expect("stdout")).await;
    let _ = std::fs::remove_file(&file);
    assert_check_passes(&url.expect("express says where it listens"), "Express").await;
}

/// The codes whose examples carry an extra header (Retry-After, Allow,
/// WWW-Authenticate) or none.
const CODES: [&str; 4] = ["503", "429", "405", "401"];

#[tokio::test]
async fn the_go_examples_compile_and_are_gofmt_clean() {
    let dir = tempfile::tempdir().expect("tempdir");
    if run("go", &["version"], dir.path()).await.is_none() {
        return skip("the Go examples: go is not installed (apt-get install -y golang-go)");
    }
    for code in CODES {
        let sub = dir.path().join(code);
        std::fs::create_dir_all(&sub).expect("mkdir");
        std::fs::write(sub.join("main.go"), example(code, "go").await).expect("write main.go");
        let vet = Command::new("go")
            .args(["vet", "main.go"])
            .current_dir(&sub)
            .output()
            .await
            .expect("go vet runs");
        assert!(
            vet.status.success(),
            "go vet of the {code} example:\n{}",
            String::from_utf8_lossy(&vet.stderr)
        );
        let unformatted = run("gofmt", &["-l", "main.go"], &sub)
            .await
            .expect("gofmt runs");
        assert!(
            unformatted.trim().is_empty(),
            "{code}: gofmt would change {unformatted}"
        );
    }
}

#[tokio::test]
async fn the_php_and_ruby_examples_are_valid_syntax() {
    let dir = tempfile::tempdir().expect("tempdir");
    let checks = [
        ("php", "index.php", ["-l"], "apt-get install -y php-cli"),
        ("sinatra", "app.rb", ["-c"], "apt-get install -y ruby"),
    ];
    for (framework, file, flag, install) in checks {
        let tool = if framework == "php" { "php" } else { "ruby" };
        if run(tool, &["--version"], dir.path()).await.is_none() {
            skip(&format!(
                "the {framework} examples: {tool} is not installed ({install})"
            ));
            continue;
        }
        for code in CODES {
            let path = dir.path().join(format!("{code}-{file}"));
            std::fs::write(&path, example(code, framework).await).expect("write");
            let out = Command::new(tool)
                .args(flag)
                .arg(&path)
                .output()
                .await
                .expect("the checker runs");
            assert!(
                out.status.success(),
                "{tool} {} of the {code} example:\n{}{}",
                flag[0],
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
