//! The conditions under which the data path answers for the upstream.
//!
//! Each variant is one condition, with its context in fields; [`ProxyError::reason`]
//! maps it to the catalogue entry whose problem the client receives. The
//! mapping from an error to a response happens in exactly one place,
//! [`crate::rescue`]; nothing here builds a response.

use std::time::Duration;

use levee_http::Reason;

/// `Retry-After` on a `429 client-limit`: requests in flight end quickly.
const CLIENT_LIMIT_RETRY: Duration = Duration::from_secs(1);

/// Why the gateway answered a request itself instead of forwarding the
/// upstream's response.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The request is not valid enough to forward.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// No route matches the host and path.
    #[error("no route for host {host:?} and path {path:?}")]
    NoRoute {
        /// The host the client asked for (without port), if any.
        host: Option<String>,
        /// The request path.
        path: String,
    },
    /// The body is larger than the route allows.
    #[error("request body exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The route's limit in bytes.
        limit: u64,
    },
    /// The header section is too large or has too many fields.
    #[error("request header section too large: {what}")]
    HeadersTooLarge {
        /// Which limit was exceeded, for the detail.
        what: String,
    },
    /// No endpoint of the pool could be reached.
    #[error("no endpoint of pool {pool} is reachable: {cause}")]
    Unavailable {
        /// The pool's name.
        pool: String,
        /// What went wrong, e.g. the connect error.
        cause: String,
        /// When the gateway will try the pool again.
        retry_in: Duration,
        /// The last endpoint tried, if one was (for the access log; never
        /// shown to the client).
        tried: Option<String>,
        /// Every endpoint of every pool asked is drained by an operator.
        drained: bool,
        /// The pools asked, in order, when the route has alternates (shown
        /// as the problem's `tried` member); empty otherwise.
        pools: Vec<String>,
    },
    /// The upstream did not send a response head in time.
    #[error("upstream {endpoint} sent no response within {timeout:?}")]
    Timeout {
        /// The endpoint that was asked.
        endpoint: String,
        /// The limit that passed.
        timeout: Duration,
        /// The limit was what remained of the caller's own deadline, not
        /// the pool's: it says nothing about the endpoint.
        callers: bool,
    },
    /// The upstream broke the connection or sent an invalid response head.
    #[error("upstream {endpoint} answered badly: {cause}")]
    BadGateway {
        /// The endpoint that was asked.
        endpoint: String,
        /// What went wrong.
        cause: String,
    },
    /// TLS to the upstream failed: its certificate does not verify (unknown
    /// issuer, wrong name, expired), it refused the gateway's client
    /// certificate, or the handshake did not finish in time.
    #[error("TLS to upstream {endpoint} failed: {cause}")]
    UpstreamTls {
        /// The endpoint that was asked (the last one, after failover).
        endpoint: String,
        /// Why, in rustls' words.
        cause: String,
    },
    /// The client's request body failed: malformed, stalled or too slow.
    #[error("client body: {cause}")]
    ClientBody {
        /// What went wrong.
        cause: String,
        /// The client was too slow (`408`), rather than wrong (`400`).
        timeout: bool,
    },
    /// The request uses a transfer coding other than chunked.
    #[error("transfer coding not implemented: {0}")]
    TransferCoding(String),
    /// Admission control shed the request to protect the upstream.
    #[error("shed: {}", cause.as_str())]
    Overloaded {
        /// Why it was shed.
        cause: crate::admission::ShedCause,
        /// When to come back.
        retry_in: Duration,
    },
    /// The request's tenant is over its own rate (a 429, not a 503).
    #[error("tenant over its rate limit")]
    RateLimited(crate::ratelimit::RateLimited),
    /// The caller's own deadline had passed before the request could be
    /// forwarded.
    #[error("the caller's deadline had passed")]
    DeadlineExpired,
    /// The client address has as many requests in flight as one client may.
    #[error("client over its limit of {limit} requests in flight")]
    ClientLimit {
        /// The cap (`max_requests_per_client`).
        limit: usize,
    },
    /// The gateway is shutting down.
    #[error("the gateway is draining")]
    Draining {
        /// When to come back.
        retry_in: Duration,
    },
    /// A maintenance window covers the request.
    #[error("maintenance window {}", window.id)]
    Maintenance {
        /// The window (the one ending last, when several cover the request).
        window: std::sync::Arc<crate::control::Window>,
        /// Time until it ends, or the open-ended default.
        retry_in: Duration,
    },
}

impl ProxyError {
    /// The catalogue reason this error is answered with.
    pub fn reason(&self) -> Reason {
        match self {
            ProxyError::BadRequest(_) => Reason::BadRequest,
            ProxyError::ClientBody { timeout: true, .. } => Reason::RequestTimeout,
            ProxyError::ClientBody { timeout: false, .. } => Reason::BadRequest,
            ProxyError::TransferCoding(_) => Reason::NotImplemented,
            ProxyError::NoRoute { .. } => Reason::NoRoute,
            ProxyError::BodyTooLarge { .. } => Reason::PayloadTooLarge,
            ProxyError::HeadersTooLarge { .. } => Reason::HeadersTooLarge,
            ProxyError::Unavailable { .. } => Reason::UpstreamUnavailable,
            ProxyError::Timeout { .. } => Reason::GatewayTimeout,
            ProxyError::BadGateway { .. } | ProxyError::UpstreamTls { .. } => Reason::BadGateway,
            ProxyError::Draining { .. } => Reason::Draining,
            ProxyError::Overloaded { .. } => Reason::Overloaded,
            ProxyError::RateLimited(_) => Reason::RateLimited,
            ProxyError::ClientLimit { .. } => Reason::ClientLimit,
            ProxyError::DeadlineExpired => Reason::GatewayTimeout,
            ProxyError::Maintenance { .. } => Reason::Maintenance,
        }
    }

