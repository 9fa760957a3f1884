//! The flags of `levee fetch` and what they turn into: a retry policy, the
//! endpoints, the request, and where the body goes.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use levee_client::{Backoff, IdempotencyKeys, Jitter, RetryPolicy};
use std::io::Write;

use super::narrate::Narration;

/// Backoff jitter, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum BackoffArg {
    /// Uniform between zero and the exponential ceiling (the default).
    Full,
    /// Half the ceiling plus uniform over the other half.
    Equal,
    /// Grows from the previous delay (AWS "decorrelated jitter").
    Decorrelated,
    /// Plain exponential, no jitter (not recommended for fleets).
    None,
}

/// `levee fetch`: an HTTP request that survives the server's bad day.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct FetchArgs {
    /// The URL to fetch (http or https).
    pub(crate) url: String,
    /// The request method [default: GET, or POST with -d].
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    pub(crate) method: Option<String>,
    /// A request header, `Name: value`; repeatable.
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub(crate) headers: Vec<String>,
    /// Request body as given (form-encoded unless -H sets a Content-Type); `@file` reads a file.
    #[arg(
        short = 'd',
        long = "data",
        value_name = "DATA",
        conflicts_with = "data_binary"
    )]
    pub(crate) data: Option<String>,
    /// Request body, byte for byte; `@file` reads a file.
    #[arg(long = "data-binary", value_name = "DATA")]
    pub(crate) data_binary: Option<String>,
    /// Write the body to this file instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Print the status line and response headers before the body.
    #[arg(short = 'i', long = "include")]
    pub(crate) include: bool,
    /// No narration; on failure, one line instead of the diagnosis.
    #[arg(short = 's', long = "silent")]
    pub(crate) silent: bool,
    /// Narrate every attempt, not only retries.
    #[arg(short = 'v', long = "verbose")]
    pub(crate) verbose: bool,
    /// The most attempts, the first included.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub(crate) max_attempts: u32,
    /// The most time in all, waits included (e.g. 90s, 2m).
    #[arg(long, default_value = "2m", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) max_time: Duration,
    /// The longest single wait; a longer Retry-After gives up at once.
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) max_wait: Duration,
    /// Time allowed for each attempt's response headers.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) timeout: Duration,
    /// Backoff jitter when the server gives no Retry-After.
    #[arg(long, value_enum, default_value_t = BackoffArg::Full)]
    pub(crate) backoff: BackoffArg,
    /// Alternate base URLs (e.g. other regions), tried with the same path and query.
    #[arg(long = "fallback", value_name = "BASE_URL", num_args = 1..)]
    pub(crate) fallback: Vec<String>,
    /// `auto` adds a fresh Idempotency-Key to POST/PATCH so they can be retried; any other value is sent as the key.
    #[arg(long = "idempotency-key", value_name = "auto|KEY")]
    pub(crate) idempotency_key: Option<String>,
}

/// A positive duration in Levee's one grammar (`500ms`, `30s`, `2m`,
/// `1h30m`; see [`levee_control::config::units::parse_duration`]).
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = levee_control::config::units::parse_duration(s)?;
    if d.is_zero() {
        return Err(format!("{:?} must be more than zero", s.trim()));
    }
    Ok(d)
}

/// What the flags resolve to.
pub(crate) struct Plan {
    pub(crate) policy: RetryPolicy,
    /// The URL's own base first, then the fallbacks; empty without fallbacks.
    pub(crate) endpoints: Vec<String>,
    method: reqwest::Method,
    url: reqwest::Url,
    headers: reqwest::header::HeaderMap,
    body: Option<Vec<u8>>,
}

impl FetchArgs {
    pub(crate) fn narration(&self) -> Narration {
        if self.silent {
            Narration::Silent
        } else if self.verbose {
            Narration::Verbose
        } else {
            Narration::Retries
        }
    }

