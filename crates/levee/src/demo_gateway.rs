//! The gateway `levee demo` drives its traffic through: a real, in-process
//! Levee with two routes in front of the sample upstream, and its status
//! page.
//!
//! `/pass-through/` forwards everything (admission off): what any plain
//! reverse proxy does. `/admission/` has admission control with its defaults.
//! Both share one listener, one pool and one upstream, so the only
//! difference between the two runs is admission. The status page is the
//! gateway's own (`/_levee/status/` on that listener, one component per
//! route), with the demo's [`StatusTimes`] instead of the defaults so that
//! a surge of seconds shows on it.
//!
//! This module owns the demo gateway's configuration and its start; it must
//! not bind anything but loopback, nor decide what the demo prints.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use levee_control::Gateway;
use levee_control::config::{self, Overrides};
use levee_control::gateway::StartError;

/// The path of the status page on the traffic listener.
const STATUS_PATH: &str = "/_levee/status/";

/// How long a gateway retries the address of the previous one (whose
/// listener may take a moment to close) before it takes any free port.
const REBIND_FOR: Duration = Duration::from_secs(2);

/// The status page's timings for the demo's gateways: the `[status]` keys
/// of the same names. The defaults (10 s, 60 s, 60 s, 2 min) are made for
/// production and would show nothing within a surge of seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StatusTimes {
    /// `raise_after`: a worse status is shown once it held this long.
    pub(crate) raise_after: Duration,
    /// `clear_after`: a better status is shown once it held this long.
    pub(crate) clear_after: Duration,
    /// `window`: the shares of shed answers are over this.
    pub(crate) window: Duration,
    /// `incident_after`: an incident opens after this long out of operational.
    pub(crate) incident_after: Duration,
}

/// How to start one demo gateway.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GatewayPlan {
    /// The sample upstream.
    pub(crate) upstream: SocketAddr,
    /// Where to listen: a loopback address; port 0 for any free port.
    pub(crate) listen: SocketAddr,
    /// The status page's timings.
    pub(crate) status: StatusTimes,
}

/// What a route answered so far, as the gateway's status page counts it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Answers {
    /// Requests answered (outside maintenance).
    pub(crate) requests: u64,
    /// Of those, shed for overload (`503 overloaded`).
    pub(crate) shed: u64,
    /// Of those, answered 5xx (the sheds included).
    pub(crate) server_errors: u64,
}

/// Reads every route's [`Answers`] of one gateway, from any task.
pub(crate) type AnswersReader = Arc<dyn Fn() -> Vec<(String, Answers)> + Send + Sync>;

/// A running demo gateway.
#[derive(Debug)]
pub(crate) struct DemoGateway {
    gateway: Gateway,
    addr: SocketAddr,
}

impl DemoGateway {
    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL of the route that forwards everything.
    pub(crate) fn pass_through_url(&self) -> String {
        format!("http://{}/pass-through/", self.addr)
    }

    /// The URL of the route with admission control.
    pub(crate) fn admission_url(&self) -> String {
        format!("http://{}/admission/", self.addr)
    }

    /// The URL of its status page (HTML).
    pub(crate) fn status_url(&self) -> String {
        status_url(self.addr)
    }

    /// The admission route's current concurrency limit.
    pub(crate) fn limit_now(&self) -> Option<usize> {
        self.gateway.admission_limit("admission")
    }

    /// A reader of the routes' answers as the status page counts them, for
    /// a task that outlives this borrow.
    pub(crate) fn answers(&self) -> AnswersReader {
        let metrics = Arc::clone(self.gateway.metrics());
        Arc::new(move || {
            metrics
                .tallies()
                .into_iter()
                .map(|(route, t)| {
                    let answers = Answers {
                        requests: t.requests,
                        shed: t.shed,
                        server_errors: t.server_errors,
                    };
                    (route, answers)
                })
                .collect()
        })
    }

    /// Stops the gateway.
    pub(crate) async fn shutdown(self) {
        let _ = self
            .gateway
            .shutdown(std::time::Duration::from_secs(2))
            .await;
    }
}

/// The status page's URL on a gateway listening at `addr`.
pub(crate) fn status_url(addr: SocketAddr) -> String {
    format!("http://{addr}{STATUS_PATH}")
}

