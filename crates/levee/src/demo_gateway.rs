//! The gateway `levee demo` drives its surge through: a real, in-process
//! Levee with two routes in front of the sample upstream.
//!
//! `/pass-through/` forwards everything (admission off): what any plain
//! reverse proxy does. `/admission/` has admission control with its defaults.
//! Both share one listener, one pool and one upstream, so the only
//! difference between the two runs is admission.

use std::net::SocketAddr;

use anyhow::Context as _;
use levee_control::Gateway;
use levee_control::config::{self, Overrides};

/// A running demo gateway.
#[derive(Debug)]
pub(crate) struct DemoGateway {
    gateway: Gateway,
    addr: SocketAddr,
}

impl DemoGateway {
    /// The URL of the route that forwards everything.
    pub(crate) fn pass_through_url(&self) -> String {
        format!("http://{}/pass-through/", self.addr)
    }

    /// The URL of the route with admission control.
    pub(crate) fn admission_url(&self) -> String {
        format!("http://{}/admission/", self.addr)
    }

    /// The admission route's current concurrency limit.
    pub(crate) fn limit_now(&self) -> Option<usize> {
        self.gateway.admission_limit("admission")
    }

    /// Stops the gateway.
    pub(crate) async fn shutdown(self) {
        let _ = self
            .gateway
            .shutdown(std::time::Duration::from_secs(2))
            .await;
    }
}

/// Starts a gateway in front of `upstream`.
pub(crate) async fn start_gateway(upstream: SocketAddr) -> anyhow::Result<DemoGateway> {
    let text = format!(
        r#"
[server]
access_log = false

[admin]
enabled = false

[[listeners]]
listen = "127.0.0.1:0"

[[pools]]
name = "sample"
endpoints = ["{upstream}"]
response_timeout = "10s"

[[routes]]
name = "pass-through"
path_prefix = "/pass-through/"
pool = "sample"
admission = {{ enabled = false }}

[[routes]]
name = "admission"
path_prefix = "/admission/"
pool = "sample"
"#
    );
    let cfg = config::load(&text, std::path::Path::new("<demo>"), &Overrides::default())
        .context("the demo's configuration")?;
    let gateway = Gateway::start(cfg)
        .await
        .context("starting the demo gateway")?;
    let addr = *gateway
        .addrs()
        .first()
        .context("the demo gateway has a listener")?;
    Ok(DemoGateway { gateway, addr })
}
