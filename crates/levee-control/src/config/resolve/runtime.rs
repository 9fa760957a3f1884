//! A [`Config`] → the data path's [`Runtime`] snapshot.
//!
//! Pools get fresh clients and breakers, and keep what their health checks
//! found; routes are built by
//! [`Route::build`], which keeps a route's admission controller and rate
//! limiter from the previous snapshot when their settings did not change
//! (the one keep-or-rebuild step of a reload).
//!
//! This module must not publish the snapshot.

use std::collections::HashMap;
use std::sync::Arc;

use levee_proxy::Runtime;
use levee_proxy::metrics::Metrics;
use levee_proxy::pool::Pool;
use levee_proxy::route::{Route, RouteTable};

use super::Config;
use crate::config::error::{Collector, ConfigError};

impl Config {
    /// Builds the data-path snapshot, keeping from `previous` what carries
    /// state across a reload.
    pub fn build_runtime(
        &self,
        metrics: Arc<Metrics>,
        previous: Option<&Runtime>,
    ) -> Result<Runtime, ConfigError> {
        let mut c = Collector::new("");
        let mut pools: HashMap<&str, Arc<Pool>> = HashMap::new();
        let mut in_order = Vec::new();
        for spec in &self.pools {
            match Pool::new(spec.clone()) {
                Ok(p) => {
                    let p = p.with_metrics(&metrics);
                    if let Some(old) =
                        previous.and_then(|rt| rt.pools.iter().find(|old| old.name == spec.name))
                    {
                        p.inherit_health(old);
                    }
                    let p = Arc::new(p);
                    in_order.push(p.clone());
                    pools.insert(spec.name.as_str(), p);
                }
                Err(e) => c.at(None, format!("pool `{}`: {e}", spec.name)),
            }
        }
        let mut routes = Vec::new();
        for spec in &self.routes {
            let Some(pool) = pools.get(spec.pool.as_str()) else {
                c.at(
                    None,
                    format!("route `{}`: unknown pool `{}`", spec.name, spec.pool),
                );
                continue;
            };
            let old = previous
                .and_then(|rt| rt.routes.iter().find(|old| *old.name == *spec.name))
                .map(|r| &**r);
            let mut fallback = Vec::new();
            for name in &spec.fallback {
                match pools.get(name.as_str()) {
                    Some(p) => fallback.push(p.clone()),
                    None => c.at(
                        None,
                        format!("route `{}`: unknown fallback pool `{name}`", spec.name),
                    ),
                }
            }
            match Route::build(spec.clone(), pool.clone(), &metrics, old) {
                Ok(route) => routes.push(Arc::new(route.with_fallback(fallback))),
                Err(e) => c.at(None, e),
            }
        }
        c.finish(self.source.clone())?;
        Ok(Runtime {
            settings: self.settings.clone(),
            routes: RouteTable::new(routes),
            pools: in_order,
            metrics,
        })
    }
}
