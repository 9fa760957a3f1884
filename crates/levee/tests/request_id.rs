//! Request ids: kept when well-formed, generated otherwise, sent upstream,
//! echoed on every response and in every problem.

use http::Response;

use crate::support::*;

#[tokio::test]
async fn a_well_formed_id_is_kept_sent_upstream_and_echoed() {
    let up = Upstream::echo().await;
    let gw = Gw::to(up.addr, "").await;
    let id = "3f2a1c9e-7b1d-4c55-9a0e-1f2e3d4c5b6a";
    let got = get(&gw.url("/x"), &[("x-request-id", id)]).await;
    assert_eq!(got.header("x-request-id"), Some(id));
    assert_eq!(up.seen().pop().expect("seen").headers["x-request-id"], id);
}

#[tokio::test]
async fn a_bad_or_missing_id_is_replaced_by_a_generated_one() {
    let up = Upstream::echo().await;
    let gw = Gw::to(up.addr, "").await;
    let long = "a".repeat(500);
    let mut ids = Vec::new();
    for bad in [
        None,
        Some("<script>"),
        Some("has space"),
        Some(long.as_str()),
    ] {
        let headers: Vec<(&str, &str)> = bad.map(|b| ("x-request-id", b)).into_iter().collect();
        let got = get(&gw.url("/x"), &headers).await;
        let id = got.header("x-request-id").expect("id").to_owned();
        assert!(id.starts_with("req_") && id.len() == 30, "{id}");
        assert_eq!(
            up.seen().pop().expect("seen").headers["x-request-id"],
            id.as_str()
        );
        ids.push(id);
    }
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "ids are unique");
}

#[tokio::test]
async fn the_header_name_is_configurable_and_problems_carry_the_id() {
    let up = Upstream::start(|_s: Seen| async move { Response::new(full("ok")) }).await;
    let gw = Gw::start(&format!(
        "[server]\nrequest_id_header = \"x-correlation-id\"\n[[pools]]\nname = \"a\"\nendpoints = [\"{}\"]\n[[routes]]\npath_prefix = \"/ok\"\npool = \"a\"\n",
        up.addr
    ))
    .await;
    let got = get(&gw.url("/ok"), &[("x-correlation-id", "corr-1")]).await;
    assert_eq!(got.header("x-correlation-id"), Some("corr-1"));
    assert_eq!(
        up.seen().pop().expect("seen").headers["x-correlation-id"],
        "corr-1"
    );
    let got = get(&gw.url("/nope"), &[("x-correlation-id", "corr-2")]).await;
    assert_eq!(got.status, 404);
    assert_eq!(got.header("x-correlation-id"), Some("corr-2"));
    assert_eq!(got.json()["request_id"], "corr-2");
}
