//! Webhook notifications: the status page's events POSTed to subscribers,
//! signed, retried with the shared client policy, in order, per subscriber.
//!
//! This module owns delivery: one bounded queue and one Tokio task per
//! subscriber, the request (headers and signature), classifying each answer,
//! and when to try again or give up. It must not decide *what* is sent or
//! when (the status page builds the JSON and calls [`Webhooks::notify`]),
//! must never block or fail the caller, and keeps nothing on disk: payloads
//! still queued when Levee stops, or when a reload removes their subscriber,
//! are lost.
//!
//! # What a subscriber receives
//!
//! ```text
//! POST <url>
//! Content-Type: application/json
//! User-Agent: levee/<version>
//! X-Levee-Event: component.update            (or incident.update, ...)
//! X-Levee-Delivery: 01J9ZQ4X8V6K2M3N4P5Q6R7S8T   (a ULID; the same on every retry)
//! X-Levee-Signature: t=1733390000,v1=5f1c...   (only with a secret)
//! ```
//!
//! `v1` is the lower-case hex HMAC-SHA256, keyed with the secret, of the
//! timestamp, a `.`, and the body's exact bytes (`"<t>.<body>"`), as Stripe
//! signs. `t` is the sending time of *this attempt*, so a receiver can verify
//! the signature and then refuse a `t` too far from its own clock (a replay),
//! and drop a delivery id it has already handled (a retry whose `2xx` was lost).
//!
//! # Retries
//!
//! A `2xx` is delivered. A refused or failed connection, a timeout (10 s per
//! attempt, connect included), `408`, `429` and `5xx` are tried again; any other
//! answer (a `3xx` is not followed; a `4xx` says the request itself is wrong)
//! fails the payload at once. Waits come from Levee's shared policy:
//! [`Backoff`] with jitter, or the subscriber's `Retry-After` on `429`/`503`
//! (never shortened; one too long for the time left gives up instead). A
//! payload gets at most 6 attempts and 10 minutes, and a per-subscriber
//! [`RetryThrottle`] (gRPC's retry token bucket) stops retries altogether
//! while most recent attempts to that subscriber failed: a dead subscriber
//! then gets one attempt per payload, not six. A payload given up is logged
//! at WARN with the subscriber's URL (no userinfo, no query, only the path's
//! first segment) and the reason.
//!
//! Payloads to one subscriber are delivered in order: the next one waits until
//! the current one is delivered or given up. If the subscriber falls more than
//! [`DeliveryPolicy::queue`] payloads behind, the oldest are dropped (and
//! counted, and logged).
//!
//! ```
//! use levee_control::status::webhook::{DeliveryPolicy, Webhooks};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let webhooks = Webhooks::start_with(Vec::new(), DeliveryPolicy::default());
//! webhooks.notify("component.update", r#"{"component":"api"}"#.to_owned());
//! assert!(webhooks.stats().is_empty()); // no subscribers: nothing to do
//! # }
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::header::{CONTENT_TYPE, USER_AGENT};
use http::{HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use levee_http::retry_after::RetryAfter;
use levee_policy::backoff::{Backoff, Jitter};
use levee_policy::budget::{RetryThrottle, RetryThrottleConfig};
use sha2::Sha256;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use ulid::Ulid;

use crate::config::resolve::WebhookSpec;

/// `User-Agent` of every delivery.
const AGENT: &str = concat!("levee/", env!("CARGO_PKG_VERSION"));
/// How much of a subscriber's answer is read (then dropped), so the
/// connection can be reused.
const MAX_ANSWER: usize = 64 * 1024;
/// How long that reading may take.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// How payloads are delivered: queue size, timeouts and the retry policy.
/// [`Default`] is what Levee uses; tests shorten the waits.
#[derive(Debug, Clone)]
pub struct DeliveryPolicy {
    /// Payloads waiting per subscriber; beyond this the oldest is dropped.
    /// Default 256.
    pub queue: usize,
    /// Attempts per payload, the first included. Default 6.
    pub max_attempts: u32,
    /// A payload is given up rather than retried past this long after its
    /// first attempt. Default 10 minutes.
    pub max_time: Duration,
    /// One attempt, from connecting (TLS included) to the answer's head.
    /// Default 10 s.
    pub attempt_timeout: Duration,
    /// Opening the TCP connection. Default 5 s.
    pub connect_timeout: Duration,
    /// The wait between attempts when the subscriber names none. Default
    /// 5 s doubling to at most 2 min, with equal jitter (at least half of
    /// each step), so a restarting subscriber is waited for.
    pub backoff: Backoff,
    /// The per-subscriber retry throttle. Default 10 tokens, and one back per
    /// success: webhooks are few, so Levee's usual 0.1 would keep retries off
    /// for dozens of payloads after an outage.
    pub throttle: RetryThrottleConfig,
    /// What `https://` subscribers are verified with; `None`: the platform's
    /// roots (see [`crate::tls::platform_roots`]), loaded on first use.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl Default for DeliveryPolicy {
    fn default() -> DeliveryPolicy {
        DeliveryPolicy {
            queue: 256,
            max_attempts: 6,
            max_time: Duration::from_secs(600),
            attempt_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            backoff: Backoff {
                base: Duration::from_secs(5),
                cap: Duration::from_secs(120),
                jitter: Jitter::Equal,
            },
            throttle: RetryThrottleConfig {
                max_tokens: 10.0,
                token_ratio: 1.0,
            },
            tls: None,
        }
    }
}

/// One subscriber's counters, since it was started (a reload that keeps its
/// URL and secret keeps them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberStats {
    /// The URL, without userinfo or query.
    pub url: String,
    /// Payloads waiting now (the one being delivered not included).
    pub queued: usize,
    /// Requests sent or tried (connections that failed included).
    pub attempts: u64,
    /// Payloads delivered (answered `2xx`).
    pub delivered: u64,
    /// Payloads given up: refused with a `4xx`, or out of attempts, time or
    /// retry budget.
    pub failed: u64,
    /// Payloads dropped unsent because the queue was full.
    pub dropped: u64,
}

