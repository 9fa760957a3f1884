//! `[status]` → [`StatusConfig`]: the status page's components, thresholds,
//! listeners and webhooks, cross-checked against the routes and pools.
//!
//! This module must not evaluate a component's status or render anything.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use levee_proxy::pool::PoolSpec;
use levee_proxy::route::RouteSpec;

use crate::config::error::Collector;
use crate::config::file::FileConfig;
use levee_policy::status::Thresholds;

use crate::config::units::parse_duration;

/// The status page, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusConfig {
    /// Whether there is a status page at all.
    pub enabled: bool,
    /// The page's name.
    pub name: String,
    /// Its public URL, when configured.
    pub url: Option<String>,
    /// Served at `/_levee/status/` on the traffic listeners.
    pub on_traffic_listener: bool,
    /// Its own listener.
    pub listen: Option<SocketAddr>,
    /// `Cache-Control: max-age` of its documents.
    pub max_age: Duration,
    /// How long history is kept.
    pub history: Duration,
    /// Open an incident after this long out of `operational` (`None`: never).
    pub incident_after: Option<Duration>,
    /// How a component's status is decided: the window, the shares, the
    /// hysteresis (validated by the policy that uses them).
    pub thresholds: Thresholds,
    /// The components, in page order.
    pub components: Vec<ComponentSpec>,
    /// Webhook subscribers.
    pub webhooks: Vec<WebhookSpec>,
}

impl Default for StatusConfig {
    fn default() -> StatusConfig {
        StatusConfig {
            enabled: true,
            name: "Status".to_owned(),
            url: None,
            on_traffic_listener: true,
            listen: None,
            max_age: Duration::from_secs(10),
            history: Duration::from_secs(90 * 86_400),
            incident_after: Some(Duration::from_secs(120)),
            thresholds: Thresholds::default(),
            components: Vec::new(),
            webhooks: Vec::new(),
        }
    }
}

/// One component, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentSpec {
    /// Stable id: the name, lower case, runs of other characters as `-`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Its group.
    pub group: Option<String>,
    /// The routes whose answers it reflects (those of its pools included).
    pub routes: Vec<String>,
    /// The pools whose endpoints' health it reflects.
    pub pools: Vec<String>,
    /// A response head later than this makes a request slow.
    pub slow_after: Option<Duration>,
}

/// One webhook subscriber, resolved.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSpec {
    /// Where payloads are POSTed.
    pub url: http::Uri,
    /// The HMAC-SHA256 signing secret, if any.
    pub secret: Option<String>,
}

impl std::fmt::Debug for WebhookSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSpec")
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "…"))
            .finish()
    }
}

/// A component id from its name: lower case ASCII letters and digits, runs
/// of anything else as one `-`.
pub fn component_id(name: &str) -> String {
    let mut id = String::with_capacity(name.len());
    for ch in name.chars() {
        if ch.is_ascii_alphanumeric() {
            id.push(ch.to_ascii_lowercase());
        } else if !id.ends_with('-') {
            id.push('-');
        }
    }
    let id = id.trim_matches('-').to_owned();
    if id.is_empty() {
        "component".to_owned()
    } else {
        id
    }
}

