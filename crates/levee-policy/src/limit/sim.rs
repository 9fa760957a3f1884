//! A closed-loop simulation for the limiter tests: an upstream with `workers`
//! servers and a FIFO queue, fed by a gateway with unlimited demand that keeps
//! exactly `limiter.limit()` requests in flight. Time is simulated; the service
//! times come from a seeded RNG; a run is a pure function of its inputs.
//!
//! With `limit ≤ workers` a request's RTT is its service time; above, it also
//! waits in the upstream's queue, RTT ≈ `service × limit / workers`, and goodput
//! stays at `workers / service`. A good limiter keeps goodput at capacity and
//! RTT near the service time.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::StdRng};

use super::{Limiter, Sample};
use crate::testing::t0;

/// The simulated upstream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Upstream {
    pub(crate) workers: usize,
    /// Mean service time.
    pub(crate) service: Duration,
    /// Coefficient of variation of the (log-normal) service time; 0 for constant.
    pub(crate) cv: f64,
    /// Beyond this many queued, the upstream answers 503 at once; `None`: unbounded.
    pub(crate) queue_cap: Option<usize>,
}

/// A change of the upstream's capacity `at` into the run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Change {
    pub(crate) at: Duration,
    pub(crate) workers: usize,
    pub(crate) service: Duration,
}

/// One simulated second, normalised to that second's upstream.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Second {
    /// Successful completions ÷ capacity (`workers / service`).
    pub(crate) goodput: f64,
    /// Mean RTT of successes ÷ mean service time.
    pub(crate) latency: f64,
    /// Mean limit ÷ workers.
    pub(crate) limit: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Done {
    at: u64,
    seq: u64,
    sent: u64,
    inflight: usize,
    /// The limit when it was sent.
    limit: usize,
    dropped: bool,
}

/// Runs `seconds` of simulated time and returns per-second figures.
pub(crate) fn run(
    limiter: &mut dyn Limiter,
    mut up: Upstream,
    changes: &[Change],
    seconds: u64,
    seed: u64,
) -> Vec<Second> {
    let start = t0();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut events: BinaryHeap<Reverse<Done>> = BinaryHeap::new();
    let mut queue: VecDeque<(u64, usize, usize)> = VecDeque::new();
    let (mut now, mut seq, mut busy, mut inflight) = (0u64, 0u64, 0usize, 0usize);
    let mut changes = changes.iter().peekable();
    let mut out = Vec::new();
    let (mut ok, mut rtt_sum, mut limit_sum, mut limit_n) = (0u64, 0f64, 0f64, 0u64);

    let end = seconds * 1_000_000_000;
    loop {
        // Admit up to the limit; each admission goes to a worker, the queue, or a 503.
        while inflight < limiter.limit() {
            let limit = limiter.limit();
            inflight += 1;
            seq += 1;
            if busy < up.workers {
                busy += 1;
                let at = now + service_ns(&up, &mut rng);
                events.push(Reverse(Done {
                    at,
                    seq,
                    sent: now,
                    inflight,
                    limit,
                    dropped: false,
                }));
            } else if up.queue_cap.is_none_or(|cap| queue.len() < cap) {
                queue.push_back((now, inflight, limit));
            } else {
                let at = now + 100_000;
                events.push(Reverse(Done {
                    at,
                    seq,
                    sent: now,
                    inflight,
                    limit,
                    dropped: true,
                }));
            }
        }
        let Some(Reverse(done)) = events.pop() else {
            break;
        };
        // Close the seconds that ended before this event.
        while now / 1_000_000_000 < done.at / 1_000_000_000 && now < end {
            let capacity = up.workers as f64 / up.service.as_secs_f64();
            out.push(Second {
                goodput: ok as f64 / capacity,
                latency: rtt_sum / ok.max(1) as f64 / up.service.as_secs_f64(),
                limit: limit_sum / limit_n.max(1) as f64 / up.workers as f64,
            });
            (ok, rtt_sum, limit_sum, limit_n) = (0, 0.0, 0.0, 0);
            now = (now / 1_000_000_000 + 1) * 1_000_000_000;
        }
        if done.at >= end {
            break;
        }
        now = done.at;
        while let Some(c) = changes.next_if(|c| c.at.as_nanos() <= u128::from(now)) {
            up.workers = c.workers;
            up.service = c.service;
        }
        inflight -= 1;
        if !done.dropped {
            busy -= 1;
            ok += 1;
            rtt_sum += (now - done.sent) as f64 / 1e9;
        }
        let rtt = Duration::from_nanos(now - done.sent);
        limiter.on_sample(
            start + Duration::from_nanos(now),
            Sample {
                rtt,
                inflight: done.inflight,
                limit: done.limit,
                dropped: done.dropped,
            },
        );
        limit_sum += limiter.limit() as f64;
        limit_n += 1;
        while busy < up.workers {
            let Some((sent, at_send, limit)) = queue.pop_front() else {
                break;
            };
            busy += 1;
            seq += 1;
            let at = now + service_ns(&up, &mut rng);
            events.push(Reverse(Done {
                at,
                seq,
                sent,
                inflight: at_send,
                limit,
                dropped: false,
            }));
        }
    }
    out
}

/// A log-normal service time with the upstream's mean and coefficient of variation.
fn service_ns(up: &Upstream, rng: &mut StdRng) -> u64 {
    let mean = up.service.as_nanos() as f64;
    if up.cv == 0.0 {
        return mean as u64;
    }
    let sigma2 = (1.0 + up.cv * up.cv).ln();
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    (mean * (-sigma2 / 2.0 + sigma2.sqrt() * z).exp()) as u64
}

/// Averages of the seconds in `from..to`.
pub(crate) fn mean(seconds: &[Second], from: usize, to: usize) -> Second {
    let window = &seconds[from..to];
    let n = window.len() as f64;
    let sum = window.iter().fold(Second::default(), |a, s| Second {
        goodput: a.goodput + s.goodput,
        latency: a.latency + s.latency,
        limit: a.limit + s.limit,
    });
    Second {
        goodput: sum.goodput / n,
        latency: sum.latency / n,
        limit: sum.limit / n,
    }
}
