//! WebSocket (and any accepted upgrade) tunnels: bytes both ways until
//! either side closes.
//!
//! This module must not look at what it carries.

use hyper_util::rt::TokioIo;

/// Joins the client's and the upstream's upgraded connections.
pub(super) async fn tunnel(
    downstream: hyper::upgrade::OnUpgrade,
    upstream: hyper::upgrade::OnUpgrade,
) {
    let (down, up) = match tokio::try_join!(downstream, upstream) {
        Ok(pair) => pair,
        Err(e) => {
            tracing::debug!(error = %e, "upgrade failed");
            return;
        }
    };
    let mut down = TokioIo::new(down);
    let mut up = TokioIo::new(up);
    if let Err(e) = tokio::io::copy_bidirectional(&mut down, &mut up).await {
        tracing::debug!(error = %e, "upgraded connection closed with an error");
    }
}
