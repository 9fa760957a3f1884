//! The state store under faults, against a real `levee serve` and its real
//! SQLite file (issue 11, items 3 and 4): a data directory that stops
//! taking writes under a running gateway fails the admin write with a
//! problem while traffic flows; an emptied, deleted or damaged `levee.db`
//! stops the start with a message instead of silently dropping every
//! window; `--accept-empty-store` is the way past it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use http::{Request, Response};

use crate::support::*;

const TOKEN: &str = "alice-token-0123456789";

/// A data directory with its token file, and the arguments of a gateway
/// in front of `upstream` that keeps its state there.
struct Setup {
    dir: tempfile::TempDir,
    data: PathBuf,
    upstream: String,
}

impl Setup {
    fn new(upstream: &Upstream) -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("tokens"), format!("alice:{TOKEN}\n")).expect("tokens");
        let data = dir.path().join("data");
        Setup {
            data,
            upstream: upstream.url(),
            dir,
        }
    }

    fn db(&self) -> PathBuf {
        self.data.join("levee.db")
    }

    fn args(&self, extra: &[&str]) -> Vec<String> {
        let mut args = zero_config(&self.upstream);
        args.extend([
            "--data-dir".to_owned(),
            self.data.display().to_string(),
            "--admin-token-file".to_owned(),
            self.dir.path().join("tokens").display().to_string(),
        ]);
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        args
    }

    fn serve(&self, extra: &[&str]) -> Served {
        Served::start(
            &self
                .args(extra)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        )
    }

    /// Runs `levee serve` expecting it to refuse to start: its exit code and
    /// stderr. A gateway still running after 10 s has started instead (on
    /// the code before the fix): it is killed and the test fails.
    async fn refused(&self) -> (Option<i32>, String) {
        let mut child = levee()
            .arg("serve")
            .args(self.args(&[]))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("levee starts");
        let until = tokio::time::Instant::now() + Duration::from_secs(10);
        while child.try_wait().expect("wait").is_none() {
            if tokio::time::Instant::now() > until {
                let _ = child.kill();
                let _ = child.wait();
                panic!("levee started on a lost state store instead of refusing");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let out = child.wait_with_output().expect("output");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// An admin API call with alice's token.
async fn api(gw: &Served, method: &str, path: &str, body: Option<serde_json::Value>) -> Got {
    send(&h1(), admin_request(gw, method, path, body)).await
}

fn admin_request(
    gw: &Served,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> Request<TestBody> {
    Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", gw.admin))
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(full(body.map(|b| b.to_string()).unwrap_or_default()))
        .expect("request")
}

/// Stops a gateway the way an operator does, and waits for it.
async fn stop(mut gw: Served) {
    gw.signal("TERM");
    let status = gw.wait_exit(Duration::from_secs(30)).await;
    assert!(status.success(), "clean exit: {status}");
}

async fn ok_upstream() -> Upstream {
    Upstream::start(|_s: Seen| async move { Response::new(full("ok")) }).await
}

/// A gateway with an active window for everything: traffic gets 503.
async fn serve_with_active_window(setup: &Setup) -> Served {
    let gw = setup.serve(&[]);
    let created = api(
        &gw,
        "POST",
        "/v1/windows",
        Some(serde_json::json!({"duration_seconds": 3600, "message": "Database upgrade"})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(
        get(&gw.url("/"), &[]).await.status,
        503,
        "the window is in force"
    );
    gw
}

/// The message and path of the first JSON log line whose message starts with `prefix`.
fn log_line(gw: &Served, prefix: &str) -> Option<serde_json::Value> {
    gw.log
        .lock()
        .expect("lock")
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"].as_str().is_some_and(|m| m.starts_with(prefix)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_says_whether_the_store_was_created_or_opened() {
    let up = ok_upstream().await;
    let setup = Setup::new(&up);
    let db = setup.db().display().to_string();

    let first = setup.serve(&[]);
    let created = log_line(&first, "state store").expect("a state store line");
    assert_eq!(created["message"], "state store created");
    assert_eq!(created["level"], "INFO");
    assert_eq!(created["path"], db.as_str());
    stop(first).await;

    let second = setup.serve(&[]);
    let opened = log_line(&second, "state store").expect("a state store line");
    assert_eq!(opened["message"], "state store opened");
    assert_eq!(opened["level"], "INFO");
    assert_eq!(opened["path"], db.as_str());
}

/// A 0-byte `levee.db` (a bad restore, a full disk, `: > levee.db`) used to
/// start as a new store, and the window in force was no longer enforced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emptied_store_refuses_to_start_until_the_loss_is_accepted() {
    let up = ok_upstream().await;
    let setup = Setup::new(&up);
    stop(serve_with_active_window(&setup).await).await;
    std::fs::write(setup.db(), b"").expect("empty levee.db");

    let (code, err) = setup.refused().await;
    assert_eq!(code, Some(2), "{err}");
    let db = setup.db().display().to_string();
    assert!(
        err.contains(&format!("the state database {db} is empty (0 bytes)")),
        "{err}"
    );
    assert!(err.contains("restore it from a backup"), "{err}");
    assert!(err.contains("--accept-empty-store"), "{err}");

    let accepted = setup.serve(&["--accept-empty-store"]);
    let line = log_line(&accepted, "state store").expect("a state store line");
    assert_eq!(line["level"], "WARN", "{line}");
    assert!(
        line["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("state store created empty in place of a lost one")),
        "{line}"
    );
    assert_eq!(
        get(&accepted.url("/"), &[]).await.text(),
        "ok",
        "the operator accepted starting without the window"
    );
}

/// A deleted `levee.db` in a directory whose lock file names an earlier
/// gateway is lost state, not a fresh start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_store_refuses_to_start_where_a_gateway_kept_state() {
    let up = ok_upstream().await;
    let setup = Setup::new(&up);
    let first = serve_with_active_window(&setup).await;
    let pid = first.child.id();
    stop(first).await;
    for file in ["levee.db", "levee.db-wal", "levee.db-shm"] {
        let _ = std::fs::remove_file(setup.data.join(file));
    }

    let (code, err) = setup.refused().await;
    assert_eq!(code, Some(2), "{err}");
    let (db, lock) = (setup.db(), setup.data.join("levee.lock"));
    assert!(
        err.contains(&format!(
            "the state database {} is missing, but {} shows that a gateway (pid {pid}) kept its state here",
            db.display(),
            lock.display()
        )),
        "{err}"
    );
    assert!(err.contains("--accept-empty-store"), "{err}");

    let accepted = setup.serve(&["--accept-empty-store"]);
    assert_eq!(get(&accepted.url("/"), &[]).await.text(), "ok");
}

/// Damage where the start reads nothing (the audit log's page) used to go
/// unnoticed until some later admin write; `PRAGMA quick_check` finds it at
/// open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_store_refuses_to_start() {
    let up = ok_upstream().await;
    let setup = Setup::new(&up);
    stop(serve_with_active_window(&setup).await).await;
    damage_the_page_holding(&setup.db(), b"window.create");

    let (code, err) = setup.refused().await;
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "the state database {} is damaged (PRAGMA quick_check: ",
            setup.db().display()
        )),
        "{err}"
    );
    assert!(err.contains("restore it from a backup"), "{err}");
}

/// Overwrites the b-tree page-type byte of the database page that holds
/// `needle` (the audit table's page, for an audit action: no other table
/// stores it), so the file still opens but that b-tree is broken.
fn damage_the_page_holding(db: &Path, needle: &[u8]) {
    let mut bytes = std::fs::read(db).expect("read levee.db");
    // The header's page size, big-endian at offset 16 (1 means 65536).
    let page_size = match u16::from_be_bytes([bytes[16], bytes[17]]) {
        1 => 65_536,
        n => usize::from(n),
    };
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the audit entry is in levee.db (a clean stop checkpoints the WAL)");
    let page = at / page_size;
    assert!(page > 0, "not on page 1, the schema's");
    bytes[page * page_size] = 0x42; // no b-tree page has this type
    std::fs::write(db, bytes).expect("write levee.db");
}

/// Sets the immutable attribute on the data directory and its files, and
/// clears it on drop (else the temporary directory cannot be removed).
///
/// Why `chattr +i` and not `chmod`: the tests run as root, which ignores
/// mode bits, and mode bits are checked only at `open(2)` while SQLite
/// keeps its files open. The immutable attribute is checked on every
/// write, by root too, including the page fault of a store into a shared
/// memory map: on the code before the fix, that fault on `levee.db-shm`
/// killed the gateway with SIGBUS. A read-only remount is no substitute:
/// Linux refuses it (EBUSY) while files are open for writing.
struct Immutable(PathBuf);

impl Immutable {
    /// `None` when this machine cannot do it (not root, no
    /// CAP_LINUX_IMMUTABLE, a filesystem without the attribute).
    fn set(dir: &Path) -> Option<Immutable> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("read data dir")
            .map(|e| e.expect("entry").path())
            .collect();
        paths.push(dir.to_owned());
        let guard = Immutable(dir.to_owned());
        let ok = Command::new("chattr")
            .arg("+i")
            .args(&paths)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(guard)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr")
            .args(["-R", "-i"])
            .arg(&self.0)
            .stderr(Stdio::null())
            .status();
    }
}

