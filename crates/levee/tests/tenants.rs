//! Tenants over real sockets: one noisy tenant cannot starve the quiet ones
//! under congestion, and a tenant over its own rate gets `429 rate-limited`
//! with the draft RateLimit fields while others are unaffected.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::Response;
use levee_control::config::{self, Overrides};

use crate::support::*;

/// An upstream that holds each request for `hold`.
async fn holding(hold: Duration) -> Upstream {
    Upstream::start(move |_s: Seen| async move {
        tokio::time::sleep(hold).await;
        Response::new(full("ok"))
    })
    .await
}

fn route(up: &Upstream, options: &str) -> String {
    format!(
        "[[pools]]\nname = \"a\"\nendpoints = [\"{}\"]\n[[routes]]\nname = \"r\"\npool = \"a\"\n{options}\n",
        up.addr
    )
}

/// Sends `n` requests as `key`, one every `every` (open loop: arrivals do
/// not wait for answers); counts the 200s and the 503s.
fn traffic(
    gw: &Gw,
    key: &'static str,
    every: Duration,
    n: usize,
) -> tokio::task::JoinHandle<(usize, usize)> {
    let url = gw.url("/work");
    tokio::spawn(async move {
        let ok = Arc::new(AtomicUsize::new(0));
        let shed = Arc::new(AtomicUsize::new(0));
        let mut tick = tokio::time::interval(every);
        let mut tasks = Vec::with_capacity(n);
        for _ in 0..n {
            tick.tick().await;
            let (url, ok, shed) = (url.clone(), ok.clone(), shed.clone());
            tasks.push(tokio::spawn(async move {
                let got = get(&url, &[("x-api-key", key)]).await;
                match got.status.as_u16() {
                    200 => ok.fetch_add(1, Ordering::SeqCst),
                    503 => {
                        assert_problem(&got, 503, "overloaded");
                        shed.fetch_add(1, Ordering::SeqCst)
                    }
                    s => panic!("unexpected status {s}: {}", got.text()),
                };
            }));
        }
        for t in tasks {
            t.await.expect("request task");
        }
        (ok.load(Ordering::SeqCst), shed.load(Ordering::SeqCst))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_noisy_tenant_cannot_starve_the_quiet_ones() {
    // Capacity: 4 slots × 20 ms = 200 req/s. Offered: the noisy tenant alone
    // 250 req/s (more than the upstream can do), each quiet one 25 req/s.
    let up = holding(Duration::from_millis(20)).await;
    let gw = Gw::start(&route(
        &up,
        "admission = { limiter = \"fixed\", limit = 4, max_queue = 32, max_queue_time = \"1s\" }\ntenant = { from = \"header\", header = \"x-api-key\" }",
    ))
    .await;
    let noisy = traffic(&gw, "noisy", Duration::from_millis(4), 250);
    let quiet_a = traffic(&gw, "quiet-a", Duration::from_millis(40), 25);
    let quiet_b = traffic(&gw, "quiet-b", Duration::from_millis(40), 25);
    let (noisy_ok, noisy_shed) = noisy.await.expect("noisy");
    let (a_ok, a_shed) = quiet_a.await.expect("quiet a");
    let (b_ok, b_shed) = quiet_b.await.expect("quiet b");
    let quiet_ratio = (a_ok + b_ok) as f64 / 50.0;
    assert!(
        quiet_ratio >= 0.8,
        "quiet tenants served {a_ok}+{b_ok} of 50 (shed {a_shed}+{b_shed}); noisy {noisy_ok} ok, {noisy_shed} shed"
    );
    assert!(
        noisy_shed > 0 && (noisy_ok as f64 / 250.0) < quiet_ratio,
        "the noisy tenant absorbs the shedding: {noisy_ok} ok, {noisy_shed} shed"
    );
    let metrics = get(&gw.admin_url("/metrics"), &[]).await.text();
    assert!(
        metrics.contains("cause=\"fair_share\",priority=\"default\""),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_over_its_rate_gets_429_with_ratelimit_fields_and_others_do_not() {
    let up = Upstream::echo().await;
    let gw = Gw::start(&route(
        &up,
        "tenant = { from = \"header\", header = \"x-api-key\" }\nrate_limit = { quota = 5, period = \"60s\", burst = 0 }",
    ))
    .await;
    let url = gw.url("/work");
    // Five within the allowance, each told what is left.
    for left in (0..5).rev() {
        let got = get(&url, &[("x-api-key", "tenant-a")]).await;
        assert_eq!(got.status, 200, "{}", got.text());
        assert_eq!(got.header("ratelimit-policy"), Some("\"default\";q=5;w=60"));
        let limit = got
            .header("ratelimit")
            .expect("RateLimit on allowed answers");
        assert!(
            limit.starts_with(&format!("\"default\";r={left};t=")),
            "{limit}"
        );
    }
    // The sixth within the minute is over the rate (a minute-long window
    // keeps this independent of how fast the machine sends the six).
    let got = get(&url, &[("x-api-key", "tenant-a")]).await;
    let v = assert_problem(&got, 429, "rate-limited");
    let ra: u64 = got
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!(
        (1..=12).contains(&ra),
        "the next slot opens within 60 s / 5 = 12 s: {ra}"
    );
    assert_eq!(v["retry_after"], ra);
    assert_eq!(got.header("ratelimit-policy"), Some("\"default\";q=5;w=60"));
    assert!(
        got.header("ratelimit")
            .expect("RateLimit")
            .starts_with("\"default\";r=0;t=")
    );
    // Another tenant, and a request without a key (the anonymous tenant), are unaffected.
    let other = get(&url, &[("x-api-key", "tenant-b")]).await;
    assert_eq!(other.status, 200);
    assert!(
        other
            .header("ratelimit")
            .expect("RateLimit")
            .starts_with("\"default\";r=4;t="),
        "a fresh allowance"
    );
    assert_eq!(get(&url, &[]).await.status, 200);
    assert_eq!(up.seen().len(), 7, "the 429 never reached the upstream");
    let metrics = get(&gw.admin_url("/metrics"), &[]).await.text();
    assert!(
        metrics.contains("levee_rate_limited_total{route=\"r\"} 1"),
        "{metrics}"
    );
    assert!(!metrics.contains("tenant-a"), "keys are never exposed");
}

#[tokio::test]
async fn the_client_address_can_be_the_tenant() {
    let up = Upstream::echo().await;
    let gw = Gw::start(&route(
        &up,
        "tenant = { from = \"client_ip\" }\nrate_limit = { quota = 1, period = \"60s\" }",
    ))
    .await;
    assert_eq!(get(&gw.url("/"), &[("x-api-key", "a")]).await.status, 200);
    let got = get(&gw.url("/"), &[("x-api-key", "b")]).await;
    assert_problem(&got, 429, "rate-limited");
    let ra: u64 = got
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("delay-seconds");
    assert!((59..=60).contains(&ra), "{ra}");
    assert_eq!(got.header("ratelimit-policy"), Some("\"default\";q=1;w=60"));
}

fn load_err(toml: &str) -> String {
    match config::load(
        toml,
        std::path::Path::new("levee.toml"),
        &Overrides::default(),
    ) {
        Ok(_) => panic!("accepted:\n{toml}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn tenant_and_rate_limit_settings_are_validated_with_locations() {
    let base = "[[listeners]]\nlisten = \"127.0.0.1:0\"\n[[pools]]\nname = \"a\"\nendpoints = [\"127.0.0.1:1\"]\n[[routes]]\npool = \"a\"\n";
    let e = load_err(&format!("{base}rate_limit = {{ quota = 5 }}\n"));
    assert!(
        e.contains("rate_limit needs a tenant key") && e.contains("levee.toml:8:"),
        "{e}"
    );
    let e = load_err(&format!("{base}tenant = {{ from = \"cookie\" }}\n"));
    assert!(e.contains("invalid tenant source `cookie`"), "{e}");
    let e = load_err(&format!("{base}tenant = {{ from = \"header\" }}\n"));
    assert!(e.contains("needs header = "), "{e}");
    let e = load_err(&format!(
        "{base}tenant = {{ from = \"client_ip\" }}\nrate_limit = {{ quota = 5, period = \"1500ms\" }}\n"
    ));
    assert!(e.contains("whole number of seconds"), "{e}");
    let e = load_err(&format!(
        "{base}tenant = {{ from = \"client_ip\" }}\nrate_limit = {{ quota = 0 }}\n"
    ));
    assert!(e.contains("rate_limit: "), "{e}");
    let e = load_err(&format!(
        "{base}tenant = {{ from = \"client_ip\", weight = 2 }}\n"
    ));
    assert!(e.contains("weight"), "{e}");
}
