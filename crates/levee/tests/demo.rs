//! `levee demo --short`: it runs end to end within its bound, and what it
//! writes agrees with what it prints: the table, `summary.json` and the HTML
//! report's charts carry the same, plausible numbers.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

/// The demo's upstream: 8 workers × 20 ms.
const CAPACITY: f64 = 400.0;

/// Runs `levee demo --short --out <dir>` and returns its exit status and
/// stdout (sent to a file, so a full pipe cannot stall it); kills it if it
/// outlives two minutes.
async fn run_demo(out: &Path) -> (std::process::ExitStatus, String, String) {
    let stdout_path = out.join("stdout.txt");
    let stderr_path = out.join("stderr.txt");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_levee"))
        .args(["demo", "--short", "--out"])
        .arg(out)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("create stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("create stderr file"))
        .spawn()
        .expect("levee runs");
    let give_up = tokio::time::Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting on levee") {
            break status;
        }
        if tokio::time::Instant::now() > give_up {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the short demo did not end within two minutes");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let read = |p: &Path| std::fs::read_to_string(p).expect("read output");
    (status, read(&stdout_path), read(&stderr_path))
}

/// The table row for `label` (below the table's header), split on whitespace.
fn row<'a>(stdout: &'a str, label: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with("run "))
        .find(|l| l.split_whitespace().next() == Some(label))
        .unwrap_or_else(|| panic!("a table row for {label} in:\n{stdout}"))
        .split_whitespace()
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn short_demo_prints_and_writes_a_consistent_report() {
    let out = tempfile::tempdir().expect("a temp dir");
    let (status, stdout, stderr) = run_demo(out.path()).await;
    assert!(status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");

    // The report's path is printed last, and it is where we asked.
    let last = stdout.lines().last().expect("some output");
    let html_path = last
        .strip_prefix("report: ")
        .expect("the last line names the report");
    assert!(Path::new(html_path).starts_with(out.path()), "{html_path}");
    let html = std::fs::read_to_string(html_path).expect("the report exists");
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("summary.json")).expect("summary.json exists"),
    )
    .expect("summary.json is JSON");

    let header = stdout
        .lines()
        .find(|l| l.starts_with("run "))
        .expect("a table header");
    let columns: Vec<&str> = header.split_whitespace().collect();
    let col = |name: &str| {
        columns
            .iter()
            .position(|c| *c == name)
            .unwrap_or_else(|| panic!("column {name}"))
    };
    let runs = json["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2);
    let number = |v: &Value| v.as_f64().expect("a number");
    let mut requests = Vec::new();
    for run in runs {
        let label = run["label"].as_str().expect("a label");
        let s = &run["summary"];
        let cells = row(&stdout, label);
        // The table shows what summary.json holds.
        assert_eq!(
            cells[col("offered/s")],
            format!("{:.0}", number(&s["offered_per_s"])),
            "{label}"
        );
        assert_eq!(
            cells[col("goodput/s")],
            format!("{:.0}", number(&s["goodput_per_s"])),
            "{label}"
        );
        assert_eq!(cells[col("503s")], s["unavailable"].to_string(), "{label}");
        assert_eq!(cells[col("timeouts")], s["timeouts"].to_string(), "{label}");
        // Every request ended exactly one way.
        let ended: f64 = [
            "success",
            "unavailable",
            "too_many",
            "other_status",
            "timeouts",
            "failed",
            "saturated",
        ]
        .iter()
        .map(|k| number(&s[*k]))
        .sum();
        assert_eq!(ended, number(&s["requests"]), "{label}");
        // Goodput is 2xx within the SLO, and the upstream cannot serve more than its capacity.
        assert!(number(&s["goodput"]) <= number(&s["success"]), "{label}");
        assert!(
            number(&s["goodput_per_s"]) <= CAPACITY * 1.1,
            "{label}: {}",
            s["goodput_per_s"]
        );
        // The short surge is 4 s of 0.5× → 4× → 0.5× of 400 req/s: ~3 600 requests.
        assert!(
            (3000.0..4200.0).contains(&number(&s["requests"])),
            "{label}: {}",
            s["requests"]
        );
        requests.push(number(&s["requests"]));
        assert!(
            html.contains(&format!("<th>{label}</th>")),
            "the HTML table has {label}"
        );
        assert!(
            html.contains(&format!("data-name=\"{label}\"")),
            "the goodput chart has {label}"
        );
        if !run["limit"].as_array().expect("limit samples").is_empty() {
            assert!(
                html.contains("concurrency limit"),
                "a sampled limit is charted"
            );
        }
    }
    assert_eq!(
        requests[0], requests[1],
        "both routes see the same arrivals"
    );

    // Charts with their data points: goodput, latency, shed/timeouts (+ limit).
    assert!(html.matches("<svg").count() >= 3);
    assert!(html.contains("Goodput: 2xx within 500 ms"));
    // 4 s + 1 s deadline in 250 ms buckets = 20 points per line; the goodput
    // chart alone has three lines (offered and one per route).
    assert!(
        html.matches("<circle").count() >= 3 * 20,
        "data points are drawn"
    );
    assert!(!html.contains("NaN"));
}