/// The webhook subscribers and their delivery tasks.
///
/// Tasks run on the Tokio runtime current when [`Webhooks::start`] or
/// [`Webhooks::replace`] is called, or else on that of the first
/// [`Webhooks::notify`] made on one: nothing here panics outside a runtime.
/// Dropping `Webhooks` stops every task and discards what is queued.
pub struct Webhooks {
    context: Arc<Context>,
    subscribers: Mutex<Vec<Subscriber>>,
}

impl fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let urls: Vec<String> = lock(&self.subscribers)
            .iter()
            .map(|s| s.shared.url.clone())
            .collect();
        f.debug_struct("Webhooks")
            .field("subscribers", &urls)
            .finish()
    }
}

impl Webhooks {
    /// Starts one delivery task per subscriber, with the default policy.
    pub fn start(specs: Vec<WebhookSpec>) -> Webhooks {
        Webhooks::start_with(specs, DeliveryPolicy::default())
    }

    /// Starts one delivery task per subscriber, with `policy`.
    pub fn start_with(specs: Vec<WebhookSpec>, policy: DeliveryPolicy) -> Webhooks {
        let webhooks = Webhooks {
            context: Arc::new(Context {
                policy,
                platform_tls: OnceLock::new(),
            }),
            subscribers: Mutex::new(Vec::new()),
        };
        webhooks.replace(specs);
        webhooks
    }

    /// Applies a reload: a subscriber whose URL and secret are unchanged keeps
    /// its queue, counters, connections and retry throttle; a new one starts
    /// empty; one removed, or whose URL or secret changed, is stopped at once,
    /// its queued payloads and any delivery in progress discarded.
    pub fn replace(&self, specs: Vec<WebhookSpec>) {
        let mut subscribers = lock(&self.subscribers);
        let mut old = std::mem::take(&mut *subscribers);
        for spec in specs {
            let subscriber = match old.iter().position(|s| s.spec == spec) {
                Some(i) => old.swap_remove(i),
                None => Subscriber::new(spec, &self.context.policy),
            };
            subscriber.ensure_running(&self.context);
            subscribers.push(subscriber);
        }
        // `old` drops here: its tasks are aborted.
    }

    /// Queues `payload` (JSON) for every subscriber, as an `event` (e.g.
    /// `component.update`, sent as `X-Levee-Event`). Never blocks and never
    /// fails: a full queue drops its oldest payload.
    pub fn notify(&self, event: &'static str, payload: String) {
        let Ok(event_header) = HeaderValue::from_str(event) else {
            tracing::warn!(
                event,
                "webhook event name is not a valid header value; not sent"
            );
            return;
        };
        let body = Bytes::from(payload);
        for subscriber in lock(&self.subscribers).iter() {
            subscriber.ensure_running(&self.context);
            subscriber.shared.push(Payload {
                id: Ulid::new(),
                event,
                event_header: event_header.clone(),
                body: body.clone(),
            });
        }
    }

    /// Each subscriber's counters, in configuration order.
    pub fn stats(&self) -> Vec<SubscriberStats> {
        lock(&self.subscribers)
            .iter()
            .map(|s| s.shared.stats())
            .collect()
    }
}

