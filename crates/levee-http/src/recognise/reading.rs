//! What a response's `Retry-After` and cache headers tell the person
//! reading it: when to come back, and whether a cache may replay the error.
//!
//! Readings are facts plus one sentence each; they must not read the clock
//! (`now` is an argument) nor decide anything for the client.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use http::header::{AGE, CACHE_CONTROL, DATE, EXPIRES, RETRY_AFTER};
use serde::Serialize;

use crate::retry_after::RetryAfter;
use crate::status;

/// What `Retry-After` (RFC 9110 §10.2.3) says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RetryAfterReading {
    /// No `Retry-After`.
    Absent,
    /// delay-seconds.
    Delay {
        /// The delay.
        seconds: u64,
    },
    /// An HTTP-date, and how long that is from the response.
    Date {
        /// The value as sent.
        value: String,
        /// The wait it means.
        wait_seconds: u64,
        /// Whether the response's `Date` corrected for clock skew.
        skew_corrected: bool,
    },
    /// A value no client can use.
    Invalid {
        /// The value as sent.
        value: String,
        /// Why it is invalid.
        error: String,
    },
}

impl RetryAfterReading {
    /// Reads the headers; `now` is used only for a date without `Date`.
    pub fn read(headers: &HeaderMap, now: SystemTime) -> RetryAfterReading {
        let Some(value) = headers.get(RETRY_AFTER) else {
            return RetryAfterReading::Absent;
        };
        let server_date = headers
            .get(DATE)
            .and_then(|d| d.to_str().ok())
            .and_then(|d| httpdate::parse_http_date(d).ok());
        match RetryAfter::from_header_value(value) {
            Ok(RetryAfter::Delay(d)) => RetryAfterReading::Delay {
                seconds: d.as_secs(),
            },
            Ok(date @ RetryAfter::Date(_)) => RetryAfterReading::Date {
                value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
                wait_seconds: date.delay_from(now, server_date).as_secs(),
                skew_corrected: server_date.is_some(),
            },
            Err(e) => RetryAfterReading::Invalid {
                value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
                error: e.to_string(),
            },
        }
    }

    /// One sentence for a person, or `None` when there is nothing to say
    /// (no header, and a status that does not call for one).
    pub fn says(&self, status: u16) -> Option<String> {
        Some(match self {
            RetryAfterReading::Absent if matches!(status, 503 | 429) => format!(
                "No Retry-After: the server did not say when to come back (a {status} should). Back off exponentially with jitter (about 1 s, 2 s, 4 s …)."
            ),
            RetryAfterReading::Absent => return None,
            RetryAfterReading::Delay { seconds: 0 } => {
                "Retry-After: 0 means 'now': clients that obey all at once make a retry storm; wait at least a second, with jitter.".into()
            }
            RetryAfterReading::Delay { seconds } => format!(
                "Retry-After: {seconds} — wait {} before sending the request again.",
                human(*seconds)
            ),
            RetryAfterReading::Date {
                value,
                wait_seconds,
                skew_corrected,
            } => format!(
                "Retry-After: {value} — wait {} ({}).",
                human(*wait_seconds),
                if *skew_corrected {
                    "counted from the response's Date, so this machine's clock does not matter"
                } else {
                    "counted on this machine's clock: the response has no Date header"
                }
            ),
            RetryAfterReading::Invalid { error, .. } => format!(
                "{error}: clients will ignore it and back off on their own."
            ),
        })
    }
}

/// `90 s (1 min 30 s)`.
fn human(secs: u64) -> String {
    let d = Duration::from_secs(secs);
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 if secs.is_multiple_of(60) => format!("{secs} s ({} min)", secs / 60),
        60..3600 => format!("{secs} s ({} min {} s)", secs / 60, secs % 60),
        _ => format!("{secs} s (about {:.1} h)", d.as_secs_f64() / 3600.0),
    }
}

/// What the cache headers (RFC 9111) say about reusing this answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheReading {
    /// `Cache-Control`, as sent.
    pub cache_control: Option<String>,
    /// `Expires`, as sent.
    pub expires: Option<String>,
    /// `Age`, as sent: the answer came from a cache.
    pub age: Option<String>,
    /// What that means, for a person.
    pub says: String,
}

impl CacheReading {
    /// Reads the headers of an answer with `status`.
    pub fn read(headers: &HeaderMap, status: u16) -> CacheReading {
        let get = |name| {
            let values: Vec<String> = headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
                .collect();
            (!values.is_empty()).then(|| values.join(", "))
        };
        let cache_control = get(CACHE_CONTROL);
        let expires = get(EXPIRES);
        let age = get(AGE);
        let error = status >= 400;
        let mut says = match &cache_control {
            Some(cc) => read_cache_control(cc, status, error),
            None if expires.is_some() => {
                format!("No Cache-Control, but Expires: caches may keep this {status} until then.")
            }
            None if status::lookup(status).is_some_and(|s| s.heuristically_cacheable) => format!(
                "No Cache-Control: a {status} is heuristically cacheable (RFC 9110 §15.1), so caches may keep it for a while; say what you mean with Cache-Control."
            ),
            None => format!(
                "No Cache-Control: a {status} is not cacheable by default, so shared caches will not reuse it{}.",
                if status == 503 {
                    " (send no-store to make that explicit, as the 503 contract asks)"
                } else {
                    ""
                }
            ),
        };
        if let Some(age) = &age {
            says.push_str(&format!(
                " Age: {age} — this copy came from a cache, {age} s old."
            ));
        }
        CacheReading {
            cache_control,
            expires,
            age,
            says,
        }
    }
}

fn read_cache_control(cc: &str, status: u16, error: bool) -> String {
    let directives: Vec<(String, Option<String>)> = cc
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| match d.split_once('=') {
            Some((k, v)) => (
                k.trim().to_ascii_lowercase(),
                Some(v.trim().trim_matches('"').to_owned()),
            ),
            None => (d.to_ascii_lowercase(), None),
        })
        .collect();
    let has = |name: &str| directives.iter().any(|(k, _)| k == name);
    let secs = |name: &str| {
        directives
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_deref()?.parse::<u64>().ok())
    };
    if has("no-store") {
        return format!("Cache-Control: {cc} — no cache keeps this answer.");
    }
    let lifetime = secs("s-maxage").or_else(|| secs("max-age"));
    let mut s = format!("Cache-Control: {cc} — ");
    match lifetime {
        Some(n) if n > 0 => {
            s.push_str(&format!(
                "{} may replay this {status} for up to {}",
                if has("private") {
                    "the browser's cache"
                } else {
                    "caches"
                },
                human(n)
            ));
            if error {
                s.push_str(", even after the problem is fixed");
                if status == 503 {
                    s.push_str("; a 503 should be no-store");
                }
            }
            s.push('.');
        }
        _ if has("no-cache") || lifetime == Some(0) => {
            s.push_str("caches must check with the server before reusing it.")
        }
        _ if has("private") => s.push_str("only the browser's own cache may keep it."),
        _ => s.push_str("no freshness lifetime given."),
    }
    s
}
