//! The operator's live directives: maintenance windows and drained endpoints.
//!
//! The control plane publishes a [`ControlState`] through a [`ControlHandle`]
//! whenever a window or a drain is created, changed or removed (through the
//! admin API or a config reload); the data path reads it once per request,
//! lock-free. Whether a window is in force is decided here, from the clock
//! the caller passes, so a window starts and ends on time with no event, no
//! request and no reload needed: the time in the state is the truth.
//!
//! This module decides *whether* a request is covered by a window and
//! whether an endpoint is drained. It must not build responses (see
//! [`crate::rescue`]) or store anything (the control plane does).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;
use http::uri::Authority;
use http::{HeaderMap, HeaderName};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::cidr::Cidr;

/// What a window covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every route.
    All,
    /// The route with this name.
    Route(Arc<str>),
    /// Every route forwarding to the pool with this name.
    Pool(Arc<str>),
}

/// Who goes through a window untouched.
#[derive(Debug, Clone)]
pub struct Bypass {
    /// The header carrying the bypass token.
    pub header: HeaderName,
    /// SHA-256 of the token; `None`: no token bypasses.
    pub token_sha256: Option<[u8; 32]>,
    /// Clients in these networks bypass.
    pub networks: Vec<Cidr>,
}

impl Bypass {
    /// The default header, `x-levee-bypass`.
    pub const DEFAULT_HEADER: &'static str = "x-levee-bypass";

    /// Whether a request from `client` with `headers` bypasses. The token is
    /// compared as a SHA-256 digest in constant time, so timing says nothing
    /// about how much of a guess was right.
    pub fn admits(&self, headers: &HeaderMap, client: IpAddr) -> bool {
        if self.networks.iter().any(|n| n.contains(client)) {
            return true;
        }
        let Some(expected) = &self.token_sha256 else {
            return false;
        };
        headers.get_all(&self.header).iter().any(|v| {
            let got: [u8; 32] = Sha256::digest(v.as_bytes()).into();
            bool::from(got.ct_eq(expected))
        })
    }
}

/// A maintenance window, as the data path needs it.
#[derive(Debug, Clone)]
pub struct Window {
    /// `w_…` (API) or `config:…` (config file).
    pub id: Arc<str>,
    /// What it covers.
    pub scope: Scope,
    /// When it starts.
    pub starts_at: SystemTime,
    /// When it ends; `None`: open-ended.
    pub ends_at: Option<SystemTime>,
    /// The operator's message for clients.
    pub message: Arc<str>,
    /// Who goes through.
    pub bypass: Bypass,
}

impl Window {
    /// Whether the window is in force at `now` (start inclusive, end exclusive).
    pub fn is_active(&self, now: SystemTime) -> bool {
        self.starts_at <= now && self.ends_at.is_none_or(|end| now < end)
    }

    /// Whether the window covers a request to `route`, which forwards to `pool`.
    pub fn covers(&self, route: &str, pool: &str) -> bool {
        match &self.scope {
            Scope::All => true,
            Scope::Route(r) => &**r == route,
            Scope::Pool(p) => &**p == pool,
        }
    }
}

/// The directives in force: published as a whole, never edited in place.
#[derive(Debug, Clone, Default)]
pub struct ControlState {
    /// Maintenance windows (scheduled, active, and recently ended ones).
    pub windows: Vec<Arc<Window>>,
    /// Endpoints taken out of rotation in every pool that has them.
    pub drained: Vec<Authority>,
}

impl ControlState {
    /// The window that refuses this request, if any: among the active
    /// windows covering it that the request does not bypass, the one that
    /// ends last (an open-ended one counts as last), since the service is not
    /// back before that one ends.
    pub fn blocking_window(
        &self,
        route: &str,
        pool: &str,
        headers: &HeaderMap,
        client: IpAddr,
        now: SystemTime,
    ) -> Option<&Arc<Window>> {
        self.windows
            .iter()
            .filter(|w| w.is_active(now) && w.covers(route, pool))
            .filter(|w| !w.bypass.admits(headers, client))
            .max_by_key(|w| w.ends_at.map_or((1, SystemTime::UNIX_EPOCH), |e| (0, e)))
    }

    /// Whether `endpoint` is drained.
    pub fn is_drained(&self, endpoint: &Authority) -> bool {
        self.drained.iter().any(|d| d == endpoint)
    }
}

/// Where the current [`ControlState`] is published, and the status page
/// beside it; cheap to clone and read.
#[derive(Debug, Clone, Default)]
pub struct ControlHandle {
    state: Arc<ArcSwap<ControlState>>,
    site: crate::status::SiteHandle,
}

impl ControlHandle {
    /// A handle with no windows, no drains and no status page.
    pub fn new() -> ControlHandle {
        ControlHandle::default()
    }

    /// The current state.
    pub fn load(&self) -> arc_swap::Guard<Arc<ControlState>> {
        self.state.load()
    }

    /// Replaces the state.
    pub fn publish(&self, state: ControlState) {
        self.state.store(Arc::new(state));
    }

