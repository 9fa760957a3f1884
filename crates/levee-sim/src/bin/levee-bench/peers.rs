//! The proxies a benchmark leg goes through: none (direct), nginx, HAProxy,
//! Levee, and the previous release of Levee. Each is started on a free
//! loopback port with its configuration (or data directory) in a temporary
//! directory, checked ready by connecting, and stopped by the pid of the
//! process this program started, never by name.
//!
//! It must not touch a process it did not start, nor listen beyond loopback.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::time::Instant;

/// Where a leg sends its traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Peer {
    /// Straight to the upstream.
    Direct,
    /// nginx as a plain reverse proxy.
    Nginx,
    /// HAProxy with `maxconn` = workers and `timeout queue`: static shedding.
    Haproxy,
    /// `levee serve` with its defaults and the tenant header `x-tenant`.
    Levee,
    /// nginx answering every request itself with a static 503 (a small
    /// problem body and `Retry-After`), never asking the upstream: the floor,
    /// how fast any server answers a 503 on this machine in this run.
    Floor,
    /// The previous release of Levee (`--before`), with its defaults: the
    /// "before" of a before/after comparison.
    Before,
}

impl Peer {
    /// The name in tables.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Nginx => "nginx",
            Self::Haproxy => "haproxy",
            Self::Levee => "levee",
            Self::Floor => "nginx static 503",
            Self::Before => "levee before",
        }
    }
}

/// The programs to run, found by `main`; `None` skips that peer.
#[derive(Clone, Debug, Default)]
pub(crate) struct Programs {
    pub(crate) nginx: Option<PathBuf>,
    pub(crate) haproxy: Option<PathBuf>,
    pub(crate) levee: Option<PathBuf>,
    /// The previous release's levee binary.
    pub(crate) before: Option<PathBuf>,
    /// HAProxy's `timeout queue`.
    pub(crate) haproxy_queue: Duration,
    /// Levee's limiter, when not its default (to compare limiters).
    pub(crate) levee_limiter: Option<String>,
    /// The CPUs (a `taskset` list such as `1` or `1-3`) the peers run on, away
    /// from the load generator and the upstream; `None` leaves them anywhere.
    pub(crate) cpus: Option<String>,
}

impl Programs {
    /// Whether `peer` can run here.
    pub(crate) fn has(&self, peer: Peer) -> bool {
        match peer {
            Peer::Direct => true,
            Peer::Nginx | Peer::Floor => self.nginx.is_some(),
            Peer::Haproxy => self.haproxy.is_some(),
            Peer::Levee => self.levee.is_some(),
            Peer::Before => self.before.is_some(),
        }
    }
}

