//! The maintenance page as a person sees it: a real gateway in a maintenance
//! window, its traffic URL rendered by headless Chromium (Debian's
//! `chromium`, installed with apt when missing and we are root). The DOM is
//! checked for the operator's message, the end time and the request id, and
//! a screenshot is kept at `target/test-artifacts/maintenance-page.png`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use tokio::process::Command;

use crate::support::*;

/// The operator's message, with an ampersand to see it escaped.
const MESSAGE: &str =
    "Database upgrade & reindex: search will be faster afterwards. Thanks for your patience!";

#[tokio::test]
async fn a_browser_sees_the_message_the_end_time_and_the_request_id() {
    let Some(chromium) = chromium().await else {
        return;
    };
    let upstream = Upstream::echo().await;
    // A window in force from the moment the config loads, ending on a whole
    // minute two hours from now (the page shows hours and minutes).
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let end = SystemTime::UNIX_EPOCH + Duration::from_secs((now / 60 + 121) * 60);
    let end_iso = levee_http::maintenance::rfc3339(end);
    let gw = Gw::to(
        upstream.addr,
        &format!(
            "[maintenance]\n[[maintenance.windows]]\nname = \"upgrade\"\nends_at = \"{end_iso}\"\nmessage = {}\n",
            serde_json::to_string(MESSAGE).expect("a string serializes")
        ),
    )
    .await;
    let url = gw.url("/account");

    // What a browser asks for is what it gets: the page, as a 503.
    let got = get(&url, &[("accept", "text/html,*/*;q=0.8")]).await;
    assert_eq!(got.status.as_u16(), 503, "{}", got.text());
    assert_eq!(got.header("content-type"), Some("text/html; charset=utf-8"));
    let retry_after: u64 = got
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in delay-seconds");
    assert!(
        (7100..=7260).contains(&retry_after),
        "Retry-After {retry_after} is the time to the window's end"
    );

    let browser = Browser::new(chromium);
    let dom = browser.dump_dom(&url).await;
    assert!(
        dom.contains("Database upgrade &amp; reindex: search will be faster afterwards."),
        "the message is on the page:\n{dom}"
    );
    let human = levee_http::maintenance::human_utc(end);
    assert!(dom.contains(&human), "the end time `{human}`:\n{dom}");
    assert!(
        dom.contains(&format!("datetime=\"{end_iso}\"")),
        "the machine-readable end time:\n{dom}"
    );
    let id = request_id_in(&dom).unwrap_or_else(|| panic!("a request id on the page:\n{dom}"));
    assert!(
        !upstream.seen().iter().any(|s| s.uri.path() == "/account"),
        "the upstream was not contacted for request {id}"
    );
    assert!(dom.contains("http-equiv=\"refresh\""), "{dom}");
    assert!(!dom.contains("{{"), "every placeholder is filled:\n{dom}");

    let png = artifacts_dir().join("maintenance-page.png");
    let _ = std::fs::remove_file(&png);
    browser.screenshot(&url, &png, (1280, 800)).await;
    let bytes = std::fs::read(&png).expect("the screenshot was written");
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is a PNG",
        png.display()
    );
    assert_eq!(png_size(&bytes), Some((1280, 800)), "the window's size");
    assert!(
        (10_000..5_000_000).contains(&bytes.len()),
        "a page, not a blank: {} bytes",
        bytes.len()
    );
    println!("maintenance page screenshot: {}", png.display());
}

/// `target/test-artifacts`, created: what tests leave for a person to look at.
pub(crate) fn artifacts_dir() -> PathBuf {
    let dir = target_dir().join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("create target/test-artifacts");
    dir
}

/// Cargo's target directory.
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    )
}

/// The first `req_` + 26-character ULID in `text`.
fn request_id_in(text: &str) -> Option<&str> {
    text.match_indices("req_").find_map(|(at, _)| {
        let id = text.get(at..at + 30)?;
        id[4..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric())
            .then_some(id)
    })
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    let be = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(png.get(at..at + 4)?.try_into().ok()?))
    };
    (png.get(12..16)? == b"IHDR").then_some(())?;
    Some((be(16)?, be(20)?))
}

/// The Chromium binary: found on `PATH`, or installed from Debian's packages
/// when we are root and have apt. `None` (with the reason printed) only when
/// it truly cannot be had.
pub(crate) async fn chromium() -> Option<PathBuf> {
    const NAMES: [&str; 2] = ["chromium", "chromium-browser"];
    if let Some(found) = NAMES.iter().find_map(|n| on_path(n)) {
        return Some(found);
    }
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if !root || on_path("apt-get").is_none() {
        println!(
            "skipped: chromium is not installed and cannot be (root: {root}; apt-get found: {})",
            on_path("apt-get").is_some()
        );
        return None;
    }
    for args in [
        &["update", "-qq"][..],
        &["install", "-y", "-qq", "chromium"][..],
    ] {
        let out = tokio::time::timeout(
            Duration::from_secs(900),
            Command::new("apt-get")
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("apt-get finishes within 15 minutes")
        .expect("apt-get runs");
        assert!(
            out.status.success(),
            "apt-get {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Some(
        NAMES
            .iter()
            .find_map(|n| on_path(n))
            .expect("chromium installed"),
    )
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Headless Chromium runs, each with a profile of its own.
pub(crate) struct Browser {
    binary: PathBuf,
}

impl Browser {
    pub(crate) fn new(binary: PathBuf) -> Browser {
        Browser { binary }
    }

    /// A headless run with a fresh profile, bounded in time. Anything not on
    /// loopback is sent to a proxy that does not exist (loopback bypasses
    /// proxies), so the browser reaches nothing beyond this machine.
    async fn run(&self, args: &[&str]) -> std::process::Output {
        let profile = tempfile::tempdir().expect("profile dir");
        let mut cmd = Command::new(&self.binary);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--hide-scrollbars",
            "--proxy-server=127.0.0.1:9",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true);
        tokio::time::timeout(Duration::from_secs(90), cmd.output())
            .await
            .expect("chromium finishes within 90 s")
            .expect("chromium runs")
    }

    /// The DOM after the page loaded.
    pub(crate) async fn dump_dom(&self, url: &str) -> String {
        let out = self.run(&["--dump-dom", url]).await;
        assert!(
            out.status.success(),
            "chromium --dump-dom failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A PNG of the page at `size`, written to `path`.
    pub(crate) async fn screenshot(&self, url: &str, path: &Path, size: (u32, u32)) {
        let out = self
            .run(&[
                &format!("--screenshot={}", path.display()),
                &format!("--window-size={},{}", size.0, size.1),
                url,
            ])
            .await;
        assert!(
            out.status.success() && path.is_file(),
            "chromium --screenshot failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