    /// Where the status page's documents are published.
    pub fn site(&self) -> &crate::status::SiteHandle {
        &self.site
    }
}

/// SHA-256 of a secret token (a bypass token, as [`Bypass::token_sha256`]
/// holds it, or an admin token).
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The shortest secret token accepted (bypass and admin tokens), in characters.
pub const MIN_TOKEN_LEN: usize = 16;
/// The longest secret token accepted, in characters.
pub const MAX_TOKEN_LEN: usize = 256;

/// Checks the shape of a secret token: 16 to 256 visible ASCII characters.
/// The error says what was expected.
pub fn check_token(token: &str) -> Result<(), String> {
    let len = token.chars().count();
    if len < MIN_TOKEN_LEN {
        return Err(format!(
            "the token is too short: expected at least {MIN_TOKEN_LEN} characters"
        ));
    }
    if len > MAX_TOKEN_LEN {
        return Err(format!(
            "the token is too long: expected at most {MAX_TOKEN_LEN} characters"
        ));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the token must be visible ASCII characters, without spaces".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn window(id: &str, scope: Scope, start: u64, end: Option<u64>) -> Arc<Window> {
        let t = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        Arc::new(Window {
            id: id.into(),
            scope,
            starts_at: t(start),
            ends_at: end.map(t),
            message: "".into(),
            bypass: Bypass {
                header: HeaderName::from_static("x-levee-bypass"),
                token_sha256: Some(token_digest("let-me-in-please")),
                networks: vec![Cidr::parse("10.0.0.0/8").expect("cidr")],
            },
        })
    }

    fn at(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(s)
    }

    const OUTSIDE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    #[test]
    fn a_window_is_in_force_from_start_until_just_before_end() {
        let w = window("w", Scope::All, 100, Some(200));
        assert!(!w.is_active(at(99)));
        assert!(w.is_active(at(100)));
        assert!(w.is_active(at(199)));
        assert!(!w.is_active(at(200)));
        assert!(window("open", Scope::All, 100, None).is_active(at(1_000_000)));
    }

    #[test]
    fn scope_picks_the_route_or_the_pool() {
        let state = ControlState {
            windows: vec![
                window("r", Scope::Route("api".into()), 0, Some(10)),
                window("p", Scope::Pool("db".into()), 0, Some(10)),
            ],
            drained: vec![],
        };
        let h = HeaderMap::new();
        let hit = |route, pool| {
            state
                .blocking_window(route, pool, &h, OUTSIDE, at(5))
                .map(|w| w.id.to_string())
        };
        assert_eq!(hit("api", "web").as_deref(), Some("r"));
        assert_eq!(hit("admin", "db").as_deref(), Some("p"));
        assert_eq!(hit("admin", "web"), None);
    }

    #[test]
    fn the_window_ending_last_answers_and_open_ended_is_last() {
        let mut state = ControlState {
            windows: vec![
                window("short", Scope::All, 0, Some(10)),
                window("long", Scope::All, 0, Some(50)),
            ],
            drained: vec![],
        };
        let h = HeaderMap::new();
        let id = |s: &ControlState| {
            s.blocking_window("a", "b", &h, OUTSIDE, at(5))
                .map(|w| w.id.to_string())
        };
        assert_eq!(id(&state).as_deref(), Some("long"));
        state.windows.push(window("open", Scope::All, 0, None));
        assert_eq!(id(&state).as_deref(), Some("open"));
    }

    #[test]
    fn bypass_by_token_or_network_and_nothing_else() {
        let state = ControlState {
            windows: vec![window("w", Scope::All, 0, None)],
            drained: vec![],
        };
        let mut good = HeaderMap::new();
        good.insert("x-levee-bypass", "let-me-in-please".parse().expect("value"));
        let mut bad = HeaderMap::new();
        bad.insert("x-levee-bypass", "let-me-in-pleas".parse().expect("value"));
        let inside: IpAddr = "10.1.2.3".parse().expect("ip");
        let blocked = |h: &HeaderMap, ip| state.blocking_window("a", "b", h, ip, at(1)).is_some();
        assert!(!blocked(&good, OUTSIDE));
        assert!(blocked(&bad, OUTSIDE));
        assert!(blocked(&HeaderMap::new(), OUTSIDE));
        assert!(!blocked(&HeaderMap::new(), inside));
    }

    #[test]
    fn a_request_must_bypass_every_window_that_covers_it() {
        let mut other = (*window("w2", Scope::All, 0, Some(20))).clone();
        other.bypass.token_sha256 = Some(token_digest("another-token-entirely"));
        other.bypass.networks.clear();
        let state = ControlState {
            windows: vec![window("w1", Scope::All, 0, Some(10)), Arc::new(other)],
            drained: vec![],
        };
        let mut h = HeaderMap::new();
        h.insert("x-levee-bypass", "let-me-in-please".parse().expect("value"));
        let w = state.blocking_window("a", "b", &h, OUTSIDE, at(5));
        assert_eq!(w.map(|w| &*w.id), Some("w2"));
    }
}