/// A started peer. Stop it with [`Running::stop`]; dropping it kills the
/// process it started.
#[derive(Debug)]
pub(crate) struct Running {
    /// Where to send traffic.
    pub(crate) addr: SocketAddr,
    /// Levee's admin listener (for `/metrics`).
    pub(crate) admin: Option<SocketAddr>,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

impl Running {
    /// No proxy: traffic goes straight to `upstream`.
    fn direct(upstream: SocketAddr) -> Self {
        Self {
            addr: upstream,
            admin: None,
            child: None,
            _dir: None,
        }
    }
}

/// Starts `peer` in front of `upstream` (with `workers` worker slots), each
/// configured for the overload benchmark.
pub(crate) async fn start(
    peer: Peer,
    programs: &Programs,
    upstream: SocketAddr,
    workers: usize,
) -> anyhow::Result<Running> {
    if peer == Peer::Direct {
        return Ok(Running::direct(upstream));
    }
    let dir = tempfile::tempdir().context("creating a temp dir")?;
    let addr = free_port()?;
    let mut admin = None;
    let command = match peer {
        Peer::Direct => unreachable!("handled above"),
        Peer::Before => bail!("the previous release runs only as `levee serve` with flags"),
        Peer::Nginx | Peer::Floor => {
            let program = programs.nginx.as_ref().context("no nginx")?;
            let conf = dir.path().join("nginx.conf");
            let location = if peer == Peer::Floor {
                FLOOR_LOCATION
            } else {
                PROXY_LOCATION
            };
            std::fs::write(&conf, nginx_conf(dir.path(), addr, upstream, location))
                .context("writing nginx.conf")?;
            let mut c = command(program, programs.cpus.as_deref());
            c.arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&conf)
                .arg("-e")
                .arg(dir.path().join("error.log"));
            c
        }
        Peer::Haproxy => {
            let program = programs.haproxy.as_ref().context("no haproxy")?;
            let conf = dir.path().join("haproxy.cfg");
            let text = haproxy_conf(addr, upstream, workers, programs.haproxy_queue);
            std::fs::write(&conf, text).context("writing haproxy.cfg")?;
            let mut c = command(program, programs.cpus.as_deref());
            c.arg("-db").arg("-f").arg(&conf);
            c
        }
        Peer::Levee => {
            let program = programs.levee.as_ref().context("no levee")?;
            let admin_addr = free_port()?;
            admin = Some(admin_addr);
            // Defaults, plus the one thing Levee cannot guess: which header
            // names the tenant (scenario 3). Requests without it share one
            // anonymous tenant, so the other scenarios see plain defaults.
            let conf = dir.path().join("levee.toml");
            let admission = programs
                .levee_limiter
                .as_ref()
                .map(|l| format!("admission = {{ limiter = {l:?} }}\n"))
                .unwrap_or_default();
            // Its state in the leg's temp dir, not the user's default one.
            let state = dir.path().join("state");
            let text = format!(
                "data_dir = {state:?}\n\n[admin]\nlisten = \"{admin_addr}\"\n\n[[listeners]]\nlisten = \"{addr}\"\n\n\
                 [[pools]]\nname = \"app\"\nendpoints = [\"{upstream}\"]\n\n\
                 [[routes]]\nname = \"default\"\npool = \"app\"\n\
                 tenant = {{ from = \"header\", header = \"x-tenant\" }}\n{admission}"
            );
            std::fs::write(&conf, text).context("writing levee.toml")?;
            let mut c = command(program, programs.cpus.as_deref());
            c.arg("serve").arg("--config").arg(&conf);
            c
        }
    };
    spawn(peer.label(), command, dir, addr, admin).await
}

/// Starts `peer` (Levee or its previous release) in front of `upstream` the
/// way a new user would, with its defaults and no configuration file:
/// `levee serve --listen ADDR --upstream URL --admin ADDR --data-dir TMP`.
/// Direct needs no process.
pub(crate) async fn serve(
    peer: Peer,
    programs: &Programs,
    upstream: SocketAddr,
) -> anyhow::Result<Running> {
    let program = match peer {
        Peer::Direct => return Ok(Running::direct(upstream)),
        Peer::Levee => programs.levee.as_ref(),
        Peer::Before => programs.before.as_ref(),
        Peer::Nginx | Peer::Haproxy | Peer::Floor => bail!("{} is not a Levee", peer.label()),
    };
    let program = program.with_context(|| format!("no binary for {}", peer.label()))?;
    let dir = tempfile::tempdir().context("creating a temp dir")?;
    let (addr, admin) = (free_port()?, free_port()?);
    let mut command = command(program, programs.cpus.as_deref());
    command
        .arg("serve")
        .arg("--listen")
        .arg(addr.to_string())
        .arg("--upstream")
        .arg(format!("http://{upstream}"))
        .arg("--admin")
        .arg(admin.to_string())
        .arg("--data-dir")
        .arg(dir.path().join("state"));
    spawn(peer.label(), command, dir, addr, Some(admin)).await
}

