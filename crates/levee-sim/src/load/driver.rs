//! Executes a [`LoadPlan`]: sends each request at its scheduled time,
//! whatever became of the earlier ones, and records how it ended.
//!
//! Open loop: the dispatcher never waits for a response, a connection or a
//! slow target; each arrival runs on its own task and gives up at its client
//! deadline. A closed-loop client is an arrival whose task sends its requests
//! one after the other. It must stay bounded: the plan's arrivals and
//! requests are finite and every request ends by its deadline, so a run ends
//! at most one deadline after its last arrival (a client's requests × its
//! deadline, for closed-loop clients).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, header};
use http_body_util::{BodyExt, Empty};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::LoadError;
use super::plan::{LoadPlan, Paths};
use super::pool::Pool;
use super::record::{Failure, Outcome, RequestRecord, Run};

/// A load run in progress. Dropping it does not stop it; [`LoadRun::wait`]
/// for the [`Run`].
#[derive(Debug)]
pub struct LoadRun {
    counters: Arc<Counters>,
    pool: Arc<Pool>,
    started: Instant,
    task: JoinHandle<Run>,
}

/// Live totals of a run, for progress lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Time since the run started.
    pub elapsed: Duration,
    /// Requests sent so far.
    pub sent: u64,
    /// 2xx responses.
    pub success: u64,
    /// 503 and 429 responses.
    pub shed: u64,
    /// Requests whose client deadline passed.
    pub timeouts: u64,
    /// Other statuses and failures.
    pub other: u64,
    /// Connections the generator holds open now.
    pub connections: usize,
}

#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    success: AtomicU64,
    shed: AtomicU64,
    timeouts: AtomicU64,
    other: AtomicU64,
}

/// Starts `plan` on the current tokio runtime.
///
/// # Errors
/// The plan targets a non-loopback address or has a header or path that
/// cannot be sent.
pub fn start(plan: LoadPlan) -> Result<LoadRun, LoadError> {
    plan.validate()?;
    let counters = Arc::new(Counters::default());
    let pool = Arc::new(Pool::new(plan.target, plan.max_connections));
    let started = Instant::now();
    let task = tokio::spawn(drive(
        plan,
        Arc::clone(&pool),
        Arc::clone(&counters),
        started,
    ));
    Ok(LoadRun {
        counters,
        pool,
        started,
        task,
    })
}

/// Runs `plan` to the end.
///
/// # Errors
/// As [`start`], or [`LoadError::Panicked`].
pub async fn run(plan: LoadPlan) -> Result<Run, LoadError> {
    start(plan)?.wait().await
}

impl LoadRun {
    /// The totals so far.
    pub fn progress(&self) -> Progress {
        let c = &self.counters;
        Progress {
            elapsed: self.started.elapsed(),
            sent: c.sent.load(Relaxed),
            success: c.success.load(Relaxed),
            shed: c.shed.load(Relaxed),
            timeouts: c.timeouts.load(Relaxed),
            other: c.other.load(Relaxed),
            connections: self.pool.open(),
        }
    }

    /// True once every request has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits for the last request to end.
    ///
    /// # Errors
    /// [`LoadError::Panicked`] if the dispatcher panicked (a bug).
    pub async fn wait(self) -> Result<Run, LoadError> {
        self.task
            .await
            .map_err(|e| LoadError::Panicked(e.to_string()))
    }
}

/// Everything a request task needs to build its requests, by stream.
struct Template {
    paths: Vec<Paths>,
    headers: Vec<HeaderMap>,
    deadlines: Vec<Duration>,
}

async fn drive(plan: LoadPlan, pool: Arc<Pool>, counters: Arc<Counters>, started: Instant) -> Run {
    let arrivals = plan.arrivals();
    let host = plan.host.clone().unwrap_or_else(|| plan.target.to_string());
    let template = Arc::new(Template {
        paths: plan.streams.iter().map(|s| s.paths.clone()).collect(),
        headers: plan
            .streams
            .iter()
            .map(|s| headers(&host, &s.headers))
            .collect(),
        deadlines: (0..plan.streams.len())
            .map(|i| plan.deadline_of(i))
            .collect(),
    });
    // Paths are drawn from one generator per stream, in arrival order, so
    // the same plan sends the same paths to every target.
    let mut paths: Vec<StdRng> = (0..plan.streams.len())
        .map(|i| {
            StdRng::seed_from_u64(
                plan.seed ^ (0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(i as u64 + 1)),
            )
        })
        .collect();
    // The schedule is kept by a thread of its own, which sleeps with the OS's
    // timer (tens of microseconds late) rather than tokio's, whose 1 ms ticks
    // would send a request up to a millisecond late and add that to every
    // latency measured. Each request still runs on the runtime.
    let runtime = tokio::runtime::Handle::current();
    let dispatcher = tokio::task::spawn_blocking(move || {
        let mut tasks = Vec::with_capacity(arrivals.len());
        for arrival in arrivals {
            let due = started + arrival.at;
            let early = due.saturating_duration_since(Instant::now());
            if !early.is_zero() {
                // A blocking-pool thread of its own: no runtime worker waits here.
                #[allow(clippy::disallowed_methods)]
                std::thread::sleep(early);
            }
            let client = Client {
                due,
                started,
                stream: arrival.stream,
                requests: arrival.requests,
                seed: paths[usize::from(arrival.stream)].random(),
            };
            tasks.push(runtime.spawn(client.run(
                Arc::clone(&pool),
                Arc::clone(&template),
                Arc::clone(&counters),
            )));
        }
        tasks
    });
    let tasks = match dispatcher.await {
        Ok(tasks) => tasks,
        // A bug: let `wait` report it as `LoadError::Panicked`.
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    };
    let mut records = Vec::with_capacity(tasks.len());
    for task in tasks {
        records.extend(task.await.into_iter().flatten());
    }
    records.sort_by_key(|r| (r.at, r.stream));
    Run {
        records,
        labels: plan.labels(),
        duration: plan.duration(),
        deadline: plan.deadline,
        elapsed: started.elapsed(),
    }
}

