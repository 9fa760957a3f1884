//! `levee drain ENDPOINT`, `levee drain --list`, `levee undrain ENDPOINT`:
//! taking an upstream endpoint out of rotation and putting it back.
//!
//! This module must not check that the endpoint exists: the API answers
//! 422 when no pool in force has it, and that answer is printed.

use http::{Method, StatusCode};

use super::client::segment;
use super::failure::Failure;
use super::model::{Drain, DrainList};
use super::table::Table;
use super::{Ctx, times};

/// What `levee drain` was asked: one endpoint, or the list.
#[derive(Debug, clap::Args)]
pub(crate) struct DrainCmd {
    /// The endpoint to drain: `host:port` as written in its pool's `endpoints`.
    #[arg(
        value_name = "ENDPOINT",
        required_unless_present = "list",
        conflicts_with = "list"
    )]
    endpoint: Option<String>,
    /// List the drained endpoints instead.
    #[arg(long)]
    list: bool,
}

/// Runs `levee drain`.
pub(crate) async fn drain(ctx: &Ctx, cmd: DrainCmd) -> Result<(), Failure> {
    let Some(endpoint) = cmd.endpoint else {
        let answer = ctx.client.get("/v1/drains").await?;
        return ctx.show(&answer, |list: DrainList| table(&list.drains));
    };
    let answer = ctx
        .client
        .call(Method::PUT, &drain_path(&endpoint), None)
        .await?;
    let newly = answer.status == StatusCode::CREATED;
    ctx.show(&answer, |d: Drain| {
        if newly {
            format!(
                "endpoint {} drained: no new requests from {}; requests in flight finish\n\
                 put it back:  levee undrain {}{}\n",
                d.endpoint,
                pools_phrase(&d.pools),
                d.endpoint,
                ctx.admin_flag
            )
        } else {
            let since = d
                .drained_at
                .as_deref()
                .map(times::show)
                .map(|t| format!(" since {t}"))
                .unwrap_or_default();
            let by = d
                .drained_by
                .as_deref()
                .map(|b| format!(" by {b}"))
                .unwrap_or_default();
            format!("endpoint {} was already drained{since}{by}\n", d.endpoint)
        }
    })
}

/// Runs `levee undrain`.
pub(crate) async fn undrain(ctx: &Ctx, endpoint: &str) -> Result<(), Failure> {
    ctx.client
        .call(Method::DELETE, &drain_path(endpoint), None)
        .await?;
    ctx.done(&format!("endpoint {endpoint} is back in rotation\n"));
    Ok(())
}

/// `/v1/drains/{endpoint}`.
fn drain_path(endpoint: &str) -> String {
    format!("/v1/drains/{}", segment(endpoint.trim()))
}

/// `pool default and pool db`.
fn pools_phrase(pools: &[String]) -> String {
    match pools {
        [] => "its pools".to_owned(),
        [one] => format!("pool {one}"),
        many => format!("pools {}", many.join(", ")),
    }
}

/// Drains as a table.
fn table(drains: &[Drain]) -> String {
    if drains.is_empty() {
        return "no endpoints drained\n".to_owned();
    }
    let mut t = Table::new(&["endpoint", "pools", "drained at", "by"]);
    for d in drains {
        t.row(vec![
            d.endpoint.clone(),
            d.pools.join(","),
            d.drained_at
                .as_deref()
                .map_or_else(|| "-".to_owned(), times::show),
            d.drained_by.clone().unwrap_or_default(),
        ]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drains_in_a_table() {
        let list: DrainList = serde_json::from_value(serde_json::json!({"drains": [
            {"endpoint": "127.0.0.1:8081", "pools": ["default", "db"], "drained_at": "2026-11-30T17:00:00.5Z", "drained_by": "alice"},
            {"endpoint": "10.0.0.7:80", "pools": [], "drained_at": null}
        ]}))
        .expect("list");
        assert_eq!(
            table(&list.drains),
            "ENDPOINT        POOLS       DRAINED AT            BY\n\
             127.0.0.1:8081  default,db  2026-11-30T17:00:00Z  alice\n\
             10.0.0.7:80                 -\n"
        );
        assert_eq!(table(&[]), "no endpoints drained\n");
    }

    #[test]
    fn paths_and_phrases() {
        assert_eq!(drain_path(" 127.0.0.1:8081 "), "/v1/drains/127.0.0.1:8081");
        assert_eq!(pools_phrase(&["a".into()]), "pool a");
        assert_eq!(pools_phrase(&["a".into(), "b".into()]), "pools a, b");
    }
}
