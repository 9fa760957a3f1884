//! One request's way through retries, as a state machine without I/O.
//!
//! A [`Run`] is created per request. The driver asks it where to send the
//! next attempt ([`Run::begin`]), tells it what came back
//! ([`Run::on_response`], [`Run::on_transport_error`]) and gets a
//! [`Verdict`]: done, retry after a wait (and where), or give up and why.
//! The order of the checks is the client's contract:
//!
//! 1. **classify** — success and non-retryable statuses end the run;
//! 2. **idempotency** — a request the server may have seen is repeated only
//!    if its method is idempotent or it has an `Idempotency-Key`;
//! 3. **attempts** — at most `max_attempts`;
//! 4. **Retry-After** — the server's wait is a floor, never shortened; one
//!    longer than `max_wait` ends the run at once;
//! 5. **failover** — the next attempt goes to the endpoint free soonest
//!    (another region at once, or the same one after its wait);
//! 6. **time** — the wait must end before `max_time`;
//! 7. **budget** — last, so a retry we would not make costs no token.
//!
//! This module must not sleep, read the clock or touch sockets: `now` (and
//! the wall clock for HTTP-dates) are arguments, so every rule is testable
//! with exact times.

use std::time::{Duration, Instant, SystemTime};

use http::{HeaderMap, Method, StatusCode, Uri};
use levee_http::retry_after::{RetryAfter, RetryAfterError};
use rand::Rng;

use crate::endpoints::{self, Endpoint};
use crate::error::{
    AttemptOutcome, AttemptRecord, GiveUp, RetrySummary, TransportError, TransportErrorKind,
};
use crate::event::{Event, WaitReason};
use crate::idempotency;
use crate::problem::{ProblemInfo, request_id_from_headers};
use crate::retrier::Shared;

/// What to do after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The response is final: a success, or an error retrying cannot fix.
    Done,
    /// Sleep `wait`, then call [`Run::begin`] again.
    Retry {
        /// How long to sleep.
        wait: Duration,
    },
    /// Stop; the last outcome is the answer.
    GiveUp(GiveUp),
}

/// One request's retry state.
pub(crate) struct Run<'a> {
    shared: &'a Shared,
    method: Method,
    may_resend: bool,
    original: Uri,
    /// Where attempts may go, in failover order; `None`: the URL as given.
    targets: Vec<Option<Endpoint>>,
    /// Per target: not before this instant (its last `Retry-After` or backoff).
    not_before: Vec<Option<Instant>>,
    /// Index into `targets` of the current attempt.
    current: usize,
    started: Instant,
    /// Backoff retries so far (the exponent of the next backoff).
    backoffs: u32,
    prev_backoff: Option<Duration>,
    /// The announcement for the pending retry, sent once the body is read.
    pending: Option<(WaitReason, Duration)>,
    pub(crate) summary: RetrySummary,
}

