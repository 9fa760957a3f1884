//! Issue 12 item 5: load balancing over real sockets — least request by
//! the power of two choices (the default) keeps requests off a slow
//! endpoint, round robin honours weights, and hashing keeps a key on one
//! endpoint, moving only the keys of an endpoint that leaves.

use std::time::Duration;

use tokio::task::JoinSet;

use crate::support::*;

/// An upstream answering `name` after `delay`.
async fn named(name: &'static str, delay: Duration) -> Upstream {
    Upstream::start(move |_s: Seen| async move {
        tokio::time::sleep(delay).await;
        http::Response::new(full(name))
    })
    .await
}

/// By default a pool sends most requests to the endpoint that answers
/// quickly: one that takes 200 ms piles up requests in flight, and the two
/// random choices prefer the other. (Round robin gave each half.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_request_keeps_requests_off_a_slow_endpoint() {
    let slow = named("slow", Duration::from_millis(200)).await;
    let fast = named("fast", Duration::ZERO).await;
    let gw = Gw::start(&format!(
        "[[pools]]\nname = \"app\"\nendpoints = [\"{}\", \"{}\"]\n[[routes]]\npool = \"app\"\n",
        slow.addr, fast.addr
    ))
    .await;
    let mut clients = JoinSet::new();
    for c in 0..16 {
        let url = gw.url(&format!("/c{c}"));
        clients.spawn(async move {
            let mut got = Vec::new();
            for _ in 0..10 {
                got.push(get(&url, &[]).await.text());
            }
            got
        });
    }
    let mut answers = Vec::new();
    while let Some(got) = clients.join_next().await {
        answers.extend(got.expect("client"));
    }
    assert_eq!(answers.len(), 160);
    let to_slow = answers.iter().filter(|a| *a == "slow").count();
    let to_fast = answers.iter().filter(|a| *a == "fast").count();
    assert_eq!(to_slow + to_fast, 160, "every request served");
    assert!(
        to_slow * 4 < 160,
        "the slow endpoint got {to_slow} of 160 requests (round robin would give it 80)"
    );
}

/// `balance = "round_robin"` with weights: 3 to 1, exactly, in turns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_honours_weights() {
    let big = named("big", Duration::ZERO).await;
    let small = named("small", Duration::ZERO).await;
    let gw = Gw::start(&format!(
        "[[pools]]\nname = \"app\"\nbalance = \"round_robin\"\n\
         endpoints = [{{ address = \"{}\", weight = 3 }}, \"{}\"]\n\
         [[routes]]\npool = \"app\"\n",
        big.addr, small.addr
    ))
    .await;
    let mut big_count = 0;
    for i in 0..40 {
        if get(&gw.url(&format!("/{i}")), &[]).await.text() == "big" {
            big_count += 1;
        }
    }
    assert_eq!(big_count, 30);
}

/// `balance = { hash = "header", name = "x-user" }`: each user stays on one
/// endpoint; when that endpoint is drained only its users move, and they
/// come back when it returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashing_keeps_each_user_on_one_endpoint() {
    use crate::maintenance::{api, overrides};
    let ups = [
        named("a", Duration::ZERO).await,
        named("b", Duration::ZERO).await,
        named("c", Duration::ZERO).await,
    ];
    let gw = Gw::start_with(
        &format!(
            "[[pools]]\nname = \"app\"\nbalance = {{ hash = \"header\", name = \"x-user\" }}\n\
             endpoints = [\"{}\", \"{}\", \"{}\"]\n[[routes]]\npool = \"app\"\n",
            ups[0].addr, ups[1].addr, ups[2].addr
        ),
        overrides(),
    )
    .await;
    let users: Vec<String> = (0..24).map(|u| format!("user-{u}")).collect();
    let mut home = Vec::new();
    for user in &users {
        let first = get(&gw.url("/"), &[("x-user", user)]).await.text();
        for _ in 0..4 {
            assert_eq!(
                get(&gw.url("/"), &[("x-user", user)]).await.text(),
                first,
                "{user}"
            );
        }
        home.push(first);
    }
    let used: std::collections::BTreeSet<&String> = home.iter().collect();
    assert!(used.len() >= 2, "24 users all on {used:?}");

    // Drain the first user's endpoint: its users move, the others stay.
    let gone = home[0].clone();
    let gone_addr = ups[["a", "b", "c"].iter().position(|n| *n == gone).unwrap_or(0)].addr;
    let drained = api(gw.admin, "PUT", &format!("/v1/drains/{gone_addr}"), None).await;
    assert_eq!(drained.status, 201, "{}", drained.text());
    for (user, was) in users.iter().zip(&home) {
        let now = get(&gw.url("/"), &[("x-user", user)]).await.text();
        if *was == gone {
            assert_ne!(now, gone, "{user} left the drained endpoint");
        } else {
            assert_eq!(&now, was, "{user} stayed");
        }
    }
    api(gw.admin, "DELETE", &format!("/v1/drains/{gone_addr}"), None).await;
    for (user, was) in users.iter().zip(&home) {
        assert_eq!(
            &get(&gw.url("/"), &[("x-user", user)]).await.text(),
            was,
            "{user} is back"
        );
    }
}
