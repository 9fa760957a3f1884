//! The catalogue of reasons the gateway answers with an error of its own.
//!
//! Each [`Reason`] is one problem *type* in the sense of RFC 9457 §3.1.1: it
//! has a stable slug (the last segment of its `type` URI), the status code RFC
//! 9110 gives it, a title, and the text of the page its `type` URI serves —
//! what happened, the likely causes, and what a visitor and a developer can do.
//! It also says whose fault it is ([`Blame`]) and whether repeating the same
//! request later can succeed, which is what a client needs to decide to retry.
//!
//! This module must not decide *when* a reason applies; the data path and the
//! control plane do that. It only names and explains.

use http::StatusCode;

/// Whose side a problem is on: what a person reading the error needs first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Blame {
    /// The request itself is wrong; repeating it unchanged will fail again.
    Client,
    /// The service behind the gateway is down, slow, overloaded or misbehaving.
    Upstream,
    /// The gateway chose to refuse (maintenance, shedding, draining) or failed.
    Gateway,
}

impl Blame {
    /// Lowercase name, as written in problem bodies and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Blame::Client => "client",
            Blame::Upstream => "upstream",
            Blame::Gateway => "gateway",
        }
    }
}

/// Why the gateway itself produced an error response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// 400: the request could not be parsed or is invalid as HTTP.
    BadRequest,
    /// 401: the admin API was called without a valid token.
    Unauthorized,
    /// 404: no route matches the request's host and path.
    NoRoute,
    /// 404: the admin API has no such object (window, drain) or path.
    NotFound,
    /// 405: the admin API path exists, but not with this method.
    MethodNotAllowed,
    /// 409: the object cannot be changed this way (e.g. a window owned by
    /// the config file).
    Conflict,
    /// 415: the admin API was sent a body that is not JSON.
    UnsupportedMediaType,
    /// 422: the admin API was sent JSON whose content is invalid.
    InvalidInput,
    /// 413: the request body exceeds the route's limit.
    PayloadTooLarge,
    /// 408: the client did not send its request body in time (it stalled,
    /// or trickled slower than the gateway accepts).
    RequestTimeout,
    /// 414: the request target is longer than the gateway accepts.
    UriTooLong,
    /// 429: one client address has more connections or requests open than
    /// the gateway allows one client.
    ClientLimit,
    /// 501: the request uses a transfer coding the gateway does not implement.
    NotImplemented,
    /// 429: one tenant exceeded its own rate limit.
    RateLimited,
    /// 431: the request's header section is too large or has too many fields.
    HeadersTooLarge,
    /// 502: the upstream answered with something that is not valid HTTP, or
    /// broke the connection before a complete response head.
    BadGateway,
    /// 503: no upstream endpoint could be reached (refused, unreachable, every
    /// endpoint's breaker open, or no endpoint configured).
    UpstreamUnavailable,
    /// 503: the gateway shed the request to protect the upstream from overload.
    Overloaded,
    /// 503: a maintenance window covers the request.
    Maintenance,
    /// 503: the gateway is shutting down and accepts no new work.
    Draining,
    /// 504: the upstream did not answer within the route's time limit.
    GatewayTimeout,
    /// 500: the gateway failed in a way that is its own bug.
    Internal,
}

