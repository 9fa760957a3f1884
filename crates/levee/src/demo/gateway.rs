//! The gateway the demo drives traffic through.
//!
//! stand-in until demo_gateway lands: both routes point straight at the
//! upstream and there is no limit to sample. Once `crates/levee/src/demo_gateway.rs`
//! exists, `mod.rs` uses `crate::demo_gateway::{DemoGateway, start_gateway}`
//! instead and this file goes away.

use std::net::SocketAddr;

/// A running gateway with a pass-through route and an admission-controlled
/// route, both in front of one upstream.
// stand-in until demo_gateway lands
#[derive(Debug)]
pub(crate) struct DemoGateway {
    upstream: SocketAddr,
}

impl DemoGateway {
    /// The URL of the route that forwards everything.
    pub(crate) fn pass_through_url(&self) -> String {
        format!("http://{}/", self.upstream)
    }

    /// The URL of the route with admission control.
    pub(crate) fn admission_url(&self) -> String {
        format!("http://{}/", self.upstream)
    }

    /// The admission route's current concurrency limit.
    pub(crate) fn limit_now(&self) -> Option<usize> {
        None
    }

    /// Stops the gateway.
    pub(crate) async fn shutdown(self) {}
}

/// Starts a gateway in front of `upstream`.
// stand-in until demo_gateway lands
pub(crate) async fn start_gateway(upstream: SocketAddr) -> anyhow::Result<DemoGateway> {
    Ok(DemoGateway { upstream })
}