impl<'a> Run<'a> {
    /// Starts a run for one request; counts it as an original request in the
    /// budget.
    pub(crate) fn start(
        shared: &'a Shared,
        method: Method,
        headers: &HeaderMap,
        original: Uri,
        now: Instant,
    ) -> Run<'a> {
        shared.budget.deposit(now);
        let targets: Vec<Option<Endpoint>> = if shared.endpoints.is_empty() {
            vec![Endpoint::of_uri(&original)]
        } else {
            let health = shared.health_of(&shared.endpoints);
            endpoints::order(shared.policy.failover, &health)
                .into_iter()
                .map(|i| Some(shared.endpoints[i].clone()))
                .collect()
        };
        let mut run = Run {
            shared,
            may_resend: idempotency::may_resend(&method, headers),
            method,
            original,
            not_before: vec![None; targets.len()],
            targets,
            current: 0,
            started: now,
            backoffs: 0,
            prev_backoff: None,
            pending: None,
            summary: RetrySummary::default(),
        };
        run.summary.method = run.method.clone();
        run.summary.url = run.first_url();
        run
    }

    fn attempts(&self) -> u32 {
        self.summary.attempt_count()
    }

    fn label(&self, i: usize) -> String {
        match &self.targets[i] {
            Some(e) => e.to_string(),
            None => self.original.to_string(),
        }
    }

    /// The URL of the first attempt, for error messages.
    pub(crate) fn first_url(&self) -> String {
        match &self.targets[0] {
            Some(e) => e.url_for(&self.original).to_string(),
            None => self.original.to_string(),
        }
    }

    /// Claims the next attempt: returns its URL, or gives up if every
    /// endpoint's breaker is open. The chosen endpoint's breaker admits it.
    pub(crate) fn begin(&mut self, now: Instant) -> Result<Uri, GiveUp> {
        let mut soonest: Option<(usize, Duration)> = None;
        let n = self.targets.len();
        for step in 0..n {
            let i = (self.current + step) % n;
            if step > 0 && self.not_before[i].is_some_and(|t| t > now) {
                continue;
            }
            let Some(endpoint) = &self.targets[i] else {
                self.current = i;
                return Ok(self.url(now));
            };
            match self.shared.acquire(endpoint, now) {
                Ok(()) => {
                    self.current = i;
                    return Ok(self.url(now));
                }
                Err(retry_in) => {
                    if soonest.is_none_or(|(_, d)| retry_in < d) {
                        soonest = Some((i, retry_in));
                    }
                }
            }
        }
        let (i, retry_in) = soonest.expect("n > 0 and every target was refused");
        Err(GiveUp::BreakerOpen {
            endpoint: self.label(i),
            retry_in,
        })
    }

    fn url(&self, _now: Instant) -> Uri {
        let url = match &self.targets[self.current] {
            Some(e) => e.url_for(&self.original),
            None => self.original.clone(),
        };
        self.shared.emit(&Event::Sending {
            attempt: self.attempts() + 1,
            max_attempts: self.shared.policy.max_attempts,
            method: self.method.clone(),
            url: url.to_string(),
        });
        url
    }

    fn record(&mut self, outcome: AttemptOutcome, request_id: Option<String>) {
        let number = self.attempts() + 1;
        self.summary.attempts.push(AttemptRecord {
            number,
            endpoint: self.label(self.current),
            outcome,
            request_id,
            retry_after: None,
        });
    }

    fn report(&self, ok: bool, now: Instant) {
        if let Some(e) = &self.targets[self.current] {
            self.shared.report(e, ok, now);
        }
    }

    /// Judges a response. `wall_now` is our wall clock, for HTTP-dates when
    /// the response has no `Date` header.
    pub(crate) fn on_response(
        &mut self,
        status: StatusCode,
        headers: &HeaderMap,
        now: Instant,
        wall_now: SystemTime,
    ) -> Verdict {
        if status == StatusCode::OK
            && let Some(grpc) = crate::grpc::answer(headers)
            && grpc.code != 0
        {
            return self.on_grpc(grpc, headers, now);
        }
        self.record(
            AttemptOutcome::Status(status),
            request_id_from_headers(headers),
        );
        // The breaker counts what says "this endpoint is unwell"; a 404 or a
        // 429 is a healthy server answering.
        let unwell = matches!(status.as_u16(), 500 | 502 | 503 | 504);
        self.report(!unwell, now);
        if !self.shared.policy.retries_status(status) {
            return self.finish(status);
        }
        let asked = match headers
            .get(http::header::RETRY_AFTER)
            .map(RetryAfter::try_from)
        {
            None => None,
            Some(Ok(ra)) => {
                let server_date = headers
                    .get(http::header::DATE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| httpdate::parse_http_date(v).ok());
                Some(ra.delay_from(wall_now, server_date))
            }
            Some(Err(RetryAfterError::TooLarge { .. })) => {
                return self.give_up(GiveUp::RetryAfterTooLong {
                    asked: None,
                    max_wait: self.shared.policy.max_wait,
                });
            }
            // A malformed value is no instruction; fall back to backoff.
            Some(Err(_)) => None,
        };
        if let Some(last) = self.summary.attempts.last_mut() {
            last.retry_after = asked;
        }
        self.retry(true, asked, now)
    }

    /// Judges a gRPC trailers-only refusal. `UNAVAILABLE` and
    /// `RESOURCE_EXHAUSTED` are retried (as 503 and 429 are); other codes
    /// are the application's answer. A refusal that asks for a wait
    /// (`grpc-retry-pushback-ms` or `RetryInfo`) says the call was not
    /// processed, so it is retried whatever the method; without one, the
    /// call may have been seen and the idempotency rule applies. A negative
    /// pushback means the server says a retry cannot help.
    fn on_grpc(
        &mut self,
        grpc: crate::grpc::GrpcAnswer,
        headers: &HeaderMap,
        now: Instant,
    ) -> Verdict {
        use crate::grpc::{RESOURCE_EXHAUSTED, UNAVAILABLE};
        self.record(
            AttemptOutcome::Grpc(grpc.code),
            request_id_from_headers(headers),
        );
        self.report(grpc.code != UNAVAILABLE, now);
        if grpc.code != UNAVAILABLE && grpc.code != RESOURCE_EXHAUSTED {
            return self.give_up(GiveUp::NotRetryable);
        }
        let asked = match grpc.wait {
            Some(Err(())) => return self.give_up(GiveUp::NotRetryable),
            Some(Ok(wait)) => Some(wait),
            None => None,
        };
        if let Some(last) = self.summary.attempts.last_mut() {
            last.retry_after = asked;
        }
        self.retry(asked.is_none(), asked, now)
    }

    fn finish(&mut self, status: StatusCode) -> Verdict {
        if status.is_client_error() || status.is_server_error() {
            self.give_up(GiveUp::NotRetryable)
        } else {
            Verdict::Done
        }
    }

    /// Judges a transport error.
    pub(crate) fn on_transport_error(&mut self, error: &TransportError, now: Instant) -> Verdict {
        self.record(AttemptOutcome::Transport(error.kind), None);
        self.report(false, now);
        match error.kind {
            // The request never left: safe to send again, whatever the method.
            TransportErrorKind::Connect => self.retry(false, None, now),
            TransportErrorKind::Timeout | TransportErrorKind::Reset => self.retry(true, None, now),
            TransportErrorKind::Other => self.give_up(GiveUp::NotRetryable),
        }
    }

    fn retry(&mut self, maybe_seen: bool, asked: Option<Duration>, now: Instant) -> Verdict {
        let policy = &self.shared.policy;
        if maybe_seen && !self.may_resend {
            return self.give_up(GiveUp::NotIdempotent {
                method: self.method.clone(),
            });
        }
        if self.attempts() >= policy.max_attempts {
            return self.give_up(GiveUp::AttemptsExhausted {
                max_attempts: policy.max_attempts,
            });
        }
        if let Some(asked) = asked
            && asked > policy.max_wait
        {
            return self.give_up(GiveUp::RetryAfterTooLong {
                asked: Some(asked),
                max_wait: policy.max_wait,
            });
        }

        // This endpoint's own wait: the server's (never shortened, plus a
        // little spread so clients told the same instant do not return in
        // lockstep) or else exponential backoff with jitter.
        let mut rng = rand::rng();
        let own_wait = match asked {
            Some(asked) => asked + spread(asked, &mut rng),
            None => policy
                .backoff
                .delay(self.backoffs, self.prev_backoff, &mut rng),
        };
        let failed = self.current;
        self.not_before[failed] = Some(now + own_wait);

        // Failover: the target free soonest, ties going to the listed order
        // starting after the one that failed.
        let n = self.targets.len();
        let (next, free_at) = (1..=n)
            .map(|step| (failed + step) % n)
            .filter(|&i| {
                self.targets[i]
                    .as_ref()
                    .is_none_or(|e| self.shared.open_until(e, now).is_none())
            })
            .map(|i| (i, self.not_before[i].map_or(now, |t| t.max(now))))
            .min_by_key(|&(i, t)| (t, (i + n - failed - 1) % n))
            .unwrap_or((failed, now + own_wait));
        let wait = free_at - now;

        let elapsed = now.saturating_duration_since(self.started);
        if elapsed + wait > policy.max_time {
            return self.give_up(GiveUp::OutOfTime {
                max_time: policy.max_time,
                next_wait: wait,
            });
        }
        if !self.shared.budget.try_withdraw(now) {
            return self.give_up(GiveUp::BudgetExhausted);
        }

        let why = if next != failed {
            WaitReason::Failover
        } else if let Some(asked) = asked {
            WaitReason::ServerAsked(asked)
        } else {
            self.backoffs += 1;
            self.prev_backoff = Some(wait);
            WaitReason::Backoff
        };
        self.current = next;
        self.summary.waited += wait;
        self.pending = Some((why, wait));
        Verdict::Retry { wait }
    }

    fn give_up(&mut self, why: GiveUp) -> Verdict {
        self.summary.gave_up = Some(why.clone());
        Verdict::GiveUp(why)
    }

    /// Adds what the failed response's body said (its request id) to the
    /// record, then announces the pending retry.
    pub(crate) fn announce(&mut self, body: Option<&[u8]>) {
        if let (Some(body), Some(last)) = (body, self.summary.attempts.last_mut())
            && last.request_id.is_none()
        {
            last.request_id = ProblemInfo::parse(body).and_then(|p| p.request_id);
        }
        let Some((why, wait)) = self.pending.take() else {
            return;
        };
        let failed = self
            .summary
            .attempts
            .last()
            .cloned()
            .expect("a retry follows a recorded attempt");
        self.shared.emit(&Event::Retrying {
            failed,
            max_attempts: self.shared.policy.max_attempts,
            wait,
            why,
            next_endpoint: self.label(self.current),
        });
    }

    /// Closes the summary at `now`.
    pub(crate) fn finish_summary(&mut self, now: Instant) -> RetrySummary {
        self.summary.elapsed = now.saturating_duration_since(self.started);
        std::mem::take(&mut self.summary)
    }
}

/// Extra wait on top of a server's `Retry-After`: up to 10% of it, at most
/// 1 s. Many clients told "retry at 10:00:00" would otherwise all return in
/// the same millisecond and knock the service over again.
fn spread(asked: Duration, rng: &mut impl Rng) -> Duration {
    let max = (asked / 10).min(Duration::from_secs(1));
    if max.is_zero() {
        return Duration::ZERO;
    }
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.random_range(0..=nanos))
}