impl Reason {
    /// Every reason, in the order the index page lists them.
    pub const ALL: &'static [Reason] = &[
        Reason::Overloaded,
        Reason::Maintenance,
        Reason::UpstreamUnavailable,
        Reason::Draining,
        Reason::GatewayTimeout,
        Reason::BadGateway,
        Reason::RateLimited,
        Reason::BadRequest,
        Reason::NoRoute,
        Reason::PayloadTooLarge,
        Reason::RequestTimeout,
        Reason::UriTooLong,
        Reason::HeadersTooLarge,
        Reason::ClientLimit,
        Reason::NotImplemented,
        Reason::Unauthorized,
        Reason::NotFound,
        Reason::MethodNotAllowed,
        Reason::Conflict,
        Reason::UnsupportedMediaType,
        Reason::InvalidInput,
        Reason::Internal,
    ];

    /// The stable slug: the last path segment of the `type` URI and the
    /// `reason` member of a problem body.
    pub fn slug(self) -> &'static str {
        self.entry().slug
    }

    /// The reason whose slug is `slug`, if any.
    pub fn from_slug(slug: &str) -> Option<Reason> {
        Reason::ALL.iter().copied().find(|r| r.slug() == slug)
    }

    /// The status code RFC 9110 gives this condition.
    pub fn status(self) -> StatusCode {
        self.entry().status
    }

    /// A short, human-readable summary that does not change between
    /// occurrences (RFC 9457 §3.1.3).
    pub fn title(self) -> &'static str {
        self.entry().title
    }

    /// What happened, in one or two sentences, for the problem-type page.
    pub fn summary(self) -> &'static str {
        self.entry().summary
    }

    /// The likely causes, most likely first.
    pub fn causes(self) -> &'static [&'static str] {
        self.entry().causes
    }

    /// What a person using a browser or an app can do.
    pub fn visitor_fix(self) -> &'static str {
        self.entry().visitor_fix
    }

    /// What the developer or operator can do.
    pub fn developer_fix(self) -> &'static [&'static str] {
        self.entry().developer_fix
    }

    /// Whose side the problem is on.
    pub fn blame(self) -> Blame {
        self.entry().blame
    }

    /// Whether the same request, sent again later, can succeed.
    pub fn retryable(self) -> bool {
        self.entry().retryable
    }

    /// Whether the contract requires a `Retry-After` header on this answer.
    pub fn requires_retry_after(self) -> bool {
        matches!(self.status().as_u16(), 503 | 429)
    }

    fn entry(self) -> &'static Entry {
        match self {
            Reason::BadRequest => &BAD_REQUEST,
            Reason::Unauthorized => &UNAUTHORIZED,
            Reason::NoRoute => &NO_ROUTE,
            Reason::NotFound => &NOT_FOUND,
            Reason::MethodNotAllowed => &METHOD_NOT_ALLOWED,
            Reason::Conflict => &CONFLICT,
            Reason::UnsupportedMediaType => &UNSUPPORTED_MEDIA_TYPE,
            Reason::InvalidInput => &INVALID_INPUT,
            Reason::PayloadTooLarge => &PAYLOAD_TOO_LARGE,
            Reason::RequestTimeout => &REQUEST_TIMEOUT,
            Reason::UriTooLong => &URI_TOO_LONG,
            Reason::ClientLimit => &CLIENT_LIMIT,
            Reason::NotImplemented => &NOT_IMPLEMENTED,
            Reason::RateLimited => &RATE_LIMITED,
            Reason::HeadersTooLarge => &HEADERS_TOO_LARGE,
            Reason::BadGateway => &BAD_GATEWAY,
            Reason::UpstreamUnavailable => &UPSTREAM_UNAVAILABLE,
            Reason::Overloaded => &OVERLOADED,
            Reason::Maintenance => &MAINTENANCE,
            Reason::Draining => &DRAINING,
            Reason::GatewayTimeout => &GATEWAY_TIMEOUT,
            Reason::Internal => &INTERNAL,
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.slug())
    }
}

struct Entry {
    slug: &'static str,
    status: StatusCode,
    title: &'static str,
    summary: &'static str,
    causes: &'static [&'static str],
    visitor_fix: &'static str,
    developer_fix: &'static [&'static str],
    blame: Blame,
    retryable: bool,
}

static BAD_REQUEST: Entry = Entry {
    slug: "bad-request",
    status: StatusCode::BAD_REQUEST,
    title: "Bad request",
    summary: "The gateway could not understand the request: it is not valid HTTP, or a header it needs is malformed.",
    causes: &[
        "A request line, header name or header value that is not valid HTTP/1.1 or HTTP/2.",
        "A missing or malformed Host header.",
        "A client library or hand-written request with a framing error (conflicting Content-Length, bad chunked encoding).",
    ],
    visitor_fix: "Sending the same request again will not help. If you followed a link, report it to the site's owner.",
    developer_fix: &[
        "Compare the request your client sends (curl -v, a packet capture) with RFC 9110 and RFC 9112.",
        "Make sure the Host header is present and names the site.",
    ],
    blame: Blame::Client,
    retryable: false,
};

