//! One leg of `levee-bench status-page`: a gateway (Levee with its defaults
//! in front of a fresh sample upstream, or nginx serving Levee's documents as
//! static files), its status documents fetched once (for the `ETag` the
//! revalidations send, and the size of each kind of answer on the wire),
//! its idle CPU time, then one bounded open-loop run of status reads, with
//! or without API traffic, and its CPU time over that run, from /proc.
//!
//! It starts and stops only its own processes, by pid, and talks to
//! loopback only.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use levee_sim::load::{self, Run, Schedule, Stream};
use levee_sim::upstream::{Upstream, UpstreamHandle};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::peers::{self, Peer, Programs, Running};

/// The status page, full HTML.
pub(crate) const HTML: &str = "/_levee/status/";
/// The Statuspage v2 summary.
pub(crate) const JSON: &str = "/_levee/status/api/v2/summary.json";

/// The streams of a leg, by label, in the order they are reported.
pub(crate) const READS: [&str; 3] = ["html", "json", "revalidate"];
/// The API traffic's label.
pub(crate) const API: &str = "api";

/// What serves the status page in a leg.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Gateway {
    /// `levee serve` with its defaults, in front of the sample upstream.
    Levee,
    /// nginx serving the same bytes as static files, with no upstream.
    Nginx,
}

impl Gateway {
    /// The name in tables.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Levee => "levee",
            Self::Nginx => "nginx static",
        }
    }
}

/// The fixed parts of every leg.
#[derive(Clone, Debug)]
pub(crate) struct Setup {
    pub(crate) programs: Programs,
    pub(crate) workers: usize,
    pub(crate) service_time: Duration,
    pub(crate) service_jitter: f64,
    /// The client deadline of every request.
    pub(crate) deadline: Duration,
    /// How long each stream sends.
    pub(crate) duration: Duration,
    /// Requests per second of each status stream.
    pub(crate) read_rate: f64,
    /// How long the gateway's CPU time is read while nothing is sent, before
    /// the load.
    pub(crate) idle: Duration,
}

impl Setup {
    /// Requests per second the upstream can serve.
    pub(crate) fn capacity(&self) -> f64 {
        self.workers as f64 / self.service_time.as_secs_f64()
    }
}

/// Bytes on the wire (status line, headers and body) of one answer of each kind.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub(crate) struct Sizes {
    pub(crate) html: usize,
    pub(crate) json: usize,
    pub(crate) not_modified: usize,
    /// The bodies alone.
    pub(crate) html_body: usize,
    pub(crate) json_body: usize,
}

/// The gateway's CPU time (user + system, its workers included), in seconds.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub(crate) struct Cpu {
    /// While nothing was sent, over `idle_s` seconds.
    pub(crate) idle: f64,
    pub(crate) idle_s: f64,
    /// Over the load run, `wall_s` seconds from its start to its last answer.
    pub(crate) load: f64,
    pub(crate) wall_s: f64,
}

/// The outcome of one leg.
#[derive(Debug)]
pub(crate) struct Leg {
    pub(crate) run: Run,
    pub(crate) sizes: Sizes,
    /// `None` when /proc could not be read.
    pub(crate) cpu: Option<Cpu>,
    /// The documents whose `ETag` changed between the start and the end of
    /// the leg (the page was re-rendered with different content).
    pub(crate) changed: Vec<&'static str>,
    /// What the gateway wrote to stdout and stderr.
    pub(crate) output: String,
}

/// Runs one leg through `gateway`: the status streams, and API traffic at
/// `api_rate` requests per second when it is above zero (Levee only; nginx
/// has no upstream). `site` is the static site's root, for nginx.
pub(crate) async fn run(
    setup: &Setup,
    gateway: Gateway,
    api_rate: f64,
    seed: u64,
    site: Option<&Path>,
) -> anyhow::Result<Leg> {
    let (upstream, running) = match gateway {
        Gateway::Levee => {
            let upstream = start_upstream(setup).await?;
            let running =
                peers::start(Peer::Levee, &setup.programs, upstream.addr(), setup.workers).await?;
            (Some(upstream), running)
        }
        Gateway::Nginx => {
            ensure!(
                api_rate == 0.0,
                "nginx static has no upstream for API traffic"
            );
            let site = site.context("no static site for nginx")?;
            (None, start_nginx(&setup.programs, site).await?)
        }
    };
    let measured = measure(setup, &running, api_rate, seed).await;
    let output = running.output();
    running.stop().await;
    if let Some(upstream) = upstream {
        upstream.shutdown().await;
    }
    let mut leg = measured.with_context(|| {
        let tail: Vec<&str> = output.lines().rev().take(5).collect();
        format!("{} leg; its last output: {:?}", gateway.label(), tail)
    })?;
    leg.output = output;
    Ok(leg)
}