/// Runs `command` (which serves the peer labelled `peer` on `addr`) with its
/// output in `dir`, and waits until it listens.
pub(crate) async fn spawn(
    peer: &str,
    mut command: Command,
    dir: tempfile::TempDir,
    addr: SocketAddr,
    admin: Option<SocketAddr>,
) -> anyhow::Result<Running> {
    let log = std::fs::File::create(dir.path().join("output.log")).context("creating the log")?;
    let child = command
        .stdin(Stdio::null())
        .stdout(log.try_clone().context("log")?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {peer}"))?;
    let mut running = Running {
        addr,
        admin,
        child: Some(child),
        _dir: Some(dir),
    };
    running.wait_ready(peer).await?;
    Ok(running)
}

impl Running {
    /// Waits until the listener accepts connections, at most 10 s; fails at
    /// once if the process exits.
    async fn wait_ready(&mut self, peer: &str) -> anyhow::Result<()> {
        let give_up = Instant::now() + Duration::from_secs(10);
        loop {
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                return Ok(());
            }
            if let Some(child) = &mut self.child
                && let Some(status) = child.try_wait().context("polling the child")?
            {
                bail!("{peer} exited at start ({status}): {}", self.log());
            }
            if Instant::now() > give_up {
                bail!(
                    "{peer} did not listen on {} within 10 s: {}",
                    self.addr,
                    self.log()
                );
            }
            // A readiness poll, not a guess: try again shortly.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The pid of the process it started (`None` when it started none, as
    /// for direct), e.g. to read its CPU time.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Everything the process wrote to stdout and stderr so far.
    pub(crate) fn output(&self) -> String {
        let Some(dir) = &self._dir else {
            return String::new();
        };
        std::fs::read_to_string(dir.path().join("output.log")).unwrap_or_default()
    }

    fn log(&self) -> String {
        let Some(dir) = &self._dir else {
            return String::new();
        };
        let text = std::fs::read_to_string(dir.path().join("output.log")).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(5).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
    }

    /// Asks the process it started (by pid) to stop, then waits up to 10 s
    /// before killing it.
    pub(crate) async fn stop(mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id().to_string();
        // nginx's master stops its workers on TERM; a KILL would orphan them.
        let _ = Command::new("kill").arg("-TERM").arg(&pid).status();
        let give_up = Instant::now() + Duration::from_secs(10);
        while Instant::now() < give_up {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `program`, started on `cpus` by `taskset` when given.
pub(crate) fn command(program: &Path, cpus: Option<&str>) -> Command {
    match cpus {
        Some(cpus) => {
            let mut c = Command::new("taskset");
            c.arg("--cpu-list").arg(cpus).arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// A loopback port free a moment ago (the OS picks it; we release it for the peer).
pub(crate) fn free_port() -> anyhow::Result<SocketAddr> {
    let probe = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    probe.local_addr().context("reading the free port")
}

/// nginx's `location /` as a plain reverse proxy.
const PROXY_LOCATION: &str = "proxy_pass http://app;\n      proxy_http_version 1.1;\n      \
     proxy_set_header Connection \"\";\n      proxy_read_timeout 120s;";

/// nginx's `location /` answering 503 itself, as small as Levee's shed.
const FLOOR_LOCATION: &str = "default_type application/problem+json;\n      \
     add_header Retry-After 1 always;\n      \
     return 503 '{\"type\":\"about:blank\",\"title\":\"Service Unavailable\",\"status\":503}';";

fn nginx_conf(dir: &Path, listen: SocketAddr, upstream: SocketAddr, location: &str) -> String {
    let d = dir.display();
    let mut c = String::new();
    let _ = write!(
        c,
        "worker_processes auto;\ndaemon off;\npid {d}/nginx.pid;\nworker_rlimit_nofile 16384;\n\
         events {{ worker_connections 8192; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
         upstream app {{ server {upstream}; keepalive 64; }}\n  \
         server {{\n    listen {listen};\n    location / {{\n      {location}\n    }}\n  }}\n}}\n"
    );
    c
}

fn haproxy_conf(
    listen: SocketAddr,
    upstream: SocketAddr,
    workers: usize,
    queue: Duration,
) -> String {
    format!(
        "global\n  maxconn 8000\n\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 30s\n  \
         timeout server 30s\n  timeout queue {}ms\n\nfrontend fe\n  bind {listen}\n  default_backend be\n\n\
         backend be\n  server app {upstream} maxconn {workers}\n",
        queue.as_millis()
    )
}