static UNAUTHORIZED: Entry = Entry {
    slug: "unauthorized",
    status: StatusCode::UNAUTHORIZED,
    title: "Missing or invalid credentials",
    summary: "The request needs a valid bearer token and did not carry one.",
    causes: &[
        "No Authorization header was sent.",
        "The token is wrong, expired, or was removed from the gateway's token file.",
    ],
    visitor_fix: "Sign in again, or ask the operator for access.",
    developer_fix: &[
        "Send `Authorization: Bearer <token>` with a token the gateway was started with (--admin-token-file or LEVEE_ADMIN_TOKEN).",
    ],
    blame: Blame::Client,
    retryable: false,
};

static NO_ROUTE: Entry = Entry {
    slug: "no-route",
    status: StatusCode::NOT_FOUND,
    title: "No route for this request",
    summary: "No route of the gateway matches the request's host and path, so there is no service to send it to.",
    causes: &[
        "A typo in the URL or the host name.",
        "The route for this host or path prefix has not been configured, or was removed by a reload.",
    ],
    visitor_fix: "Check the address. If you followed a link, it may be out of date.",
    developer_fix: &[
        "List the configured routes (`levee config check levee.toml`) and compare their host and path_prefix with the request.",
        "Add a catch-all route (path_prefix = \"/\") if every request should reach a default pool.",
    ],
    blame: Blame::Client,
    retryable: false,
};

static NOT_FOUND: Entry = Entry {
    slug: "not-found",
    status: StatusCode::NOT_FOUND,
    title: "No such object",
    summary: "The admin API has no object at this path: no such maintenance window, drain, or endpoint.",
    causes: &[
        "The id is mistyped, or the object was deleted.",
        "The path is not one of the admin API's (see /openapi.json).",
    ],
    visitor_fix: "Check the address.",
    developer_fix: &[
        "List what exists (`levee maint list --all`, `levee drain --list`) and use an id from there.",
    ],
    blame: Blame::Client,
    retryable: false,
};

static METHOD_NOT_ALLOWED: Entry = Entry {
    slug: "method-not-allowed",
    status: StatusCode::METHOD_NOT_ALLOWED,
    title: "Method not allowed here",
    summary: "The path exists, but not with this HTTP method. The Allow header lists the methods it takes.",
    causes: &["A client used the wrong method, e.g. POST where PATCH was meant."],
    visitor_fix: "Check the address.",
    developer_fix: &[
        "Use one of the methods in the Allow header; /openapi.json describes every operation.",
    ],
    blame: Blame::Client,
    retryable: false,
};

static CONFLICT: Entry = Entry {
    slug: "conflict",
    status: StatusCode::CONFLICT,
    title: "Cannot change this object here",
    summary: "The request conflicts with who owns the object: a maintenance window declared in the configuration file can only be changed in that file.",
    causes: &[
        "The window's id starts with `config:`: it comes from [[maintenance.windows]] in the config file.",
    ],
    visitor_fix: "Ask the operator.",
    developer_fix: &[
        "Edit the window in the configuration file and reload (SIGHUP), or create an API window instead.",
    ],
    blame: Blame::Client,
    retryable: false,
};

static UNSUPPORTED_MEDIA_TYPE: Entry = Entry {
    slug: "unsupported-media-type",
    status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
    title: "The body must be JSON",
    summary: "The admin API takes request bodies as application/json only.",
    causes: &["The request's Content-Type is missing or is not application/json."],
    visitor_fix: "Ask the operator.",
    developer_fix: &["Send `Content-Type: application/json` with a JSON object body."],
    blame: Blame::Client,
    retryable: false,
};

