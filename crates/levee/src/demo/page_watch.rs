//! The demo's eye on the status page: it starts each phase's gateway at one
//! address (so the page a person opened at the start stays at its URL),
//! and reads that gateway's Statuspage JSON once a second over loopback
//! (`summary.json` for the components, the indicator and the unresolved
//! incidents; `incidents.json` for how they end), into a [`Timeline`].
//!
//! It only reads the page, with plain GETs, as any Statuspage client
//! would; it must not change the gateway's status, nor print (the phase's
//! progress meter prints what [`PageWatch::poll`] returns).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::timeline::{Incident, Observation, Snapshot, Timeline, settings_words};
use crate::demo_gateway::{
    AnswersReader, DemoGateway, GatewayPlan, StatusTimes, start_gateway, status_url,
};

/// How often the page is read: as often as it is decided.
const EVERY: Duration = Duration::from_secs(1);
/// How long one read may take (a loaded machine answers late, not never).
const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// Starts the demo's gateways and reads their status page.
#[derive(Debug)]
pub(super) struct PageWatch {
    client: reqwest::Client,
    times: StatusTimes,
    /// Where the gateways listen, once the first one took a port.
    addr: Option<SocketAddr>,
    /// When the demo started.
    origin: Instant,
    timeline: Timeline,
    sampler: Option<Sampler>,
}