/// What every subscriber shares.
struct Context {
    policy: DeliveryPolicy,
    /// The platform's roots as a client configuration, or why there is none.
    platform_tls: OnceLock<Result<Arc<rustls::ClientConfig>, String>>,
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

impl Context {
    /// The client a subscriber is reached with, or why it cannot be.
    fn client(&self, url: &Uri) -> Result<HttpClient, String> {
        let tls = if url.scheme_str() == Some("https") {
            match &self.policy.tls {
                Some(tls) => tls.clone(),
                None => self
                    .platform_tls
                    .get_or_init(|| {
                        crate::tls::platform_roots()
                            .and_then(|roots| crate::tls::client_config(roots, None))
                            .map_err(|e| e.to_string())
                    })
                    .clone()?,
            }
        } else {
            // Never used (the scheme is http), but the connector wants one.
            crate::tls::client_config(rustls::RootCertStore::empty(), None)
                .map_err(|e| e.to_string())?
        };
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(self.policy.connect_timeout));
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config((*tls).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        Ok(Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(1)
            .build(connector))
    }
}

/// One subscriber: its queue and counters, and its task once started.
struct Subscriber {
    spec: WebhookSpec,
    shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Subscriber {
    fn new(spec: WebhookSpec, policy: &DeliveryPolicy) -> Subscriber {
        Subscriber {
            shared: Arc::new(Shared {
                url: redacted(&spec.url),
                capacity: policy.queue.max(1),
                queue: Mutex::new(Queue::default()),
                wake: Notify::new(),
                attempts: AtomicU64::new(0),
                delivered: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
            }),
            spec,
            task: Mutex::new(None),
        }
    }

    /// Starts the delivery task if it is not running and a runtime is at hand.
    fn ensure_running(&self, context: &Context) {
        let mut task = lock(&self.task);
        if task.is_some() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let client = context.client(&self.spec.url);
        if let Err(why) = &client {
            tracing::warn!(webhook = %self.shared.url, reason = %why, "webhook subscriber cannot be reached; its payloads will be given up");
        }
        let throttle = RetryThrottle::new(context.policy.throttle).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "invalid webhook retry throttle; using the default");
            RetryThrottle::new(RetryThrottleConfig::default())
                .expect("the default retry throttle is valid")
        });
        let worker = Worker {
            shared: self.shared.clone(),
            url: self.spec.url.clone(),
            secret: self.spec.secret.clone(),
            client,
            throttle,
            policy: context.policy.clone(),
        };
        *task = Some(runtime.spawn(worker.run()));
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
    }
}

/// A subscriber's state shared by [`Webhooks`] and its task.
struct Shared {
    /// The URL for logs and stats.
    url: String,
    capacity: usize,
    queue: Mutex<Queue>,
    /// Wakes the task when a payload is queued.
    wake: Notify,
    attempts: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

#[derive(Default)]
struct Queue {
    payloads: VecDeque<Payload>,
    /// Dropped since the task last said so.
    unreported: u64,
}

/// One payload, bound for one subscriber.
struct Payload {
    /// `X-Levee-Delivery`: the same on every attempt.
    id: Ulid,
    event: &'static str,
    event_header: HeaderValue,
    body: Bytes,
}

impl Shared {
    fn push(&self, payload: Payload) {
        let mut queue = lock(&self.queue);
        if queue.payloads.len() >= self.capacity {
            queue.payloads.pop_front();
            queue.unreported += 1;
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if queue.unreported == 1 {
                tracing::warn!(webhook = %self.url, capacity = self.capacity, dropped_total = dropped,
                    "webhook queue full: dropping the oldest payloads until the subscriber catches up");
            }
        }
        queue.payloads.push_back(payload);
        drop(queue);
        // Stores a permit when the task is busy, so no wake-up is lost.
        self.wake.notify_one();
    }

    fn pop(&self) -> Option<Payload> {
        let mut queue = lock(&self.queue);
        if queue.unreported > 0 {
            tracing::warn!(webhook = %self.url, dropped = queue.unreported, "webhook payloads dropped while the queue was full");
            queue.unreported = 0;
        }
        queue.payloads.pop_front()
    }

