//! The gateways of the outage benchmark and how each is configured for each
//! upstream layout: Levee (with and without `health_check`), HAProxy and
//! nginx, each with the settings issue 12 names and nothing tuned.
//!
//! It writes configuration files and starts processes through `peers.rs`
//! (free loopback ports, a temp dir, stopped by pid); it decides nothing
//! about load or figures.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;

use crate::peers::{self, Running};

/// A gateway under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Gateway {
    /// `levee serve` with a config file: pools, routes, and (when `checks`)
    /// `health_check = { path = "/", interval = "1s" }` in every pool.
    Levee { checks: bool },
    /// HAProxy: `check inter 1s fall 2 rise 1`, `backup` for the alternate.
    Haproxy,
    /// nginx: passive checks (`max_fails=1 fail_timeout=10s`), `backup` for
    /// the alternate, `proxy_next_upstream error timeout`.
    Nginx,
}

impl Gateway {
    /// The name in tables.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Levee { checks: true } => "levee",
            Self::Levee { checks: false } => "levee, no health_check",
            Self::Haproxy => "haproxy",
            Self::Nginx => "nginx",
        }
    }

    /// A name fit for a file.
    pub(crate) fn slug(self) -> &'static str {
        match self {
            Self::Levee { checks: true } => "levee",
            Self::Levee { checks: false } => "levee-no-check",
            Self::Haproxy => "haproxy",
            Self::Nginx => "nginx",
        }
    }
}

/// How the upstreams are grouped behind the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// One endpoint.
    Single,
    /// Two endpoints of one pool, balanced round robin.
    Pair,
    /// A primary pool of one endpoint and an alternate pool of one endpoint
    /// (Levee: `fallback = ["alternate"]`; HAProxy and nginx: `backup`).
    Alternate,
}

impl Layout {
    /// How many upstreams it has.
    pub(crate) fn upstreams(self) -> usize {
        match self {
            Self::Single => 1,
            Self::Pair | Self::Alternate => 2,
        }
    }
}

/// The programs to run; `None` skips that gateway.
#[derive(Clone, Debug, Default)]
pub(crate) struct Programs {
    pub(crate) levee: Option<PathBuf>,
    pub(crate) haproxy: Option<PathBuf>,
    pub(crate) nginx: Option<PathBuf>,
    /// The CPUs (a `taskset` list) the gateways run on; `None`: anywhere.
    pub(crate) cpus: Option<String>,
}

impl Programs {
    /// Whether `gateway` can run here.
    pub(crate) fn has(&self, gateway: Gateway) -> bool {
        match gateway {
            Gateway::Levee { .. } => self.levee.is_some(),
            Gateway::Haproxy => self.haproxy.is_some(),
            Gateway::Nginx => self.nginx.is_some(),
        }
    }
}

/// Starts `gateway` in front of `upstreams` (one for `Single`, two
/// otherwise) and waits until it listens.
pub(crate) async fn start(
    gateway: Gateway,
    programs: &Programs,
    layout: Layout,
    upstreams: &[SocketAddr],
) -> anyhow::Result<Running> {
    let dir = tempfile::tempdir().context("creating a temp dir")?;
    let addr = peers::free_port()?;
    let cpus = programs.cpus.as_deref();
    let mut admin = None;
    let command = match gateway {
        Gateway::Levee { checks } => {
            let program = programs.levee.as_ref().context("no levee")?;
            let admin_addr = peers::free_port()?;
            admin = Some(admin_addr);
            let state = dir.path().join("state");
            let text = levee_toml(&state, admin_addr, addr, layout, upstreams, checks);
            let conf = dir.path().join("levee.toml");
            std::fs::write(&conf, text).context("writing levee.toml")?;
            let mut c = peers::command(program, cpus);
            c.arg("serve").arg("--config").arg(&conf);
            c
        }
        Gateway::Haproxy => {
            let program = programs.haproxy.as_ref().context("no haproxy")?;
            let conf = dir.path().join("haproxy.cfg");
            std::fs::write(&conf, haproxy_cfg(addr, layout, upstreams))
                .context("writing haproxy.cfg")?;
            let mut c = peers::command(program, cpus);
            c.arg("-db").arg("-f").arg(&conf);
            c
        }
        Gateway::Nginx => {
            let program = programs.nginx.as_ref().context("no nginx")?;
            let conf = dir.path().join("nginx.conf");
            let d = dir.path().display().to_string();
            std::fs::write(&conf, nginx_conf(&d, addr, layout, upstreams))
                .context("writing nginx.conf")?;
            let mut c = peers::command(program, cpus);
            c.arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&conf)
                .arg("-e")
                .arg(dir.path().join("error.log"));
            c
        }
    };
    peers::spawn(gateway.label(), command, dir, addr, admin).await
}

/// The `health_check` line every Levee pool gets when checks are on.
pub(crate) const LEVEE_CHECK: &str = "health_check = { path = \"/\", interval = \"1s\" }";

