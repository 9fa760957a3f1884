//! Running a gateway: bind, serve, reload, drain.
//!
//! [`Gateway::start`] binds every listener (and the admin listener), builds
//! the first runtime snapshot and serves. [`Gateway::reload`] builds a new
//! snapshot from a new configuration and publishes it (with its admin
//! tokens) only when every part was built; the running snapshot stays in
//! force otherwise, and requests in flight keep the snapshot they started
//! with. [`Gateway::shutdown`] drains:
//! stop accepting, finish in-flight requests up to the drain deadline.
//!
//! This module must not parse command-line flags or install signal handlers;
//! the binary does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use levee_proxy::metrics::Metrics;
use levee_proxy::server::Listener;
use levee_proxy::{Drain, Proxy, RuntimeHandle};
use tokio::task::JoinSet;

use crate::admin::auth::AdminTokens;
use crate::admin::{self, AdminState};
use crate::config::{Config, ConfigError};
use crate::control::Control;
use crate::status::StatusPage;

/// Why a gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration could not be built into a runtime.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The state store could not be opened (the reason is the source).
    #[error("cannot open the state store")]
    Store(#[from] levee_store::StoreError),
    /// A listener could not bind (the OS error is the source).
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A running gateway.
#[derive(Debug)]
pub struct Gateway {
    runtime: RuntimeHandle,
    drain: Drain,
    metrics: Arc<Metrics>,
    config: Config,
    addrs: Vec<SocketAddr>,
    admin_addr: Option<SocketAddr>,
    control: Arc<Control>,
    /// The admin API's tokens, replaced by a reload.
    tokens: Arc<ArcSwap<AdminTokens>>,
    tasks: JoinSet<()>,
    /// The health checks of the current snapshot's pools.
    checks: AbortOnDrop,
    /// The status page.
    status: Arc<StatusPage>,
    status_addr: Option<SocketAddr>,
}

/// A task aborted when its handle is dropped or replaced.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl AbortOnDrop {
    /// Checks `runtime`'s pools until replaced.
    fn checks(runtime: &levee_proxy::Runtime) -> AbortOnDrop {
        AbortOnDrop(tokio::spawn(levee_proxy::pool::health::run(
            runtime.pools.clone(),
        )))
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Gateway {
    /// Binds and serves `config`, with durable state in `config.data_dir`
    /// (in memory when it is `None`). A state store that is empty or missing
    /// where one was expected is refused (see [`levee_store::Store::open`]).
    pub async fn start(config: Config) -> Result<Gateway, StartError> {
        Gateway::start_on(config, levee_store::Store::open).await
    }

    /// Like [`Gateway::start`], but an empty or missing state store where one
    /// was expected is replaced by an empty one: `--accept-empty-store`.
    pub async fn start_accepting_empty_store(config: Config) -> Result<Gateway, StartError> {
        Gateway::start_on(config, levee_store::Store::open_accepting_empty).await
    }

    async fn start_on(
        config: Config,
        open: fn(&std::path::Path) -> Result<levee_store::Store, levee_store::StoreError>,
    ) -> Result<Gateway, StartError> {
        let metrics = Arc::new(Metrics::new());
        let runtime = RuntimeHandle::new(config.build_runtime(metrics.clone(), None)?);
        let store = match &config.data_dir {
            Some(dir) => open(dir)?,
            None => levee_store::Store::in_memory()?,
        };
        let store = Arc::new(store);
        let control = Arc::new(Control::open(
            store.clone(),
            metrics.clone(),
            config.windows.clone(),
            config.topology(),
        )?);
        let status = StatusPage::open(
            &config.status,
            &config.routes,
            store,
            runtime.clone(),
            control.clone(),
            control.handle().site().clone(),
        )?;
        let drain = Drain::new();
        let nofile = levee_proxy::limits::raise_nofile_limit();
        let max_connections = config.listener_settings.max_connections.unwrap_or_else(|| {
            levee_proxy::limits::default_max_connections(nofile.unwrap_or(1024))
        });
        tracing::info!(max_connections, open_files = nofile, "connection budget");
        let limits = levee_proxy::limits::Limits::new(max_connections);
        let proxy = Proxy::new(
            runtime.clone(),
            drain.clone(),
            control.handle().clone(),
            limits,
        );
        let mut tasks = JoinSet::new();
        tasks.spawn(control.clone().run_scheduler());
        tasks.spawn(status.clone().run());
        let mut addrs = Vec::new();
        let mut bound = Vec::new();
        for l in &config.listeners {
            let listener = Listener::bind(
                l.name.clone(),
                l.addr,
                l.tls.clone(),
                config.listener_settings.clone(),
            )
            .await
            .map_err(|source| StartError::Bind {
                addr: l.addr,
                source,
            })?;
            let addr = listener.local_addr().map_err(|source| StartError::Bind {
                addr: l.addr,
                source,
            })?;
            tracing::info!(listener = %l.name, %addr, tls = l.tls.is_some(), "listening");
            addrs.push(addr);
            bound.push(listener);
        }
        let tokens = Arc::new(ArcSwap::from_pointee(config.admin_tokens.clone()));
        let admin_addr = match config.admin {
            Some(addr) => {
                let listener = admin::bind(addr)
                    .await
                    .map_err(|source| StartError::Bind { addr, source })?;
                let local = listener
                    .local_addr()
                    .map_err(|source| StartError::Bind { addr, source })?;
                tracing::info!(addr = %local, "admin listening");
                tasks.spawn(admin::serve(
                    listener,
                    AdminState {
                        metrics: metrics.clone(),
                        drain: drain.clone(),
                        control: control.clone(),
                        tokens: tokens.clone(),
                        runtime: runtime.clone(),
                        status: Some(status.clone()),
                    },
                ));
                Some(local)
            }
            None => None,
        };
        let status_addr = match config.status.listen.filter(|_| config.status.enabled) {
            Some(addr) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartError::Bind { addr, source })?;
                let local = listener
                    .local_addr()
                    .map_err(|source| StartError::Bind { addr, source })?;
                tracing::info!(addr = %local, "status page listening");
                tasks.spawn(crate::status::serve_listener(
                    listener,
                    control.handle().site().clone(),
                ));
                Some(local)
            }
            None => None,
        };
        for listener in bound {
            tasks.spawn(listener.serve(proxy.clone()));
        }
        let checks = AbortOnDrop::checks(&runtime.load());
        Ok(Gateway {
            runtime,
            drain,
            metrics,
            config,
            addrs,
            admin_addr,
            control,
            tokens,
            tasks,
            checks,
            status,
            status_addr,
        })
    }

    /// The status page's own listener's bound address, if it has one.
    pub fn status_addr(&self) -> Option<SocketAddr> {
        self.status_addr
    }

    /// The status page.
    pub fn status(&self) -> &Arc<StatusPage> {
        &self.status
    }

    /// The traffic listeners' bound addresses, in configuration order.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The admin listener's bound address.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// The metrics registry (for further registrations, e.g. the demo).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The current admission limit of the route named `route`, if it has admission.
    pub fn admission_limit(&self, route: &str) -> Option<usize> {
        let rt = self.runtime.load();
        let found = rt.routes.iter().find(|r| &*r.name == route)?;
        found.admission.as_ref().map(|a| a.limit())
    }

    /// Maintenance windows and drains.
    pub fn control(&self) -> &Arc<Control> {
        &self.control
    }

    /// The drain signal.
    pub fn drain(&self) -> &Drain {
        &self.drain
    }

    /// Publishes `config` when it was loaded and builds; otherwise keeps the
    /// one in force (and counts the rejection). Listener and admin addresses
    /// cannot change without a restart: a change there is logged and
    /// otherwise ignored.
    pub fn reload(&mut self, config: Result<Config, ConfigError>) -> Result<(), ConfigError> {
        let previous = self.runtime.load();
        let runtime = match config.and_then(|c| {
            c.build_runtime(self.metrics.clone(), Some(&previous))
                .map(|rt| (c, rt))
        }) {
            Ok(pair) => pair,
            Err(e) => {
                self.metrics.config_reload_failures.inc();
                return Err(e);
            }
        };
        let (config, runtime) = runtime;
        let old: Vec<SocketAddr> = self.config.listeners.iter().map(|l| l.addr).collect();
        let new: Vec<SocketAddr> = config.listeners.iter().map(|l| l.addr).collect();
        if old != new || self.config.admin != config.admin {
            tracing::warn!("listener addresses changed; they take effect at the next restart");
        }
        if self.config.data_dir != config.data_dir {
            tracing::warn!("data_dir changed; it takes effect at the next restart");
        }
        if self.config.listener_settings != config.listener_settings {
            tracing::warn!(
                "server.header_read_timeout, preserve_header_case or the parser's limits changed; they take effect at the next restart"
            );
        }
        if self.config.drain_timeout != config.drain_timeout
            || self.config.drain_delay != config.drain_delay
        {
            tracing::warn!(
                "server.drain_timeout or drain_delay changed; they take effect at the next restart"
            );
        }
        if self.config.status.listen != config.status.listen {
            tracing::warn!("status.listen changed; it takes effect at the next restart");
        }
        self.control
            .set_config(config.windows.clone(), config.topology());
        self.tokens.store(Arc::new(config.admin_tokens.clone()));
        // The new pools are checked from now; the old ones' checks stop.
        self.checks = AbortOnDrop::checks(&runtime);
        self.runtime.publish(runtime);
        self.status.reconfigure(&config.status, &config.routes);
        self.config = config;
        self.metrics.config_reloads.inc();
        Ok(())
    }

    /// Turns the gateway **not ready** while it keeps serving: `/readyz`
    /// answers 503 so that load balancers move away before
    /// [`Gateway::shutdown`] stops accepting. `levee serve` calls it on
    /// `SIGTERM` and waits `server.drain_delay` before draining.
    pub fn unready(&self) {
        self.drain.unready();
    }

    /// Drains: stop accepting, close HTTP/1 connections after their current
    /// answer, send HTTP/2 GOAWAY, answer new requests on kept-alive
    /// connections `503 draining`, and wait up to `deadline` for in-flight
    /// requests and then for the client connections to close. Returns how
    /// many requests were still in flight when it gave up (0 on a clean
    /// drain).
    pub async fn shutdown(mut self, deadline: Duration) -> usize {
        let until = tokio::time::Instant::now() + deadline;
        self.drain.unready();
        self.metrics.draining.set(1);
        // Stop accepting, close HTTP/1 connections after their answers,
        // GOAWAY HTTP/2, and wait for the connections themselves.
        self.drain.start();
        let drained = tokio::time::timeout_at(until, async {
            self.drain.idle().await;
            self.drain.closed().await;
        })
        .await;
        let left = if drained.is_ok() {
            0
        } else {
            self.drain.in_flight()
        };
        self.tasks.abort_all();
        // The minute in progress goes into the availability history.
        if let Err(e) = self.status.flush().await {
            tracing::warn!(error = %e, "the status page's last minute of availability was not recorded");
        }
        left
    }
}