async fn start_upstream(setup: &Setup) -> anyhow::Result<UpstreamHandle> {
    Upstream::builder()
        .workers(setup.workers)
        .service_time(setup.service_time)
        .service_jitter(setup.service_jitter)
        .start()
        .await
        .context("starting the sample upstream")
}

async fn measure(
    setup: &Setup,
    running: &Running,
    api_rate: f64,
    seed: u64,
) -> anyhow::Result<Leg> {
    let addr = running.addr;
    let html = published(addr).await?;
    let etag = html.etag.clone().context("the status page has no ETag")?;
    let json = get(addr, JSON, None).await?;
    ensure!(json.status == 200, "{JSON} answered {}", json.status);
    let again = get(addr, HTML, Some(&etag)).await?;
    ensure!(
        again.status == 304,
        "{HTML} with If-None-Match: {etag} answered {}, not 304",
        again.status
    );
    let sizes = Sizes {
        html: html.wire,
        json: json.wire,
        not_modified: again.wire,
        html_body: html.body.len(),
        json_body: json.body.len(),
    };

    let pid = running.pid();
    let idle_from = (Instant::now(), pid.and_then(cpu_seconds));
    tokio::time::sleep(setup.idle).await;
    let idle_to = (Instant::now(), pid.and_then(cpu_seconds));

    let constant = || Schedule::constant(setup.read_rate, setup.duration);
    let mut streams = vec![
        Stream::new(constant()).label(READS[0]).path(HTML),
        Stream::new(constant()).label(READS[1]).path(JSON),
        Stream::new(constant())
            .label(READS[2])
            .path(HTML)
            .header("if-none-match", etag.as_str()),
    ];
    if api_rate > 0.0 {
        let api = Schedule::constant(api_rate, setup.duration);
        streams.push(Stream::new(api).label(API));
    }
    let plan = crate::leg::load_plan(addr, setup.deadline, seed, streams);
    let from = (Instant::now(), pid.and_then(cpu_seconds));
    let run = load::run(plan).await.context("running the load")?;
    let to = (Instant::now(), pid.and_then(cpu_seconds));

    let mut changed = Vec::new();
    if get(addr, HTML, None).await.ok().and_then(|a| a.etag) != Some(etag) {
        changed.push("html");
    }
    if get(addr, JSON, None).await.ok().and_then(|a| a.etag) != json.etag {
        changed.push("json");
    }
    let cpu = match (idle_from.1, idle_to.1, from.1, to.1) {
        (Some(a), Some(b), Some(c), Some(d)) => Some(Cpu {
            idle: b - a,
            idle_s: (idle_to.0 - idle_from.0).as_secs_f64(),
            load: d - c,
            wall_s: (to.0 - from.0).as_secs_f64(),
        }),
        _ => None,
    };
    Ok(Leg {
        run,
        sizes,
        cpu,
        changed,
        output: String::new(),
    })
}