/// Resolves `[status]` (`routes` and `pools` already resolved).
pub(super) fn status(
    file: &FileConfig,
    routes: &[RouteSpec],
    pools: &[PoolSpec],
    base_dir: &Path,
    c: &mut Collector<'_>,
) -> StatusConfig {
    let s = &file.status;
    let d = StatusConfig::default();
    let url = s.url.as_ref().map(|u| {
        let v = u.get_ref().trim().to_owned();
        let ok = v
            .parse::<http::Uri>()
            .is_ok_and(|uri| matches!(uri.scheme_str(), Some("http" | "https")) && uri.authority().is_some());
        if !ok || v.contains(['<', '>', '"', ' ']) {
            c.at(
                Some(u.span()),
                format!("invalid status url `{v}`: expected an absolute http(s) URL such as \"https://status.example.com/\""),
            );
        }
        v
    });
    let listen = s.listen.as_ref().and_then(|l| {
        l.get_ref()
            .parse::<SocketAddr>()
            .map_err(|_| {
                c.at(
                    Some(l.span()),
                    format!("invalid status listen address `{}`: expected ip:port such as \"0.0.0.0:8081\"", l.get_ref()),
                );
            })
            .ok()
    });
    let incident_after = match &s.incident_after {
        None => d.incident_after,
        Some(v) if v.get_ref().trim() == "off" => None,
        Some(v) => match parse_duration(v.get_ref()) {
            Ok(t) if t <= Duration::from_secs(86_400) => Some(t),
            Ok(_) => {
                c.at(
                    Some(v.span()),
                    "incident_after is out of range: expected a duration up to 1d, or \"off\"",
                );
                d.incident_after
            }
            Err(e) => {
                c.at(
                    Some(v.span()),
                    format!("invalid incident_after: {e}, or \"off\""),
                );
                d.incident_after
            }
        },
    };
    let t = d.thresholds;
    let thresholds = Thresholds {
        window: s.window.map_or(t.window, |v| v.0),
        min_requests: s.min_requests.unwrap_or(t.min_requests),
        degraded_share: s.degraded_share.unwrap_or(t.degraded_share),
        partial_share: s.partial_share.unwrap_or(t.partial_share),
        major_share: s.major_share.unwrap_or(t.major_share),
        raise_after: s.raise_after.map_or(t.raise_after, |v| v.0),
        clear_after: s.clear_after.map_or(t.clear_after, |v| v.0),
    };
    if thresholds.partial_share > thresholds.major_share {
        c.at(
            None,
            format!(
                "status.partial_share ({}) must not be above status.major_share ({})",
                thresholds.partial_share, thresholds.major_share
            ),
        );
    } else if let Err(e) = thresholds.validate() {
        c.at(None, format!("[status]: {e}"));
    }
    let mut components = Vec::new();
    if s.components.is_empty() {
        // One per route; its pools' health counts through the route (not
        // the other routes sharing those pools).
        for r in routes {
            components.push(ComponentSpec {
                id: component_id(&r.name),
                name: r.name.clone(),
                description: String::new(),
                group: None,
                routes: vec![r.name.clone()],
                pools: Vec::new(),
                slow_after: None,
            });
        }
    }
    for comp in &s.components {
        let name = comp.name.get_ref().trim().to_owned();
        if name.is_empty() {
            c.at(Some(comp.name.span()), "a component needs a name");
            continue;
        }
        let id = component_id(&name);
        if components.iter().any(|x: &ComponentSpec| x.id == id) {
            c.at(
                Some(comp.name.span()),
                format!("component `{name}` has the same id (`{id}`) as another: give it a distinct name"),
            );
            continue;
        }
        for r in &comp.routes {
            if !routes.iter().any(|x| x.name == *r.get_ref()) {
                c.at(
                    Some(r.span()),
                    format!(
                        "component `{name}` names the route `{}`, which is not defined",
                        r.get_ref()
                    ),
                );
            }
        }
        for p in &comp.pools {
            if !pools.iter().any(|x| x.name == *p.get_ref()) {
                c.at(
                    Some(p.span()),
                    format!(
                        "component `{name}` names the pool `{}`, which is not defined",
                        p.get_ref()
                    ),
                );
            }
        }
        if comp.routes.is_empty() && comp.pools.is_empty() {
            c.at(
                Some(comp.name.span()),
                format!("component `{name}` covers nothing: give it `routes = [...]` and/or `pools = [...]`"),
            );
        }
        components.push(ComponentSpec {
            id,
            name,
            description: comp.description.clone().unwrap_or_default(),
            group: comp.group.clone().filter(|g| !g.trim().is_empty()),
            routes: comp.routes.iter().map(|r| r.get_ref().clone()).collect(),
            pools: comp.pools.iter().map(|p| p.get_ref().clone()).collect(),
            slow_after: comp.slow_after.map(|d| d.0),
        });
    }
    let webhooks = s
        .webhooks
        .iter()
        .filter_map(|w| {
            let uri = match w.url.get_ref().parse::<http::Uri>() {
                Ok(u)
                    if matches!(u.scheme_str(), Some("http" | "https"))
                        && u.authority().is_some() =>
                {
                    u
                }
                _ => {
                    c.at(
                        Some(w.url.span()),
                        format!(
                            "invalid webhook url `{}`: expected an absolute http(s) URL",
                            w.url.get_ref()
                        ),
                    );
                    return None;
                }
            };
            let secret = match (&w.secret_file, &w.secret_env) {
                (Some(_), Some(e)) => {
                    c.at(
                        Some(e.span()),
                        "a webhook takes secret_file or secret_env, not both",
                    );
                    None
                }
                (Some(f), None) => match std::fs::read_to_string(base_dir.join(f.get_ref())) {
                    Ok(t) if !t.trim().is_empty() => Some(t.trim().to_owned()),
                    Ok(_) => {
                        c.at(
                            Some(f.span()),
                            format!("the webhook secret file `{}` is empty", f.get_ref()),
                        );
                        None
                    }
                    Err(e) => {
                        c.at(
                            Some(f.span()),
                            format!("cannot read the webhook secret file `{}`: {e}", f.get_ref()),
                        );
                        None
                    }
                },
                (None, Some(e)) => match std::env::var(e.get_ref()) {
                    Ok(v) if !v.trim().is_empty() => Some(v.trim().to_owned()),
                    _ => {
                        c.at(
                            Some(e.span()),
                            format!(
                                "the environment variable `{}` (webhook secret) is not set",
                                e.get_ref()
                            ),
                        );
                        None
                    }
                },
                (None, None) => None,
            };
            Some(WebhookSpec { url: uri, secret })
        })
        .collect();
    StatusConfig {
        enabled: s.enabled.unwrap_or(d.enabled),
        name: s
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or(d.name),
        url,
        on_traffic_listener: s.on_traffic_listener.unwrap_or(d.on_traffic_listener),
        listen,
        max_age: s.max_age.map_or(d.max_age, |v| v.0),
        history: s.history.map_or(d.history, |v| v.0),
        incident_after,
        thresholds,
        components,
        webhooks,
    }
}

#[cfg(test)]
mod tests {
    use super::component_id;

    #[test]
    fn ids_are_slugs_of_names() {
        assert_eq!(component_id("Public API (EU)"), "public-api-eu");
        assert_eq!(component_id("***"), "component");
        assert_eq!(component_id("api"), "api");
    }
}