    /// Resolves the flags, reading `@file` bodies.
    pub(crate) fn plan(&self) -> anyhow::Result<Plan> {
        let url: reqwest::Url = self
            .url
            .parse()
            .with_context(|| format!("invalid URL {:?}", self.url))?;
        if !matches!(url.scheme(), "http" | "https") {
            bail!(
                "invalid URL {:?}: the scheme must be http or https",
                self.url
            );
        }
        let mut headers = reqwest::header::HeaderMap::new();
        for h in &self.headers {
            let (name, value) = h
                .split_once(':')
                .with_context(|| format!("invalid header {h:?}: expected `Name: value`"))?;
            let name: reqwest::header::HeaderName = name
                .trim()
                .parse()
                .with_context(|| format!("invalid header name in {h:?}"))?;
            let value: reqwest::header::HeaderValue = value
                .trim()
                .parse()
                .with_context(|| format!("invalid header value in {h:?}"))?;
            headers.append(name, value);
        }
        let body = match (&self.data, &self.data_binary) {
            (Some(d), _) => {
                if !headers.contains_key(reqwest::header::CONTENT_TYPE) {
                    headers.insert(
                        reqwest::header::CONTENT_TYPE,
                        reqwest::header::HeaderValue::from_static(
                            "application/x-www-form-urlencoded",
                        ),
                    );
                }
                Some(read_data(d)?)
            }
            (None, Some(d)) => Some(read_data(d)?),
            (None, None) => None,
        };
        let method = match &self.method {
            Some(m) => m
                .to_ascii_uppercase()
                .parse()
                .with_context(|| format!("invalid method {m:?}"))?,
            None if body.is_some() => reqwest::Method::POST,
            None => reqwest::Method::GET,
        };
        let mut idempotency_keys = IdempotencyKeys::Never;
        match self.idempotency_key.as_deref() {
            Some("auto") => idempotency_keys = IdempotencyKeys::Auto,
            Some(key) => {
                let value = key
                    .parse()
                    .with_context(|| format!("invalid idempotency key {key:?}"))?;
                headers.insert(levee_client::idempotency::IDEMPOTENCY_KEY, value);
            }
            None => {}
        }
        let endpoints = if self.fallback.is_empty() {
            Vec::new()
        } else {
            let own = format!("{}://{}", url.scheme(), url.authority());
            std::iter::once(own)
                .chain(self.fallback.iter().cloned())
                .collect()
        };
        let policy = RetryPolicy {
            max_attempts: self.max_attempts.max(1),
            max_time: self.max_time,
            per_try_timeout: Some(self.timeout),
            max_wait: self.max_wait,
            backoff: Backoff {
                jitter: match self.backoff {
                    BackoffArg::Full => Jitter::Full,
                    BackoffArg::Equal => Jitter::Equal,
                    BackoffArg::Decorrelated => Jitter::Decorrelated,
                    BackoffArg::None => Jitter::None,
                },
                ..Backoff::default()
            },
            idempotency_keys,
            ..RetryPolicy::default()
        };
        Ok(Plan {
            policy,
            endpoints,
            method,
            url,
            headers,
            body,
        })
    }
}

fn read_data(d: &str) -> anyhow::Result<Vec<u8>> {
    match d.strip_prefix('@') {
        Some(path) => std::fs::read(path).with_context(|| format!("cannot read {path:?}")),
        None => Ok(d.as_bytes().to_vec()),
    }
}

impl Plan {
    pub(crate) fn request(&self, client: &reqwest::Client) -> anyhow::Result<reqwest::Request> {
        let mut builder = client
            .request(self.method.clone(), self.url.clone())
            .headers(self.headers.clone());
        if let Some(body) = &self.body {
            builder = builder.body(body.clone());
        }
        builder.build().context("cannot build the request")
    }
}

/// Writes `-i` headers and the body to stdout or `-o`.
pub(crate) async fn write_response(
    args: &FetchArgs,
    mut response: reqwest::Response,
) -> anyhow::Result<()> {
    let mut head = String::new();
    if args.include {
        let status = response.status();
        head.push_str(&format!(
            "{:?} {} {}\r\n",
            response.version(),
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        ));
        for (name, value) in response.headers() {
            head.push_str(&format!(
                "{name}: {}\r\n",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        head.push_str("\r\n");
    }
    // Plain blocking writes: this is the CLI's only task, and stdout has no
    // better async story than a buffered writer.
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut write = |bytes: &[u8]| -> anyhow::Result<bool> {
        match out.write_all(bytes) {
            Ok(()) => Ok(true),
            // A closed pipe (`levee fetch … | head`) is the reader's choice, not an error.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
            Err(e) => Err(e).context("cannot write the output"),
        }
    };
    if !write(head.as_bytes())? {
        return Ok(());
    }
    while let Some(chunk) = response
        .chunk()
        .await
        .context("the response body broke off")?
    {
        if !write(&chunk)? {
            return Ok(());
        }
    }
    match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write the output")
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        let bare = parse_duration("1.5").expect_err("the file's grammar: no bare numbers");
        assert!(bare.contains("ambiguous"), "{bare}");
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3 weeks").is_err());
    }
}