    /// The endpoint that failed, for the access log: the one that timed out
    /// or broke the connection, or the last one tried.
    pub fn endpoint(&self) -> Option<&str> {
        match self {
            ProxyError::Timeout { endpoint, .. }
            | ProxyError::BadGateway { endpoint, .. }
            | ProxyError::UpstreamTls { endpoint, .. } => Some(endpoint),
            ProxyError::Unavailable { tried, .. } => tried.as_deref(),
            _ => None,
        }
    }

    /// Whether the refusal is about the caller's own deadline: it had passed,
    /// or waiting for a slot or the upstream would outlast it.
    pub fn is_callers_deadline(&self) -> bool {
        matches!(
            self,
            ProxyError::DeadlineExpired
                | ProxyError::Timeout { callers: true, .. }
                | ProxyError::Overloaded {
                    cause: crate::admission::ShedCause::Deadline,
                    ..
                }
        )
    }

    /// How long the client should wait, for the answers that carry `Retry-After`.
    pub fn retry_in(&self) -> Option<Duration> {
        match self {
            ProxyError::Unavailable { retry_in, .. } | ProxyError::Draining { retry_in } => {
                Some(*retry_in)
            }
            ProxyError::Overloaded { retry_in, .. } | ProxyError::Maintenance { retry_in, .. } => {
                Some(*retry_in)
            }
            ProxyError::RateLimited(r) => Some(r.retry_after),
            ProxyError::ClientLimit { .. } => Some(CLIENT_LIMIT_RETRY),
            _ => None,
        }
    }

    /// The `detail` member: what happened to this request, without internals
    /// a client should not see (addresses of upstreams are kept to the log),
    /// with one exception: a TLS failure names the endpoint and the reason,
    /// since it is a configuration problem that whoever reads the problem
    /// must be able to locate, and a certificate error says nothing secret.
    pub fn detail(&self) -> String {
        match self {
            ProxyError::BadRequest(what) => format!("The request is malformed: {what}."),
            ProxyError::NoRoute { host, path } => match host {
                Some(h) => format!("No route matches host {h} and path {path}."),
                None => format!("No route matches path {path}."),
            },
            ProxyError::BodyTooLarge { limit } => {
                format!("The request body is larger than this route accepts ({limit} bytes).")
            }
            ProxyError::ClientBody { cause, timeout: true } => {
                format!("The request body did not arrive in time ({cause}); it was not sent to the service.")
            }
            ProxyError::ClientBody { cause, timeout: false } => {
                format!("The request body is malformed ({cause}).")
            }
            ProxyError::TransferCoding(coding) => {
                format!("The transfer coding `{coding}` is not implemented; send the body with Content-Length or chunked, and compress it with Content-Encoding.")
            }
            ProxyError::HeadersTooLarge { what } => {
                format!("The request's header section is too large: {what}.")
            }
            ProxyError::Unavailable {
                pool,
                drained,
                pools,
                ..
            } => {
                let names = if pools.len() > 1 {
                    let quoted: Vec<String> = pools.iter().map(|p| format!("\"{p}\"")).collect();
                    format!("services {}", quoted.join(", "))
                } else {
                    format!("service \"{pool}\"")
                };
                if *drained {
                    format!("Every endpoint of the {names} is drained by its operators (planned work); the request was not sent. Retry after the delay in Retry-After.")
                } else {
                    format!("No endpoint of the {names} could be reached.")
                }
            }
            ProxyError::Timeout { timeout, .. } => {
                format!(
                    "The service did not answer within {} ms.",
                    timeout.as_millis()
                )
            }
            ProxyError::BadGateway { .. } => {
                "The service closed the connection or sent an invalid response.".to_owned()
            }
            ProxyError::UpstreamTls { endpoint, cause } => {
                format!("TLS to {endpoint} failed: {cause}.")
            }
            ProxyError::RateLimited(_) => {
                "You have sent more requests than your rate limit allows; the request was not sent to the service. Retry after the delay in Retry-After; RateLimit-Policy states the limit.".to_owned()
            }
            ProxyError::DeadlineExpired => {
                "Your deadline (grpc-timeout or the deadline header) had passed before the request could be sent; it was not sent to the service.".to_owned()
            }
            ProxyError::ClientLimit { limit } => {
                format!("This client address already has {limit} requests in flight, as many as one client may; the request was not sent to the service. Finish or cancel some first.")
            }
            ProxyError::Draining { .. } => {
                "This gateway instance is shutting down; retry on a new connection.".to_owned()
            }
            ProxyError::Overloaded { cause, .. } => match cause {
                crate::admission::ShedCause::Deadline => {
                    "The service is at capacity and could not answer before your deadline; the request was not sent to it.".to_owned()
                }
                _ => "The service is at capacity; the request was not sent to it. Retry after the delay in Retry-After.".to_owned(),
            },
            ProxyError::Maintenance { window, .. } => match window.ends_at {
                Some(end) => format!(
                    "The service is down for planned maintenance until {}.",
                    levee_http::maintenance::rfc3339(end)
                ),
                None => "The service is down for planned maintenance; the end is not yet known.".to_owned(),
            },
        }
    }
}
