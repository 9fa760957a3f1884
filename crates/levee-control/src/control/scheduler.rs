//! The window scheduler: wake at every window boundary to log the start or
//! end, keep the gauges true and the published state free of ended windows.
//!
//! Enforcement does not depend on it: the data path compares each window's
//! times with the clock on every request. This module must not change
//! windows.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{Control, WindowState, scope_label};

impl Control {
    /// The next time a window starts or ends after `now`.
    fn next_boundary(&self, now: SystemTime) -> Option<SystemTime> {
        let st = self.lock();
        st.config_windows
            .iter()
            .chain(&st.api_windows)
            .flat_map(|r| [Some(r.window.starts_at), r.window.ends_at])
            .flatten()
            .filter(|t| *t > now)
            .min()
    }

    fn active_ids(&self, now: SystemTime) -> Vec<(Arc<str>, Option<SystemTime>, String)> {
        let st = self.lock();
        st.config_windows
            .iter()
            .chain(&st.api_windows)
            .filter(|r| r.state(now) == WindowState::Active)
            .map(|r| {
                (
                    r.window.id.clone(),
                    r.window.ends_at,
                    scope_label(&r.window.scope),
                )
            })
            .collect()
    }

    /// Logs each window's start and end when it happens, keeps the gauges
    /// true and the published state free of ended windows. Runs until the
    /// task is dropped.
    pub async fn run_scheduler(self: Arc<Self>) {
        let mut active: Vec<Arc<str>> = Vec::new();
        loop {
            let now = SystemTime::now();
            let now_active = self.active_ids(now);
            for (id, ends_at, scope) in &now_active {
                if !active.contains(id) {
                    let ends = ends_at
                        .map_or_else(|| "open-ended".to_owned(), levee_http::maintenance::rfc3339);
                    tracing::info!(window = %id, %scope, ends_at = %ends, "maintenance window in force");
                }
            }
            for id in &active {
                if !now_active.iter().any(|(a, _, _)| a == id) {
                    tracing::info!(window = %id, "maintenance window over");
                }
            }
            active = now_active.into_iter().map(|(id, _, _)| id).collect();
            self.publish_state();
            // Wake just after the next boundary, on any change, or hourly.
            let wait = self
                .next_boundary(now)
                .and_then(|t| t.duration_since(SystemTime::now()).ok())
                .map_or(Duration::from_secs(3600), |d| {
                    (d + Duration::from_millis(5)).min(Duration::from_secs(3600))
                });
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.changed.notified() => {}
            }
        }
    }
}