    fn stats(&self) -> SubscriberStats {
        SubscriberStats {
            url: self.url.clone(),
            queued: lock(&self.queue).payloads.len(),
            attempts: self.attempts.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

/// Why one attempt did not deliver, when trying again may.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    /// No answer: the connection failed or broke (the cause chain).
    Connection(String),
    /// No answer within the attempt's timeout.
    Timeout(Duration),
    /// `408`, `429` or `5xx`.
    Status(StatusCode),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Connection(cause) => write!(f, "{cause}"),
            Failure::Timeout(t) => write!(f, "no answer within {} ms", t.as_millis()),
            Failure::Status(s) => write!(f, "answered {s}"),
        }
    }
}

/// Why a payload was given up.
#[derive(Debug, Clone, PartialEq, Eq)]
enum GiveUp {
    /// A final answer that is neither `2xx` nor worth retrying.
    Refused(StatusCode),
    /// The last of `max_attempts` failed.
    AttemptsExhausted { attempts: u32, last: Failure },
    /// The next attempt would start after `max_time`.
    OutOfTime { next_wait: Duration, last: Failure },
    /// Too many recent attempts to this subscriber failed.
    Throttled { last: Failure },
    /// The subscriber cannot be reached at all (its TLS roots, or a request
    /// that cannot be built).
    Unreachable(String),
}

impl fmt::Display for GiveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GiveUp::Refused(s) => write!(f, "answered {s}, which is not retried"),
            GiveUp::AttemptsExhausted { attempts, last } => {
                write!(f, "{attempts} attempts failed, the last: {last}")
            }
            GiveUp::OutOfTime { next_wait, last } => write!(
                f,
                "the next attempt (in {} s) would be past the time limit; the last: {last}",
                next_wait.as_secs()
            ),
            GiveUp::Throttled { last } => write!(
                f,
                "retries to this subscriber are paused (most recent attempts failed); the last: {last}"
            ),
            GiveUp::Unreachable(why) => write!(f, "{why}"),
        }
    }
}

/// What one attempt came to.
enum Attempt {
    Delivered,
    Refused(StatusCode),
    Failed {
        failure: Failure,
        /// The subscriber's `Retry-After` (on `429` and `503`).
        asked: Option<Duration>,
    },
}

/// One subscriber's delivery task.
struct Worker {
    shared: Arc<Shared>,
    url: Uri,
    secret: Option<String>,
    client: Result<HttpClient, String>,
    throttle: RetryThrottle,
    policy: DeliveryPolicy,
}

impl Worker {
    async fn run(self) {
        loop {
            match self.shared.pop() {
                Some(payload) => self.deliver(&payload).await,
                None => self.shared.wake.notified().await,
            }
        }
    }

    /// Delivers `payload` or gives it up: attempts, waits and the verdict.
    async fn deliver(&self, payload: &Payload) {
        let started = Instant::now();
        let (mut attempts, mut backoffs, mut prev_backoff) = (0u32, 0u32, None);
        loop {
            attempts += 1;
            let (failure, asked) = match self.attempt(payload).await {
                Ok(Attempt::Delivered) => {
                    self.throttle.on_success();
                    self.shared.delivered.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(webhook = %self.shared.url, event = payload.event, delivery = %payload.id, attempts, "webhook delivered");
                    return;
                }
                Ok(Attempt::Refused(status)) => {
                    return self.give_up(payload, attempts, GiveUp::Refused(status));
                }
                Ok(Attempt::Failed { failure, asked }) => (failure, asked),
                Err(why) => return self.give_up(payload, attempts, why),
            };
            self.throttle.on_failure();
            if attempts >= self.policy.max_attempts {
                let why = GiveUp::AttemptsExhausted {
                    attempts,
                    last: failure,
                };
                return self.give_up(payload, attempts, why);
            }
            // The subscriber's own wait is honoured as is; otherwise backoff.
            let wait = match asked {
                Some(asked) => asked,
                None => {
                    let wait = self
                        .policy
                        .backoff
                        .delay(backoffs, prev_backoff, &mut rand::rng());
                    backoffs += 1;
                    prev_backoff = Some(wait);
                    wait
                }
            };
            if started.elapsed().saturating_add(wait) > self.policy.max_time {
                let why = GiveUp::OutOfTime {
                    next_wait: wait,
                    last: failure,
                };
                return self.give_up(payload, attempts, why);
            }
            if !self.throttle.allows_retry() {
                return self.give_up(payload, attempts, GiveUp::Throttled { last: failure });
            }
            tracing::debug!(webhook = %self.shared.url, event = payload.event, delivery = %payload.id, attempts,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), reason = %failure, "webhook attempt failed; retrying");
            tokio::time::sleep(wait).await;
        }
    }

    fn give_up(&self, payload: &Payload, attempts: u32, why: GiveUp) {
        self.shared.failed.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(webhook = %self.shared.url, event = payload.event, delivery = %payload.id, attempts,
            reason = %why, "webhook payload given up");
    }

    /// One request and its answer, bounded by the attempt timeout. `Err`: this
    /// payload cannot be sent to this subscriber at all.
    async fn attempt(&self, payload: &Payload) -> Result<Attempt, GiveUp> {
        let client = self
            .client
            .as_ref()
            .map_err(|why| GiveUp::Unreachable(why.clone()))?;
        let request = self.request(payload)?;
        self.shared.attempts.fetch_add(1, Ordering::Relaxed);
        let timeout = self.policy.attempt_timeout;
        let response = match tokio::time::timeout(timeout, client.request(request)).await {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => {
                let failure = Failure::Connection(causes(&e));
                return Ok(Attempt::Failed {
                    failure,
                    asked: None,
                });
            }
            Err(_) => {
                let failure = Failure::Timeout(timeout);
                return Ok(Attempt::Failed {
                    failure,
                    asked: None,
                });
            }
        };
        let status = response.status();
        let asked = match status {
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                retry_after(response.headers())
            }
            _ => None,
        };
        // The verdict is the status: the body is read (a bounded amount, for
        // a bounded time) only so the connection can be reused, and a slow
        // one must not turn a delivered payload into a retry.
        let drain = Limited::new(response.into_body(), MAX_ANSWER).collect();
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, drain).await;
        Ok(if status.is_success() {
            Attempt::Delivered
        } else if status == StatusCode::REQUEST_TIMEOUT
            || status == StatusCode::TOO_MANY_REQUESTS
            || status.is_server_error()
        {
            Attempt::Failed {
                failure: Failure::Status(status),
                asked,
            }
        } else {
            Attempt::Refused(status)
        })
    }

    /// The POST for one attempt, signed now when there is a secret.
    fn request(&self, payload: &Payload) -> Result<Request<Full<Bytes>>, GiveUp> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(USER_AGENT, HeaderValue::from_static(AGENT))
            .header("x-levee-event", payload.event_header.clone())
            .header("x-levee-delivery", payload.id.to_string());
        if let Some(secret) = &self.secret {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let signature = signature(secret, now, &payload.body).ok_or_else(|| {
                GiveUp::Unreachable("the secret cannot key HMAC-SHA256".to_owned())
            })?;
            request = request.header("x-levee-signature", signature);
        }
        request
            .body(Full::new(payload.body.clone()))
            .map_err(|e| GiveUp::Unreachable(format!("cannot build the request: {e}")))
    }
}