static INVALID_INPUT: Entry = Entry {
    slug: "invalid-input",
    status: StatusCode::UNPROCESSABLE_ENTITY,
    title: "The request's content is invalid",
    summary: "The body is JSON, but a field is missing, of the wrong type, or out of range. The `errors` member names each field and what was expected.",
    causes: &[
        "A time that is not RFC 3339 (e.g. 2026-12-01T02:00:00Z), or an end before the start.",
        "A route or pool name that is not in the configuration in force.",
        "An unknown field (a typo).",
    ],
    visitor_fix: "Ask the operator.",
    developer_fix: &["Fix the fields named in `errors`; /openapi.json has every field's rules."],
    blame: Blame::Client,
    retryable: false,
};

static PAYLOAD_TOO_LARGE: Entry = Entry {
    slug: "payload-too-large",
    status: StatusCode::PAYLOAD_TOO_LARGE,
    title: "Request body too large",
    summary: "The request body is larger than this route accepts, so the gateway refused it before it reached the service.",
    causes: &[
        "An upload larger than the route's max_body_size.",
        "A client that sends a whole file where the API expects a smaller document.",
    ],
    visitor_fix: "Send a smaller file or less data.",
    developer_fix: &[
        "Raise the route's max_body_size if such bodies are legitimate.",
        "Split large uploads (multipart or resumable uploads).",
    ],
    blame: Blame::Client,
    retryable: false,
};

static REQUEST_TIMEOUT: Entry = Entry {
    slug: "request-timeout",
    status: StatusCode::REQUEST_TIMEOUT,
    title: "Request body not received in time",
    summary: "The client started a request but did not send its body in time: it stalled, or sent it slower than the gateway accepts. The service was not bothered with it.",
    causes: &[
        "A client on a very slow or broken network connection.",
        "A client that opened an upload and stopped sending (or sends a byte now and then on purpose, to hold the server's resources).",
        "A proxy between the client and the gateway that buffers or stalls uploads.",
    ],
    visitor_fix: "Check your connection and send the request again.",
    developer_fix: &[
        "Send the whole body promptly after the headers; stream uploads without long pauses.",
        "For very slow links or large uploads, raise the route's client_body_timeout or lower min_body_rate.",
    ],
    blame: Blame::Client,
    retryable: true,
};

static URI_TOO_LONG: Entry = Entry {
    slug: "uri-too-long",
    status: StatusCode::URI_TOO_LONG,
    title: "Request target too long",
    summary: "The request's path and query are longer than the gateway accepts.",
    causes: &[
        "A query string built from a long list of values (ids, filters).",
        "A redirect loop that appends to the URL each time.",
    ],
    visitor_fix: "Follow a shorter link, or start again from the site's home page.",
    developer_fix: &["Send long inputs in a request body (POST) rather than in the query string."],
    blame: Blame::Client,
    retryable: false,
};

static CLIENT_LIMIT: Entry = Entry {
    slug: "client-limit",
    status: StatusCode::TOO_MANY_REQUESTS,
    title: "Too many connections or requests from this address",
    summary: "This client address has more connections or requests open at once than the gateway allows one client, so that no single client can take the gateway's capacity from the others.",
    causes: &[
        "A client opening a new connection per request without closing the old ones.",
        "Many users behind one address (a NAT, a corporate proxy) that the gateway does not trust as a proxy.",
        "A deliberate attempt to exhaust the gateway's connections.",
    ],
    visitor_fix: "Wait a moment and try again.",
    developer_fix: &[
        "Reuse connections (keep-alive, HTTP/2) and bound your client's concurrency.",
        "If a proxy or load balancer stands in front of the gateway, add its addresses to server.trusted_networks, or raise server.max_connections_per_client / max_requests_per_client.",
    ],
    blame: Blame::Client,
    retryable: true,
};

static NOT_IMPLEMENTED: Entry = Entry {
    slug: "not-implemented",
    status: StatusCode::NOT_IMPLEMENTED,
    title: "Transfer coding not implemented",
    summary: "The request uses a transfer coding (Transfer-Encoding) other than chunked, which the gateway does not implement (RFC 9112 §6.1).",
    causes: &[
        "A client that compresses the request stream with Transfer-Encoding: gzip or deflate.",
    ],
    visitor_fix: "Sending the same request again will not help.",
    developer_fix: &[
        "Send the body with Content-Length or Transfer-Encoding: chunked; compress with Content-Encoding instead.",
    ],
    blame: Blame::Client,
    retryable: false,
};