/// The status page, once the gateway serves it (Levee's control plane
/// publishes it shortly after it starts listening): polls for up to 10 s.
async fn published(addr: SocketAddr) -> anyhow::Result<Answer> {
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        let last = get(addr, HTML, None).await;
        match last {
            Ok(a) if a.status == 200 => return Ok(a),
            _ if Instant::now() > give_up => {
                let what = match last {
                    Ok(a) => format!("status {}", a.status),
                    Err(e) => format!("{e:#}"),
                };
                bail!("{HTML} was not served within 10 s: {what}");
            }
            // A readiness poll, not a guess: try again shortly.
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// One answer, read off the wire.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) etag: Option<String>,
    pub(crate) body: Vec<u8>,
    /// Status line, headers and body, in bytes.
    pub(crate) wire: usize,
}

/// `GET path` (with `If-None-Match` when given) on a connection of its own,
/// sending what the load generator sends (`Host` and nothing else), so that
/// the answer's size is the size of the answers the load gets.
pub(crate) async fn get(
    addr: SocketAddr,
    path: &str,
    if_none_match: Option<&str>,
) -> anyhow::Result<Answer> {
    tokio::time::timeout(Duration::from_secs(5), exchange(addr, path, if_none_match))
        .await
        .with_context(|| format!("GET {path}: no answer within 5 s"))?
}

async fn exchange(
    addr: SocketAddr,
    path: &str,
    if_none_match: Option<&str>,
) -> anyhow::Result<Answer> {
    let mut stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    let mut request = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\n");
    if let Some(etag) = if_none_match {
        request.push_str(&format!("if-none-match: {etag}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut buf = Vec::with_capacity(64 * 1024);
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if stream.read_buf(&mut buf).await? == 0 {
            bail!("GET {path}: the connection closed before the response head ended");
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("GET {path}: a bad status line"))?;
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    let length = match status {
        304 | 204 => 0,
        _ => header("content-length")
            .and_then(|v| v.parse::<usize>().ok())
            .with_context(|| format!("GET {path}: no Content-Length"))?,
    };
    while buf.len() < head_end + length {
        if stream.read_buf(&mut buf).await? == 0 {
            bail!("GET {path}: the connection closed before the body ended");
        }
    }
    Ok(Answer {
        status,
        etag: header("etag"),
        body: buf[head_end..head_end + length].to_vec(),
        wire: head_end + length,
    })
}

/// The status page and the summary, as a fresh Levee serves them (in front
/// of a fresh upstream, no load yet), written under `root` at the same paths
/// for nginx to serve: `_levee/status/index.html` and
/// `_levee/status/api/v2/summary.json`.
pub(crate) async fn snapshot(setup: &Setup, root: &Path) -> anyhow::Result<Sizes> {
    let upstream = start_upstream(setup).await?;
    let running = peers::start(Peer::Levee, &setup.programs, upstream.addr(), setup.workers).await;
    let fetched = match &running {
        Ok(running) => fetch_both(running.addr).await,
        Err(e) => Err(anyhow::anyhow!("{e:#}")),
    };
    if let Ok(running) = running {
        running.stop().await;
    }
    upstream.shutdown().await;
    let (html, json) = fetched.context("fetching the documents from Levee")?;
    let dir = root.join("_levee/status");
    std::fs::create_dir_all(dir.join("api/v2")).context("creating the static site")?;
    std::fs::write(dir.join("index.html"), &html.body).context("writing index.html")?;
    std::fs::write(dir.join("api/v2/summary.json"), &json.body).context("writing summary.json")?;
    Ok(Sizes {
        html: html.wire,
        json: json.wire,
        not_modified: 0,
        html_body: html.body.len(),
        json_body: json.body.len(),
    })
}

async fn fetch_both(addr: SocketAddr) -> anyhow::Result<(Answer, Answer)> {
    let html = published(addr).await?;
    let json = get(addr, JSON, None).await?;
    ensure!(json.status == 200, "{JSON} answered {}", json.status);
    Ok((html, json))
}

/// nginx serving `site` as static files, one worker on the peers' CPU (as
/// Levee there has one core), every document from the page cache with its
/// open file cached, the same `Cache-Control` as Levee's, and `ETag`s (on by
/// default) for the revalidations.
async fn start_nginx(programs: &Programs, site: &Path) -> anyhow::Result<Running> {
    let program = programs.nginx.as_ref().context("no nginx")?;
    let dir = tempfile::tempdir().context("creating a temp dir")?;
    let addr = peers::free_port()?;
    let d = dir.path().display();
    let root = site.display();
    let conf = format!(
        "worker_processes 1;\ndaemon off;\npid {d}/nginx.pid;\nworker_rlimit_nofile 16384;\n\
         events {{ worker_connections 8192; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
         types {{ text/html html; application/json json; }}\n  default_type application/octet-stream;\n  \
         sendfile on;\n  tcp_nodelay on;\n  keepalive_requests 1000000;\n  \
         open_file_cache max=64 inactive=300s;\n  open_file_cache_valid 300s;\n  \
         server {{\n    listen {addr};\n    root {root};\n    location / {{\n      \
         add_header Cache-Control \"public, max-age=10, stale-if-error=86400\";\n    }}\n  }}\n}}\n"
    );
    let path = dir.path().join("nginx.conf");
    std::fs::write(&path, conf).context("writing nginx.conf")?;
    let mut command = peers::command(program, programs.cpus.as_deref());
    command
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(&path)
        .arg("-e")
        .arg(dir.path().join("error.log"));
    peers::spawn(Gateway::Nginx.label(), command, dir, addr, None).await
}

/// The CPU time (user + system) of process `pid` and of its children (an
/// nginx master's workers), in seconds, from /proc (Linux).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let (own, _) = stat(pid)?;
    let mut ticks = own;
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            if let Some((t, parent)) = stat(child)
                && parent == pid
            {
                ticks += t;
            }
        }
    }
    Some(ticks as f64 / ticks_per_second())
}

/// utime + stime (in clock ticks) and the parent of process `pid`.
fn stat(pid: u32) -> Option<(u64, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name, in parentheses (which may hold spaces): state,
    // ppid, …, utime (the 12th), stime (the 13th).
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    let parent = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime, parent))
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`; 100 on Linux).
fn ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|t| *t > 0.0)
            .unwrap_or(100.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_stat_line() {
        let (_, parent) = stat(std::process::id()).expect("/proc/self/stat on Linux");
        assert!(parent > 0);
        assert!(cpu_seconds(std::process::id()).is_some_and(|s| s >= 0.0));
    }
}
