//! What each scenario's table means, in a few sentences with its medians
//! filled in: the comparison the table is for, and the mechanism behind
//! each gateway's figures (which is configuration, not measurement, and so
//! holds whatever the numbers).
//!
//! Formatting only, like `section.rs`.

use super::gateways::Gateway;
use super::scenarios::Scenario;
use super::section::{Cell, format, medians};

const LEVEE: Gateway = Gateway::Levee { checks: true };
const LEVEE_PROBE: Gateway = Gateway::Levee { checks: false };
const HAPROXY: Gateway = Gateway::Haproxy;
const NGINX: Gateway = Gateway::Nginx;

/// The paragraph under `scenario`'s table ("Reading: …").
pub(crate) fn reading(cells: &[Cell], scenario: Scenario) -> String {
    // The median of column `i` for `gateway`, formatted; `-` if it did not run.
    let f = |gateway: Gateway, i: usize| -> String {
        let unit = scenario.columns()[i].unit;
        match medians(cells, scenario, gateway) {
            Some(values) => format(unit, values.get(i).copied().flatten()),
            None => "-".to_owned(),
        }
    };
    match scenario {
        Scenario::Restart => format!(
            "Reading: after the return, the first 2xx came {} after it through Levee ({} without \
             `health_check`), {} through HAProxy and {} through nginx. Levee and HAProxy find a returning \
             endpoint by a check or probe every second, so their figure lies between 0 and about 1 s with \
             the check's phase, and until then they still refuse requests (Levee's errors outside the \
             outage: {}, with the requests in flight at the kill); nginx never marks a lone server down \
             and tries every request on it, so it serves the moment the upstream listens, and answers every \
             request of the outage with an error instead ({} here, `502`, without `Retry-After`). During \
             the outage Levee answered {} requests `503` with `Retry-After` ({}–{}: the time to its \
             breaker's next probe, which doubles, not to its next check or probe, which finds a returning \
             endpoint within about a second: in the last second of the outage it said {}) and {} otherwise. HAProxy answered {} otherwise (`503` without `Retry-After`) and let \
             {} time out: until `fall 2` checks mark the server down (about 2 s) it holds each request \
             through retries 1 s apart, past the client's deadline.\n",
            f(LEVEE, 0),
            f(LEVEE_PROBE, 0),
            f(HAPROXY, 0),
            f(NGINX, 0),
            f(LEVEE, 5),
            f(NGINX, 3),
            f(LEVEE, 2),
            f(LEVEE, 6),
            f(LEVEE, 7),
            f(LEVEE, 8),
            f(LEVEE, 3),
            f(HAPROXY, 3),
            f(HAPROXY, 4),
        ),
        Scenario::OneOfTwo => format!(
            "Reading: client-visible errors were {} through Levee ({} of them requests in flight when the \
             endpoint crashed), {} through HAProxy ({}) and {} through nginx ({}); goodput kept during the \
             outage: {}, {}, {}. A GET whose upstream connection closed before the response goes to \
             the other server through Levee (since f72984f) and nginx (`proxy_next_upstream error`); \
             HAProxy answers it `502`. A refused connection is retried on the other endpoint by all \
             three.\n",
            f(LEVEE, 0),
            f(LEVEE, 1),
            f(HAPROXY, 0),
            f(HAPROXY, 1),
            f(NGINX, 0),
            f(NGINX, 1),
            f(LEVEE, 3),
            f(HAPROXY, 3),
            f(NGINX, 3),
        ),
        Scenario::Alternate => format!(
            "Reading: from 2 s after the kill Levee served {}, HAProxy {}, nginx {}; every request was 2xx \
             from {} after the kill through Levee, {} through HAProxy, {} through nginx. Levee and nginx move \
             a request the primary refuses to the alternate at once; HAProxy uses its `backup` only once \
             `fall 2` checks have marked the primary down (about 2 s), and until then holds requests \
             through retries 1 s apart (client timeouts). Of Levee's {} errors, {} were requests in flight at the \
             kill (`502`, not moved). Back on the primary after the return: Levee {}, HAProxy {}, nginx {} \
             (nginx tries a failed server again only after `fail_timeout`).\n",
            f(LEVEE, 0),
            f(HAPROXY, 0),
            f(NGINX, 0),
            f(LEVEE, 1),
            f(HAPROXY, 1),
            f(NGINX, 1),
            f(LEVEE, 2),
            f(LEVEE, 3),
            f(LEVEE, 4),
            f(HAPROXY, 4),
            f(NGINX, 4),
        ),
        Scenario::Flap => format!(
            "Reading: of the requests sent while the endpoint was up, Levee served {}, HAProxy {}, nginx {}. \
             nginx, which never marks a lone server down, uses every up period whole and answers the down \
             periods with errors ({}); Levee answers them fast with `503` and `Retry-After` ({}) but, like \
             HAProxy, sees the endpoint back only at its next check, losing up to a second of each 2 s up \
             period; HAProxy also let {} requests time out.\n",
            f(LEVEE, 1),
            f(HAPROXY, 1),
            f(NGINX, 1),
            f(NGINX, 3),
            f(LEVEE, 2),
            f(HAPROXY, 4),
        ),
        Scenario::FlapOneOfTwo => format!(
            "Reading: 2xx/s was {} through Levee, {} through HAProxy, {} through nginx; the errors were \
             Levee {} ({} of them in flight at a kill), HAProxy {} ({}), nginx {} (it retries a GET whose \
             connection broke on the other server).\n",
            f(LEVEE, 0),
            f(HAPROXY, 0),
            f(NGINX, 0),
            f(LEVEE, 1),
            f(LEVEE, 2),
            f(HAPROXY, 1),
            f(HAPROXY, 2),
            f(NGINX, 1),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(scenario: Scenario, gateway: Gateway, figures: Vec<Option<f64>>) -> Cell {
        Cell {
            scenario,
            gateway,
            figures,
            lag_p99_ms: 0.3,
            saturated: 0,
        }
    }

    #[test]
    fn the_reading_fills_in_the_medians_and_dashes_for_what_did_not_run() {
        let cells = vec![
            cell(
                Scenario::OneOfTwo,
                LEVEE,
                vec![
                    Some(3.0),
                    Some(3.0),
                    Some(0.0),
                    Some(1.0),
                    Some(1.25),
                    Some(0.0),
                ],
            ),
            cell(
                Scenario::OneOfTwo,
                NGINX,
                vec![
                    Some(0.0),
                    Some(0.0),
                    Some(0.0),
                    Some(1.0),
                    Some(9.0),
                    Some(0.0),
                ],
            ),
        ];
        let text = reading(&cells, Scenario::OneOfTwo);
        assert!(text.starts_with(
            "Reading: client-visible errors were 3 through Levee (3 of them requests in flight"
        ));
        assert!(
            text.contains("- through HAProxy (-) and 0 through nginx (0)"),
            "{text}"
        );
        assert!(text.contains("outage: 100.0 %, -, 100.0 %."), "{text}");
    }
}