fn headers(host: &str, extra: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    if let Ok(host) = HeaderValue::try_from(host) {
        map.insert(header::HOST, host);
    }
    for (name, value) in extra {
        // Validated by the plan before the run started.
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            map.append(name, value);
        }
    }
    map
}

/// One arrival: a client that sends `requests` requests of `stream`, the
/// first when it is `due`, each next one as soon as the previous ended.
struct Client {
    due: Instant,
    started: Instant,
    stream: u16,
    requests: usize,
    /// Seeds the paths of its requests.
    seed: u64,
}

impl Client {
    async fn run(
        self,
        pool: Arc<Pool>,
        template: Arc<Template>,
        counters: Arc<Counters>,
    ) -> Vec<RequestRecord> {
        let index = usize::from(self.stream);
        let mut rng = StdRng::seed_from_u64(self.seed);
        let mut records = Vec::with_capacity(self.requests);
        let mut due = self.due;
        for _ in 0..self.requests {
            let sent = Sent {
                at: due.saturating_duration_since(self.started),
                due,
                stream: self.stream,
                deadline: template.deadlines[index],
                path: template.paths[index].draw(&mut rng),
            };
            counters.sent.fetch_add(1, Relaxed);
            records.push(one(sent, &pool, &template, &counters).await);
            due = Instant::now();
        }
        records
    }
}

struct Sent {
    at: Duration,
    due: Instant,
    stream: u16,
    deadline: Duration,
    path: String,
}

async fn one(sent: Sent, pool: &Pool, template: &Template, counters: &Counters) -> RequestRecord {
    let lag = sent.due.elapsed();
    let index = usize::from(sent.stream);
    let mut request = Request::get(sent.path.as_str())
        .body(Empty::<Bytes>::new())
        .expect("the path was validated by the plan");
    *request.headers_mut() = template.headers[index].clone();
    let answer = tokio::time::timeout_at(sent.due + sent.deadline, exchange(pool, request)).await;
    let (outcome, retry_after) = match answer {
        Err(_) => (Outcome::Timeout, None),
        Ok(Err(failure)) => (Outcome::Failed(failure), None),
        Ok(Ok((outcome, retry_after))) => (outcome, retry_after),
    };
    let counter = match outcome {
        Outcome::Success => &counters.success,
        o if o.is_shed() => &counters.shed,
        Outcome::Timeout => &counters.timeouts,
        _ => &counters.other,
    };
    counter.fetch_add(1, Relaxed);
    RequestRecord {
        at: sent.at,
        lag,
        stream: sent.stream,
        outcome,
        latency: sent.due.elapsed(),
        retry_after,
    }
}

/// Sends one request and reads the whole response.
async fn exchange(
    pool: &Pool,
    request: Request<Empty<Bytes>>,
) -> Result<(Outcome, Option<u64>), Failure> {
    let mut conn = pool.checkout().await?;
    let response = conn
        .sender()
        .send_request(request)
        .await
        .map_err(|_| Failure::Io)?;
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(retry_after_secs);
    let outcome = Outcome::of_status(response.status());
    response
        .into_body()
        .collect()
        .await
        .map_err(|_| Failure::Io)?;
    pool.checkin(conn);
    Ok((outcome, retry_after))
}

/// `Retry-After` in seconds from now, in either grammar (RFC 9110 §10.2.3).
fn retry_after_secs(value: &HeaderValue) -> Option<u64> {
    let text = value.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(secs);
    }
    let when = httpdate::parse_http_date(text).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or_default()
            .as_secs(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_both_grammars() {
        assert_eq!(retry_after_secs(&HeaderValue::from_static("7")), Some(7));
        assert_eq!(
            retry_after_secs(&HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT")),
            Some(0)
        );
        assert_eq!(retry_after_secs(&HeaderValue::from_static("soon")), None);
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        let secs =
            retry_after_secs(&HeaderValue::try_from(later).expect("a date is a valid value"));
        assert!(matches!(secs, Some(118..=120)), "{secs:?}");
    }
}