static RATE_LIMITED: Entry = Entry {
    slug: "rate-limited",
    status: StatusCode::TOO_MANY_REQUESTS,
    title: "Too many requests from this client",
    summary: "This client (tenant) sent more requests than its own rate limit allows. Other clients are not affected.",
    causes: &[
        "A loop or a batch job sending requests faster than its quota.",
        "Many processes sharing one API key.",
    ],
    visitor_fix: "Wait for the time in the Retry-After header, then try again.",
    developer_fix: &[
        "Honor Retry-After and the RateLimit / RateLimit-Policy headers.",
        "Spread requests over time, or ask for a higher quota.",
    ],
    blame: Blame::Client,
    retryable: true,
};

static HEADERS_TOO_LARGE: Entry = Entry {
    slug: "headers-too-large",
    status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
    title: "Request headers too large",
    summary: "The request's header section is larger, or has more fields, than the gateway accepts.",
    causes: &[
        "Cookies that have grown too large for the site.",
        "A client adding the same header again and again (a proxy loop, a bug).",
    ],
    visitor_fix: "Clear this site's cookies and try again.",
    developer_fix: &[
        "Find which header is large (curl -v) and shrink it.",
        "Raise server.max_header_bytes or server.max_headers if such headers are legitimate.",
    ],
    blame: Blame::Client,
    retryable: false,
};

static BAD_GATEWAY: Entry = Entry {
    slug: "bad-gateway",
    status: StatusCode::BAD_GATEWAY,
    title: "The upstream service answered badly",
    summary: "The service behind the gateway sent a response that is not valid HTTP, or closed the connection before completing its response.",
    causes: &[
        "The service crashed or restarted while handling the request.",
        "The service speaks another protocol on that port (TLS, HTTP/2 only, not HTTP).",
        "TLS to the service failed: its certificate is not trusted, not valid for its name, or expired, or it refused the gateway's client certificate (the detail says which endpoint and why).",
        "A bug in the service that writes a malformed response.",
    ],
    visitor_fix: "Try again in a moment. If it keeps happening, the site's operators need to know.",
    developer_fix: &[
        "Check the service's logs for a crash at the time in this response's request id.",
        "Check that the pool's endpoints and protocol (http1, h2c or h2) match what the service speaks.",
        "For a TLS failure, check the pool's tls settings (ca_file, server_name, cert_file and key_file) against the service's certificate.",
    ],
    blame: Blame::Upstream,
    retryable: true,
};

static UPSTREAM_UNAVAILABLE: Entry = Entry {
    slug: "upstream-unavailable",
    status: StatusCode::SERVICE_UNAVAILABLE,
    title: "The upstream service is unavailable",
    summary: "The gateway could not reach any endpoint of the service behind it. The service may be down, restarting, or unreachable.",
    causes: &[
        "The service is not running, or is restarting after a deploy or crash.",
        "Every endpoint refused the connection or did not accept it in time.",
        "The endpoints' circuit breakers are open after repeated failures; the gateway will probe again after Retry-After.",
    ],
    visitor_fix: "Wait for the time in Retry-After, then try again. Nothing is wrong with your request.",
    developer_fix: &[
        "Check that the service is running and listening on the pool's endpoint addresses.",
        "Look for connect errors in the gateway's log with this request id.",
        "Clients: honor Retry-After and retry with backoff and a retry budget.",
    ],
    blame: Blame::Upstream,
    retryable: true,
};