/// Levee's configuration: defaults, plus the pools and route `layout` needs.
pub(crate) fn levee_toml(
    state: &std::path::Path,
    admin: SocketAddr,
    listen: SocketAddr,
    layout: Layout,
    upstreams: &[SocketAddr],
    checks: bool,
) -> String {
    let check = if checks {
        format!("{LEVEE_CHECK}\n")
    } else {
        String::new()
    };
    let list = |addrs: &[SocketAddr]| {
        addrs
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut t = format!(
        "data_dir = {state:?}\n\n[admin]\nlisten = \"{admin}\"\n\n[[listeners]]\nlisten = \"{listen}\"\n\n"
    );
    match layout {
        Layout::Single | Layout::Pair => {
            let n = if layout == Layout::Single { 1 } else { 2 };
            let endpoints = list(&upstreams[..n.min(upstreams.len())]);
            let _ = write!(
                t,
                "[[pools]]\nname = \"app\"\nendpoints = [{endpoints}]\n{check}\n\
                 [[routes]]\nname = \"default\"\npool = \"app\"\n"
            );
        }
        Layout::Alternate => {
            let _ = write!(
                t,
                "[[pools]]\nname = \"primary\"\nendpoints = [{}]\n{check}\n\
                 [[pools]]\nname = \"alternate\"\nendpoints = [{}]\n{check}\n\
                 [[routes]]\nname = \"default\"\npool = \"primary\"\nfallback = [\"alternate\"]\n",
                list(&upstreams[..1]),
                list(&upstreams[1..2])
            );
        }
    }
    t
}

/// HAProxy's configuration: the overload benchmark's timeouts, `retries 3`
/// (its default) with `option redispatch` (so that the last retry of a
/// refused connection may go to another server), and the servers `layout`
/// needs.
pub(crate) fn haproxy_cfg(listen: SocketAddr, layout: Layout, upstreams: &[SocketAddr]) -> String {
    let check = "check inter 1s fall 2 rise 1";
    let servers = match layout {
        Layout::Single => format!("  server a {} {check}\n", upstreams[0]),
        Layout::Pair => format!(
            "  server a {} {check}\n  server b {} {check}\n",
            upstreams[0], upstreams[1]
        ),
        Layout::Alternate => format!(
            "  server a {} {check}\n  server b {} backup\n",
            upstreams[0], upstreams[1]
        ),
    };
    format!(
        "global\n  maxconn 8000\n\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 30s\n  \
         timeout server 30s\n  retries 3\n  option redispatch\n\nfrontend fe\n  bind {listen}\n  \
         default_backend be\n\nbackend be\n  balance roundrobin\n{servers}"
    )
}

/// nginx's configuration: the overload benchmark's proxy (HTTP/1.1 with
/// upstream keepalive), passive checks, `proxy_next_upstream error timeout`.
pub(crate) fn nginx_conf(
    dir: &str,
    listen: SocketAddr,
    layout: Layout,
    upstreams: &[SocketAddr],
) -> String {
    let passive = "max_fails=1 fail_timeout=10s";
    let servers = match layout {
        Layout::Single => format!("server {} {passive};", upstreams[0]),
        Layout::Pair => format!(
            "server {} {passive}; server {} {passive};",
            upstreams[0], upstreams[1]
        ),
        Layout::Alternate => format!(
            "server {} {passive}; server {} backup;",
            upstreams[0], upstreams[1]
        ),
    };
    format!(
        "worker_processes auto;\ndaemon off;\npid {dir}/nginx.pid;\nworker_rlimit_nofile 16384;\n\
         events {{ worker_connections 8192; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {dir}/body;\n  proxy_temp_path {dir}/proxy;\n  \
         fastcgi_temp_path {dir}/fastcgi;\n  uwsgi_temp_path {dir}/uwsgi;\n  scgi_temp_path {dir}/scgi;\n  \
         upstream app {{ {servers} keepalive 64; }}\n  \
         server {{\n    listen {listen};\n    location / {{\n      proxy_pass http://app;\n      \
         proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n      \
         proxy_next_upstream error timeout;\n    }}\n  }}\n}}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs() -> Vec<SocketAddr> {
        vec![
            "127.0.0.1:7001".parse().expect("an address"),
            "127.0.0.1:7002".parse().expect("an address"),
        ]
    }

    #[test]
    fn levee_gets_a_fallback_pool_and_checks_only_when_asked() {
        let (admin, listen) = (
            "127.0.0.1:9".parse().expect("a"),
            "127.0.0.1:8".parse().expect("a"),
        );
        let state = std::path::Path::new("/tmp/s");
        let alt = levee_toml(state, admin, listen, Layout::Alternate, &addrs(), true);
        assert!(alt.contains("name = \"primary\"\nendpoints = [\"127.0.0.1:7001\"]\nhealth_check"));
        assert!(alt.contains("name = \"alternate\"\nendpoints = [\"127.0.0.1:7002\"]"));
        assert!(alt.contains("pool = \"primary\"\nfallback = [\"alternate\"]"));
        assert_eq!(alt.matches(LEVEE_CHECK).count(), 2);
        let single = levee_toml(state, admin, listen, Layout::Single, &addrs(), false);
        assert!(single.contains("endpoints = [\"127.0.0.1:7001\"]\n"));
        assert!(!single.contains("health_check") && !single.contains("7002"));
        let pair = levee_toml(state, admin, listen, Layout::Pair, &addrs(), true);
        assert!(pair.contains("endpoints = [\"127.0.0.1:7001\", \"127.0.0.1:7002\"]"));
    }

    #[test]
    fn the_anchors_get_the_issues_settings() {
        let listen = "127.0.0.1:8".parse().expect("an address");
        let h = haproxy_cfg(listen, Layout::Alternate, &addrs());
        assert!(h.contains("server a 127.0.0.1:7001 check inter 1s fall 2 rise 1\n"));
        assert!(h.contains("server b 127.0.0.1:7002 backup\n"));
        let n = nginx_conf("/tmp/n", listen, Layout::Alternate, &addrs());
        assert!(n.contains(
            "server 127.0.0.1:7001 max_fails=1 fail_timeout=10s; server 127.0.0.1:7002 backup;"
        ));
        assert!(n.contains("proxy_next_upstream error timeout;"));
        let single = nginx_conf("/tmp/n", listen, Layout::Single, &addrs());
        assert!(!single.contains("7002"));
    }
}