/// `t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
fn signature(secret: &str, timestamp: u64, body: &[u8]) -> Option<String> {
    // HMAC takes keys of any length: this fails only if that ever changes.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!(
        "t={timestamp},v1={}",
        hex(&mac.finalize().into_bytes())
    ))
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// The answer's `Retry-After` as a wait (an HTTP-date measured against the
/// answer's `Date` when it has one); `None` when absent or malformed.
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let asked = RetryAfter::from_header_value(headers.get(http::header::RETRY_AFTER)?).ok()?;
    // A `Date` is an HTTP-date too: the same parser reads it.
    let server_date = headers
        .get(http::header::DATE)
        .and_then(|d| RetryAfter::from_header_value(d).ok())
        .and_then(|d| match d {
            RetryAfter::Date(t) => Some(t),
            RetryAfter::Delay(_) => None,
        });
    Some(asked.delay_from(SystemTime::now(), server_date))
}

/// A URL fit for logs: scheme, host, port and the path's first segment
/// (services such as Slack put the secret in the rest of the path); no
/// userinfo, no query.
fn redacted(url: &Uri) -> String {
    let scheme = url.scheme_str().unwrap_or("http");
    let host = url.host().unwrap_or("");
    let path = url.path();
    let first = path[1.min(path.len())..].split('/').next().unwrap_or("");
    let shown = if path.len() > first.len() + 1 {
        format!("/{first}/…")
    } else {
        format!("/{first}")
    };
    match url.port_u16() {
        Some(port) => format!("{scheme}://{host}:{port}{shown}"),
        None => format!("{scheme}://{host}{shown}"),
    }
}

/// An error and its causes, `: `-separated, each said once.
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(cause) = cur {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = cause.source();
    }
    out
}