/// Starts a gateway per `plan`. A fixed port that cannot be bound (the
/// previous gateway's listener still closing) is retried for a moment, then
/// any free port is taken: the caller compares [`DemoGateway::addr`].
pub(crate) async fn start_gateway(plan: &GatewayPlan) -> anyhow::Result<DemoGateway> {
    anyhow::ensure!(
        plan.listen.ip().is_loopback(),
        "the demo gateway listens on loopback only, not {}",
        plan.listen
    );
    if plan.listen.port() != 0 {
        let give_up = tokio::time::Instant::now() + REBIND_FOR;
        loop {
            match start_at(plan, plan.listen).await {
                Ok(gateway) => return Ok(gateway),
                Err(Started::Bind) if tokio::time::Instant::now() < give_up => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(Started::Bind) => break,
                Err(Started::Failed(e)) => return Err(e),
            }
        }
    }
    let any = SocketAddr::new(plan.listen.ip(), 0);
    match start_at(plan, any).await {
        Ok(gateway) => Ok(gateway),
        Err(Started::Bind) => anyhow::bail!("the demo gateway cannot listen on {any}"),
        Err(Started::Failed(e)) => Err(e),
    }
}

/// Why [`start_at`] did not start a gateway.
enum Started {
    /// The listener's address is taken.
    Bind,
    /// Anything else.
    Failed(anyhow::Error),
}

/// Starts a gateway per `plan`, listening on `listen`.
async fn start_at(plan: &GatewayPlan, listen: SocketAddr) -> Result<DemoGateway, Started> {
    let cfg = config::load(
        &config_text(plan, listen),
        std::path::Path::new("<demo>"),
        &Overrides::default(),
    )
    .context("the demo's configuration")
    .map_err(Started::Failed)?;
    let gateway = match Gateway::start(cfg).await {
        Ok(gateway) => gateway,
        Err(StartError::Bind { .. }) => return Err(Started::Bind),
        Err(e) => {
            return Err(Started::Failed(
                anyhow::Error::new(e).context("starting the demo gateway"),
            ));
        }
    };
    let addr = *gateway
        .addrs()
        .first()
        .context("the demo gateway has a listener")
        .map_err(Started::Failed)?;
    Ok(DemoGateway { gateway, addr })
}

/// The demo gateway's configuration file.
fn config_text(plan: &GatewayPlan, listen: SocketAddr) -> String {
    let upstream = plan.upstream;
    let ms = |d: Duration| format!("{}ms", d.as_millis());
    let s = &plan.status;
    format!(
        r#"
[server]
access_log = false

[admin]
enabled = false

[[listeners]]
listen = "{listen}"

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

# The demo's status page: one component per route (the default), with
# timings that fit a surge of seconds (the defaults are 10s, 60s, 60s, 2m).
[status]
name = "Levee demo"
max_age = "1s"
raise_after = "{raise}"
clear_after = "{clear}"
window = "{window}"
incident_after = "{incident}"
"#,
        raise = ms(s.raise_after),
        clear = ms(s.clear_after),
        window = ms(s.window),
        incident = ms(s.incident_after),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_carries_the_demo_status_times() {
        let plan = GatewayPlan {
            upstream: "127.0.0.1:9".parse().expect("an address"),
            listen: "127.0.0.1:0".parse().expect("an address"),
            status: StatusTimes {
                raise_after: Duration::from_secs(2),
                clear_after: Duration::from_secs(3),
                window: Duration::from_secs(3),
                incident_after: Duration::from_secs(4),
            },
        };
        let text = config_text(&plan, plan.listen);
        let cfg = config::load(&text, std::path::Path::new("<demo>"), &Overrides::default())
            .expect("the demo's configuration is valid");
        let s = &cfg.status;
        assert_eq!(s.thresholds.raise_after, Duration::from_secs(2));
        assert_eq!(s.thresholds.clear_after, Duration::from_secs(3));
        assert_eq!(s.thresholds.window, Duration::from_secs(3));
        assert_eq!(s.incident_after, Some(Duration::from_secs(4)));
        let ids: Vec<&str> = s.components.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["pass-through", "admission"]);
        assert!(s.on_traffic_listener && s.enabled);
    }
}