/// The task reading one gateway's page, and what it read.
#[derive(Debug)]
struct Sampler {
    seen: mpsc::UnboundedReceiver<Observation>,
    task: JoinHandle<()>,
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PageWatch {
    /// A watch for gateways running with `times`, in a demo that started at
    /// `origin`.
    pub(super) fn new(times: StatusTimes, origin: Instant) -> anyhow::Result<Self> {
        let client = crate::fetch::client_builder()
            .no_proxy()
            .timeout(READ_TIMEOUT)
            .build()
            .context("building the status page's HTTP client")?;
        Ok(Self {
            client,
            times,
            addr: None,
            origin,
            timeline: Timeline::new(times),
            sampler: None,
        })
    }

    /// Starts a gateway in front of `upstream` at the page's address (the
    /// first takes a free port); says where the page is the first time, and
    /// again if a gateway had to move.
    pub(super) async fn gateway(&mut self, upstream: SocketAddr) -> anyhow::Result<DemoGateway> {
        let listen = self
            .addr
            .unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        let gateway = start_gateway(&GatewayPlan {
            upstream,
            listen,
            status: self.times,
        })
        .await?;
        match self.addr {
            None => {
                println!(
                    "status page: {} (open it now: each phase's fresh gateway serves it at this address; \
                     reload to follow)",
                    gateway.status_url()
                );
                println!("  {}", settings_words(&self.times));
            }
            Some(before) if before != gateway.addr() => println!(
                "status page: moved to {} ({} was still taken)",
                gateway.status_url(),
                status_url(before)
            ),
            Some(_) => {}
        }
        self.addr = Some(gateway.addr());
        Ok(gateway)
    }

    /// Starts reading `gateway`'s page for the phase `name`, whose run starts now.
    pub(super) fn begin(&mut self, name: &str, gateway: &DemoGateway) {
        let base = format!("{}api/v2/", gateway.status_url());
        self.timeline.begin(name, gateway.status_url());
        let (tx, seen) = mpsc::unbounded_channel();
        let task = tokio::spawn(sample(Reads {
            client: self.client.clone(),
            base,
            answers: gateway.answers(),
            started: Instant::now(),
            origin: self.origin,
            tx,
        }));
        self.sampler = Some(Sampler { seen, task });
    }

    /// Takes what was read since the last call; returns the changes in words.
    pub(super) fn poll(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        let Some(sampler) = self.sampler.as_mut() else {
            return lines;
        };
        while let Ok(obs) = sampler.seen.try_recv() {
            lines.extend(self.timeline.observe(obs).iter().map(|c| c.line()));
        }
        lines
    }

    /// Whether the page, as last read, is back to normal.
    pub(super) fn settled(&self) -> bool {
        self.timeline.settled()
    }

    /// Stops reading the phase's page; returns the last changes in words.
    pub(super) fn end(&mut self) -> Vec<String> {
        let lines = self.poll();
        self.sampler = None;
        lines
    }

    /// The status page's timings the gateways run with.
    pub(super) fn times(&self) -> StatusTimes {
        self.times
    }

    /// What was seen.
    pub(super) fn timeline(&self) -> &Timeline {
        &self.timeline
    }
}

/// What the sampling task needs.
struct Reads {
    client: reqwest::Client,
    /// `http://…/_levee/status/api/v2/`.
    base: String,
    answers: AnswersReader,
    /// When the phase's run started.
    started: Instant,
    origin: Instant,
    tx: mpsc::UnboundedSender<Observation>,
}

/// Reads the page once a second until the receiver is gone.
async fn sample(r: Reads) {
    let mut every = tokio::time::interval(EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let page = read(&r.client, &r.base).await;
        let obs = Observation {
            at: r.started.elapsed().as_secs_f64(),
            demo_at: r.origin.elapsed().as_secs_f64(),
            page,
            answers: (r.answers)(),
        };
        if r.tx.send(obs).is_err() {
            return;
        }
    }
}

/// `summary.json` and `incidents.json`, as one snapshot.
async fn read(client: &reqwest::Client, base: &str) -> Result<Snapshot, String> {
    let (summary_url, incidents_url) = (
        format!("{base}summary.json"),
        format!("{base}incidents.json"),
    );
    let (summary, incidents) = tokio::join!(
        get::<SummaryDoc>(client, &summary_url),
        get::<IncidentsDoc>(client, &incidents_url),
    );
    let (summary, incidents) = (summary?, incidents?);
    let components = summary
        .components
        .into_iter()
        .filter(|c| !c.group)
        .map(|c| (c.name, c.status))
        .collect();
    // incidents.json has every recent incident, resolved or not;
    // summary.json's unresolved ones are among them unless one opened
    // between the two reads: take both.
    let mut all: Vec<Incident> = incidents.incidents.into_iter().map(Into::into).collect();
    for i in summary.incidents {
        if !all.iter().any(|a| a.id == i.id) {
            all.insert(0, i.into());
        }
    }
    Ok(Snapshot {
        components,
        indicator: summary.status.indicator,
        description: summary.status.description,
        incidents: all,
    })
}

/// `GET url` as `T`, or why not in words.
async fn get<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    url: &str,
) -> Result<T, String> {
    let response = client.get(url).send().await.map_err(|e| {
        if e.is_timeout() {
            format!("no answer within {} s", READ_TIMEOUT.as_secs())
        } else {
            format!("cannot read {url}: {e}")
        }
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{url} answered {status}"));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("{url}: the answer broke off: {e}"))?;
    serde_json::from_slice(&body).map_err(|e| format!("{url} is not Statuspage JSON: {e}"))
}

/// The part of `summary.json` the demo reads.
#[derive(Deserialize)]
struct SummaryDoc {
    components: Vec<ComponentDoc>,
    incidents: Vec<IncidentDoc>,
    status: RollupDoc,
}

/// The part of `incidents.json` the demo reads.
#[derive(Deserialize)]
struct IncidentsDoc {
    incidents: Vec<IncidentDoc>,
}

#[derive(Deserialize)]
struct ComponentDoc {
    name: String,
    status: String,
    #[serde(default)]
    group: bool,
}

#[derive(Deserialize)]
struct IncidentDoc {
    id: String,
    name: String,
    status: String,
    impact: String,
    /// Newest first.
    #[serde(default)]
    incident_updates: Vec<UpdateDoc>,
}

#[derive(Deserialize)]
struct UpdateDoc {
    body: String,
}

#[derive(Deserialize)]
struct RollupDoc {
    indicator: String,
    description: String,
}

impl From<IncidentDoc> for Incident {
    fn from(i: IncidentDoc) -> Self {
        Incident {
            id: i.id,
            name: i.name,
            status: i.status,
            impact: i.impact,
            latest: i
                .incident_updates
                .into_iter()
                .next()
                .map(|u| u.body)
                .unwrap_or_default(),
        }
    }
}