/// Locks `m`; the state behind every lock here is consistent after each
/// statement, so a panic elsewhere cannot leave it half-updated.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::net::SocketAddr;

    use http::Response;
    use hyper::body::Incoming;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use tokio::net::TcpListener;
    use tokio::sync::mpsc;

    use super::*;

    // ------------------------------------------------------------ a receiver

    /// How the receiver answers one request.
    struct Answer {
        status: u16,
        retry_after: Option<&'static str>,
        /// Wait for [`Receiver::release`] before answering.
        hold: bool,
    }

    fn ok(_: usize) -> Answer {
        Answer {
            status: 200,
            retry_after: None,
            hold: false,
        }
    }

    /// What the receiver's `n`-th request (from 0) gets.
    type Script = fn(usize) -> Answer;

    /// A request as received.
    struct Seen {
        headers: http::HeaderMap,
        body: Bytes,
    }

    struct State {
        script: Script,
        seen: Mutex<Vec<Seen>>,
        release: Notify,
        arrived: mpsc::UnboundedSender<()>,
    }

    /// A hyper server on 127.0.0.1:0 that records every request.
    struct Receiver {
        addr: SocketAddr,
        state: Arc<State>,
        arrived: mpsc::UnboundedReceiver<()>,
        task: JoinHandle<()>,
    }

    impl Drop for Receiver {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    impl Receiver {
        async fn start(script: Script) -> Receiver {
            Receiver::start_with(script, None).await
        }

        /// Serves over TLS when `tls` is given.
        async fn start_with(script: Script, tls: Option<tokio_rustls::TlsAcceptor>) -> Receiver {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("addr");
            let (tx, arrived) = mpsc::unbounded_channel();
            let state = Arc::new(State {
                script,
                seen: Mutex::new(Vec::new()),
                release: Notify::new(),
                arrived: tx,
            });
            let serving = state.clone();
            let task = tokio::spawn(async move {
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let (state, tls) = (serving.clone(), tls.clone());
                    tokio::spawn(async move {
                        match tls {
                            None => serve(TokioIo::new(tcp), state).await,
                            Some(acceptor) => {
                                if let Ok(session) = acceptor.accept(tcp).await {
                                    serve(TokioIo::new(session), state).await;
                                }
                            }
                        }
                    });
                }
            });
            Receiver {
                addr,
                state,
                arrived,
                task,
            }
        }

        fn url(&self, scheme: &str) -> Uri {
            format!("{scheme}://{}/hooks/levee?token=abc", self.addr)
                .parse()
                .expect("url")
        }

        fn seen<T>(&self, f: impl FnOnce(&[Seen]) -> T) -> T {
            f(&lock(&self.state.seen))
        }

        fn bodies(&self) -> Vec<Bytes> {
            self.seen(|s| s.iter().map(|r| r.body.clone()).collect())
        }

        fn release(&self) {
            self.state.release.notify_one();
        }
    }

    async fn serve<I>(io: I, state: Arc<State>)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let svc = service_fn(move |req: Request<Incoming>| {
            let state = state.clone();
            async move { Ok::<_, Infallible>(state.answer(req).await) }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(io, svc)
            .await;
    }

    impl State {
        async fn answer(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let n = {
                let mut seen = lock(&self.seen);
                seen.push(Seen {
                    headers: parts.headers,
                    body,
                });
                seen.len() - 1
            };
            let _ = self.arrived.send(());
            let answer = (self.script)(n);
            if answer.hold {
                self.release.notified().await;
            }
            let mut response = Response::builder().status(answer.status);
            if let Some(after) = answer.retry_after {
                response = response.header(http::header::RETRY_AFTER, after);
            }
            response.body(Full::new(Bytes::new())).expect("response")
        }
    }

    // ------------------------------------------------------------ helpers

    fn spec(url: Uri, secret: Option<&str>) -> WebhookSpec {
        WebhookSpec {
            url,
            secret: secret.map(str::to_owned),
        }
    }

    /// Waits of milliseconds, so a test retries quickly.
    fn quick() -> DeliveryPolicy {
        DeliveryPolicy {
            backoff: Backoff {
                base: Duration::from_millis(10),
                cap: Duration::from_millis(40),
                jitter: Jitter::None,
            },
            attempt_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(1),
            ..DeliveryPolicy::default()
        }
    }

    /// Waits (up to 10 s) until the only subscriber's stats satisfy `done`.
    async fn settled(
        webhooks: &Webhooks,
        done: impl Fn(&SubscriberStats) -> bool,
    ) -> SubscriberStats {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let stats = webhooks.stats().remove(0);
            if done(&stats) {
                return stats;
            }
            assert!(Instant::now() < deadline, "not settled: {stats:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn header<'a>(seen: &'a Seen, name: &str) -> &'a str {
        seen.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    // ------------------------------------------------------------ tests

    #[tokio::test]
    async fn delivers_with_every_header_and_a_signature_that_verifies() {
        let receiver = Receiver::start(ok).await;
        let webhooks =
            Webhooks::start_with(vec![spec(receiver.url("http"), Some("s3cret"))], quick());
        let payload = r#"{"component":{"id":"api","status":"major_outage"}}"#;
        webhooks.notify("component.update", payload.to_owned());

        let stats = settled(&webhooks, |s| s.delivered == 1).await;
        assert_eq!((stats.attempts, stats.failed, stats.dropped), (1, 0, 0));
        receiver.seen(|seen| {
            let [req] = seen else {
                panic!("{} requests", seen.len())
            };
            assert_eq!(req.body, payload.as_bytes());
            assert_eq!(header(req, "content-type"), "application/json");
            assert_eq!(
                header(req, "user-agent"),
                format!("levee/{}", env!("CARGO_PKG_VERSION"))
            );
            assert_eq!(header(req, "x-levee-event"), "component.update");
            assert!(header(req, "x-levee-delivery").parse::<Ulid>().is_ok());

            // Verify as a receiver would, without this module's code.
            let sig = header(req, "x-levee-signature");
            let (t, v1) = sig
                .strip_prefix("t=")
                .and_then(|rest| rest.split_once(",v1="))
                .unwrap_or_else(|| panic!("signature format: {sig}"));
            let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").expect("key");
            mac.update(format!("{t}.").as_bytes());
            mac.update(&req.body);
            let expected: String = mac
                .finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(v1, expected);
            let t: u64 = t.parse().expect("unix seconds");
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("clock")
                .as_secs();
            assert!(t.abs_diff(now) < 300, "t={t} now={now}");
        });
    }

    #[tokio::test]
    async fn no_secret_no_signature() {
        let receiver = Receiver::start(ok).await;
        let webhooks = Webhooks::start_with(vec![spec(receiver.url("http"), None)], quick());
        webhooks.notify("incident.update", "{}".to_owned());
        settled(&webhooks, |s| s.delivered == 1).await;
        receiver.seen(|seen| assert!(seen[0].headers.get("x-levee-signature").is_none()));
    }

    #[tokio::test]
    async fn a_503_is_retried_after_its_retry_after_with_the_same_delivery_id() {
        fn twice_busy(n: usize) -> Answer {
            match n {
                0 | 1 => Answer {
                    status: 503,
                    retry_after: Some("1"),
                    hold: false,
                },
                _ => ok(n),
            }
        }
        let receiver = Receiver::start(twice_busy).await;
        let webhooks = Webhooks::start_with(vec![spec(receiver.url("http"), Some("k"))], quick());
        let started = Instant::now();
        webhooks.notify("component.update", r#"{"n":1}"#.to_owned());

        let stats = settled(&webhooks, |s| s.delivered + s.failed > 0).await;
        assert_eq!((stats.delivered, stats.failed, stats.attempts), (1, 0, 3));
        // Backoff alone would have taken milliseconds: the two waits were the server's.
        assert!(started.elapsed() >= Duration::from_secs(2));
        receiver.seen(|seen| {
            assert_eq!(seen.len(), 3);
            let ids: Vec<&str> = seen.iter().map(|r| header(r, "x-levee-delivery")).collect();
            assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
        });
    }

    #[tokio::test]
    async fn a_400_is_not_retried() {
        let receiver = Receiver::start(|_| Answer {
            status: 400,
            retry_after: None,
            hold: false,
        })
        .await;
        let webhooks = Webhooks::start_with(vec![spec(receiver.url("http"), None)], quick());
        webhooks.notify("component.update", "{}".to_owned());
        let stats = settled(&webhooks, |s| s.failed == 1).await;
        assert_eq!((stats.attempts, stats.delivered), (1, 0));
        assert_eq!(receiver.bodies().len(), 1);
    }

    /// An address nothing listens on.
    fn dead_url() -> Uri {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        format!("http://{addr}/hook").parse().expect("url")
    }

    #[tokio::test]
    async fn a_dead_subscriber_is_retried_then_given_up() {
        let policy = DeliveryPolicy {
            max_attempts: 4,
            ..quick()
        };
        let webhooks = Webhooks::start_with(vec![spec(dead_url(), None)], policy);
        webhooks.notify("component.update", "{}".to_owned());
        let stats = settled(&webhooks, |s| s.failed == 1).await;
        assert_eq!((stats.attempts, stats.delivered), (4, 0));
    }

    #[tokio::test]
    async fn the_throttle_stops_retrying_a_subscriber_that_keeps_failing() {
        // 4 tokens: a retry needs more than 2 left, so the first payload gets
        // 2 attempts (4 → 3 → 2), and the next ones 1 each.
        let policy = DeliveryPolicy {
            throttle: RetryThrottleConfig {
                max_tokens: 4.0,
                token_ratio: 1.0,
            },
            ..quick()
        };
        let webhooks = Webhooks::start_with(vec![spec(dead_url(), None)], policy);
        webhooks.notify("component.update", "1".to_owned());
        webhooks.notify("component.update", "2".to_owned());
        let stats = settled(&webhooks, |s| s.failed == 2).await;
        assert_eq!(stats.attempts, 3);
    }

    #[tokio::test]
    async fn a_full_queue_drops_the_oldest_and_keeps_the_order() {
        let mut receiver = Receiver::start(|n| Answer {
            status: 204,
            retry_after: None,
            hold: n == 0,
        })
        .await;
        let policy = DeliveryPolicy {
            queue: 2,
            ..quick()
        };
        let webhooks = Webhooks::start_with(vec![spec(receiver.url("http"), None)], policy);
        webhooks.notify("component.update", "0".to_owned());
        receiver.arrived.recv().await.expect("the first request");
        for n in 1..=4 {
            webhooks.notify("component.update", n.to_string());
        }
        let stats = webhooks.stats().remove(0);
        assert_eq!((stats.queued, stats.dropped), (2, 2));

        receiver.release();
        settled(&webhooks, |s| s.delivered == 3).await;
        assert_eq!(receiver.bodies(), ["0", "3", "4"]);
    }

    #[tokio::test]
    async fn a_reload_keeps_unchanged_subscribers_and_starts_new_ones() {
        let receiver = Receiver::start(ok).await;
        let kept = spec(receiver.url("http"), Some("k"));
        let webhooks = Webhooks::start_with(vec![kept.clone()], quick());
        webhooks.notify("component.update", "a".to_owned());
        settled(&webhooks, |s| s.delivered == 1).await;

        webhooks.replace(vec![spec(dead_url(), None), kept]);
        let stats = webhooks.stats();
        assert_eq!(stats.len(), 2);
        assert_eq!(stats[0].attempts, 0);
        assert_eq!(stats[1].delivered, 1, "kept its counters");
        webhooks.replace(Vec::new());
        assert!(webhooks.stats().is_empty());
    }

    #[test]
    fn outside_a_runtime_payloads_wait_for_one() {
        let webhooks = Webhooks::start(vec![spec(dead_url(), None)]);
        webhooks.notify("component.update", "{}".to_owned());
        assert_eq!(webhooks.stats()[0].queued, 1);
    }

    #[tokio::test]
    async fn https_is_verified_against_the_configured_roots() {
        let certified =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("certificate");
        let cert = certified.cert.der().clone();
        let key =
            rustls::pki_types::PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key.into())
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let receiver = Receiver::start_with(ok, Some(acceptor)).await;
        let trusting = |cert| {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(cert).expect("root");
            DeliveryPolicy {
                tls: Some(crate::tls::client_config(roots, None).expect("client config")),
                max_attempts: 2,
                ..quick()
            }
        };

        let webhooks =
            Webhooks::start_with(vec![spec(receiver.url("https"), Some("k"))], trusting(cert));
        webhooks.notify("component.update", "{}".to_owned());
        let stats = settled(&webhooks, |s| s.delivered + s.failed > 0).await;
        assert_eq!((stats.delivered, stats.attempts), (1, 1));

        // A certificate the roots do not vouch for gets nothing.
        let stranger =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("certificate");
        let webhooks = Webhooks::start_with(
            vec![spec(receiver.url("https"), Some("k"))],
            trusting(stranger.cert.der().clone()),
        );
        webhooks.notify("component.update", "{}".to_owned());
        let stats = settled(&webhooks, |s| s.delivered + s.failed > 0).await;
        assert_eq!((stats.delivered, stats.failed), (0, 1));
        assert_eq!(
            receiver.bodies().len(),
            1,
            "only the trusted delivery arrived"
        );
    }

    #[test]
    fn webhooks_can_be_shared_between_tasks() {
        fn shared<T: Send + Sync>() {}
        shared::<Webhooks>();
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let sig =
            signature("Jefe", 0, b"what do ya want for nothing?").map(|s| s.replace("t=0,v1=", ""));
        // The signed text is "0." + body, so compare with the HMAC of that.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").expect("key");
        mac.update(b"0.what do ya want for nothing?");
        let expected: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(sig.as_deref(), Some(expected.as_str()));
        assert_eq!(
            hex(&Hmac::<Sha256>::new_from_slice(b"Jefe")
                .expect("key")
                .chain_update(b"what do ya want for nothing?")
                .finalize()
                .into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn logged_urls_lose_userinfo_and_query() {
        let url: Uri = "https://user:pw@hooks.example.com:8443/levee/in?token=secret"
            .parse()
            .expect("url");
        assert_eq!(redacted(&url), "https://hooks.example.com:8443/levee/…");
        let url: Uri = "http://example.com".parse().expect("url");
        assert_eq!(redacted(&url), "http://example.com/");
        let url: Uri = "https://hooks.slack.com/services/T0/B0/XXXX"
            .parse()
            .expect("url");
        assert_eq!(redacted(&url), "https://hooks.slack.com/services/…");
        let url: Uri = "http://example.com/hook".parse().expect("url");
        assert_eq!(redacted(&url), "http://example.com/hook");
    }

    #[test]
    fn retry_after_reads_both_grammars() {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            http::header::RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        headers.insert(
            http::header::DATE,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:07 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(30)));
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }
}