static OVERLOADED: Entry = Entry {
    slug: "overloaded",
    status: StatusCode::SERVICE_UNAVAILABLE,
    title: "Service overloaded",
    summary: "More requests arrived than the service can handle in time. To keep it fast for the requests it admits, the gateway turned this one away without sending it to the service.",
    causes: &[
        "A traffic spike above the service's capacity.",
        "The service slowed down (a deploy, a slow dependency, a noisy neighbour), so its capacity dropped.",
        "Retry storms from clients that retry immediately.",
    ],
    visitor_fix: "Wait for the time in Retry-After, then try again. Nothing is wrong with your request.",
    developer_fix: &[
        "Clients: honor Retry-After, back off with jitter, and spend retries from a budget.",
        "Operators: look at levee_admission_limit and the upstream's latency; add capacity if the surge is lasting.",
        "Mark background traffic as sheddable so user-facing requests are kept.",
    ],
    blame: Blame::Gateway,
    retryable: true,
};

static MAINTENANCE: Entry = Entry {
    slug: "maintenance",
    status: StatusCode::SERVICE_UNAVAILABLE,
    title: "Down for maintenance",
    summary: "The service is in a planned maintenance window. The gateway answers for it until the window ends.",
    causes: &["An operator scheduled or started a maintenance window covering this route."],
    visitor_fix: "Come back after the time in Retry-After; the window's end time is in the response.",
    developer_fix: &[
        "Clients: wait until the window's end (Retry-After), then retry.",
        "Operators: `levee maint list` shows the window; `levee maint end` ends it early.",
    ],
    blame: Blame::Gateway,
    retryable: true,
};

static DRAINING: Entry = Entry {
    slug: "draining",
    status: StatusCode::SERVICE_UNAVAILABLE,
    title: "Gateway restarting",
    summary: "This gateway instance is shutting down and finishes the requests it already has. New requests should go to another instance, or come back in a moment.",
    causes: &["A deploy, a restart, or a scale-down of the gateway."],
    visitor_fix: "Try again in a moment.",
    developer_fix: &[
        "Clients: open a new connection and retry after Retry-After; the request was not processed.",
        "Operators: take instances out of the load balancer before stopping them (/readyz turns 503 while draining).",
    ],
    blame: Blame::Gateway,
    retryable: true,
};

static GATEWAY_TIMEOUT: Entry = Entry {
    slug: "gateway-timeout",
    status: StatusCode::GATEWAY_TIMEOUT,
    title: "The upstream service took too long",
    summary: "The service behind the gateway did not start its response within the route's time limit.",
    causes: &[
        "The service is overloaded or stuck on a slow dependency (database, another API).",
        "The request asks for more work than fits in the time limit.",
    ],
    visitor_fix: "Try again in a moment. If the request changes data, check whether it took effect first.",
    developer_fix: &[
        "Check the service's latency and its dependencies at the time of this request id.",
        "Raise the pool's response_timeout only if such slow answers are expected.",
    ],
    blame: Blame::Upstream,
    retryable: true,
};

static INTERNAL: Entry = Entry {
    slug: "internal",
    status: StatusCode::INTERNAL_SERVER_ERROR,
    title: "Gateway error",
    summary: "The gateway failed in a way it did not expect. This is a bug in the gateway, not in your request.",
    causes: &["A bug in Levee."],
    visitor_fix: "Try again in a moment.",
    developer_fix: &["Report it with this request id and the gateway's log lines that carry it."],
    blame: Blame::Gateway,
    retryable: true,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_unique_and_round_trip() {
        for r in Reason::ALL {
            assert_eq!(Reason::from_slug(r.slug()), Some(*r));
            let same = Reason::ALL.iter().filter(|o| o.slug() == r.slug()).count();
            assert_eq!(same, 1, "{r:?}");
        }
        assert_eq!(Reason::from_slug("nope"), None);
    }

    #[test]
    fn every_503_and_429_needs_retry_after_and_is_retryable() {
        for r in Reason::ALL {
            let s = r.status().as_u16();
            if s == 503 || s == 429 {
                assert!(r.requires_retry_after() && r.retryable(), "{r:?}");
            }
            // 408: RFC 9110 §15.5.9 lets the client repeat the request.
            if (400..500).contains(&s) && s != 429 && s != 408 {
                assert!(!r.retryable(), "{r:?}");
                assert_eq!(r.blame(), Blame::Client, "{r:?}");
            }
            assert!(!r.causes().is_empty() && !r.developer_fix().is_empty());
        }
    }
}
