//! `levee pools`: every pool and endpoint of the gateway, its state, why,
//! and since when (`GET /v1/pools`).
//!
//! One row per endpoint; a panicking pool says so in its rows. This module
//! must not judge an endpoint: the state and the reason are the API's.

use super::failure::Failure;
use super::model::{PoolList, PoolState};
use super::table::{Table, truncate};
use super::{Ctx, times};

/// The longest WHY cell before it is cut.
const WHY_WIDTH: usize = 60;

/// Runs `levee pools`.
pub(crate) async fn run(ctx: &Ctx) -> Result<(), Failure> {
    let answer = ctx.client.get("/v1/pools").await?;
    ctx.show(&answer, |list: PoolList| table(&list.pools))
}

/// Pools as a table, one row per endpoint.
fn table(pools: &[PoolState]) -> String {
    if pools.is_empty() {
        return "no pools\n".to_owned();
    }
    let mut t = Table::new(&["pool", "endpoint", "state", "since", "why"]);
    for p in pools {
        let pool = if p.panicking {
            format!("{} (panic)", p.name)
        } else {
            p.name.clone()
        };
        for e in &p.endpoints {
            let mut state = e.state.clone();
            if let Some(s) = e.retry_in_seconds {
                state.push_str(&format!(" ({s}s)"));
            }
            if e.state == "unhealthy" && e.takes_requests {
                state.push_str(", serving");
            }
            t.row(vec![
                pool.clone(),
                e.endpoint.clone(),
                state,
                e.since
                    .as_deref()
                    .map_or_else(|| "-".to_owned(), times::show),
                truncate(&e.why, WHY_WIDTH),
            ]);
        }
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_in_a_table() {
        let list: PoolList = serde_json::from_value(serde_json::json!({"pools": [
            {"name": "app", "panicking": false, "endpoints": [
                {"endpoint": "10.0.0.5:8080", "state": "up", "takes_requests": true, "why": "its health check passed", "since": "2026-12-05T06:00:00Z", "retry_in_seconds": null},
                {"endpoint": "10.0.0.6:8080", "state": "ejected", "takes_requests": false, "why": "connection refused", "since": "2026-12-05T06:01:00Z", "retry_in_seconds": 4}
            ]},
            {"name": "db", "panicking": true, "endpoints": [
                {"endpoint": "10.0.1.5:5432", "state": "unhealthy", "takes_requests": true, "why": "it answered 500", "since": "2026-12-05T06:02:00Z", "retry_in_seconds": null}
            ]}
        ]}))
        .expect("list");
        assert_eq!(
            table(&list.pools),
            "POOL        ENDPOINT       STATE               SINCE                 WHY\n\
             app         10.0.0.5:8080  up                  2026-12-05T06:00:00Z  its health check passed\n\
             app         10.0.0.6:8080  ejected (4s)        2026-12-05T06:01:00Z  connection refused\n\
             db (panic)  10.0.1.5:5432  unhealthy, serving  2026-12-05T06:02:00Z  it answered 500\n"
        );
        assert_eq!(table(&[]), "no pools\n");
    }
}