/// Item 3: the data directory stops taking writes under a running gateway
/// (a failing or read-only disk). The next admin write is a 500 problem
/// saying so, nothing of it is applied, the gateway stays up, and traffic
/// keeps flowing. Before the fix, the write killed the process with SIGBUS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_that_stops_taking_writes_fails_the_write_not_the_gateway() {
    let up = ok_upstream().await;
    let setup = Setup::new(&up);
    let mut gw = setup.serve(&[]);
    // A window for tomorrow: the database and its WAL have been written.
    let tomorrow = levee_http::maintenance::rfc3339(
        std::time::SystemTime::now() + Duration::from_secs(86_400),
    );
    let scheduled = api(
        &gw,
        "POST",
        "/v1/windows",
        Some(serde_json::json!({"starts_at": tomorrow, "duration_seconds": 600})),
    )
    .await;
    assert_eq!(scheduled.status, 201, "{}", scheduled.text());

    let Some(_immutable) = Immutable::set(&setup.data) else {
        eprintln!(
            "skipped: `chattr +i` is not possible here (it needs root with CAP_LINUX_IMMUTABLE on ext4, xfs, btrfs or tmpfs)"
        );
        return;
    };
    // A window in force from now on: had any of it been applied, traffic
    // would get 503.
    let req = admin_request(
        &gw,
        "POST",
        "/v1/windows",
        Some(serde_json::json!({"duration_seconds": 600, "message": "never applied"})),
    );
    let answer = tokio::time::timeout(Duration::from_secs(30), h1().request(req))
        .await
        .expect("an answer within 30 s");
    let resp = match answer {
        Ok(resp) => resp,
        Err(e) => {
            let status = gw.wait_exit(Duration::from_secs(5)).await;
            panic!("no answer ({e}): levee died on the write, {status}");
        }
    };
    let (parts, body) = resp.into_parts();
    let failed = Got {
        status: parts.status,
        version: parts.version,
        headers: parts.headers,
        body: http_body_util::BodyExt::collect(body)
            .await
            .expect("body")
            .to_bytes(),
    };
    let problem = assert_problem(&failed, 500, "internal");
    let detail = problem["detail"].as_str().expect("detail");
    assert!(
        detail.contains(&format!(
            "nothing was changed: cannot write the state database {}",
            setup.db().display()
        )),
        "{detail}"
    );
    assert!(
        detail.contains("read-only"),
        "says what to look at: {detail}"
    );

    assert_eq!(get(&gw.url("/"), &[]).await.text(), "ok", "traffic flows");
    let windows = api(&gw, "GET", "/v1/windows", None).await.json();
    assert_eq!(
        windows["windows"].as_array().map(Vec::len),
        Some(1),
        "only tomorrow's window: {windows}"
    );
    assert!(gw.child.try_wait().expect("wait").is_none(), "still up");
}
