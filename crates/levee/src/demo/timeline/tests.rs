//! The timeline's unit tests: a surge read as departure, incident and
//! recovery; unread samples; the numbers in words.

use std::time::Duration;

use super::render::escape;
use super::words::{count, percent};
use super::*;

fn times() -> StatusTimes {
    StatusTimes {
        raise_after: Duration::from_secs(2),
        clear_after: Duration::from_secs(3),
        window: Duration::from_secs(3),
        incident_after: Duration::from_secs(4),
    }
}

fn page(status: &str, indicator: &str, incidents: Vec<Incident>) -> Snapshot {
    Snapshot {
        components: vec![
            ("pass-through".into(), OPERATIONAL.into()),
            ("admission".into(), status.into()),
        ],
        indicator: indicator.into(),
        description: format!("{indicator} words"),
        incidents,
    }
}

fn seen(at: f64, page: Snapshot, requests: u64, shed: u64) -> Observation {
    Observation {
        at,
        demo_at: at + 30.0,
        page: Ok(page),
        answers: vec![(
            "admission".into(),
            Answers {
                requests,
                shed,
                server_errors: shed,
            },
        )],
    }
}

fn incident(status: &str) -> Incident {
    Incident {
        id: "inc_1".into(),
        name: "admission: degraded performance".into(),
        status: status.into(),
        impact: "minor".into(),
        latest: format!("it is {status}"),
    }
}

#[test]
fn a_surge_reads_as_departure_incident_and_recovery() {
    let mut t = Timeline::new(times());
    t.begin("normal day", "http://127.0.0.1:1/_levee/status/".into());
    assert!(
        t.observe(seen(1.0, page(OPERATIONAL, NONE, vec![]), 100, 0))
            .is_empty()
    );
    assert!(t.settled() && t.phases[0].stayed_operational());

    t.begin("admission", "http://127.0.0.1:1/_levee/status/".into());
    assert!(
        t.observe(seen(1.0, page(OPERATIONAL, NONE, vec![]), 200, 0))
            .is_empty()
    );
    for (i, at) in [2.0, 3.0, 4.0].into_iter().enumerate() {
        let n = 200 + 1000 * (i as u64 + 1);
        assert!(
            t.observe(seen(
                at,
                page(OPERATIONAL, NONE, vec![]),
                n,
                700 * (i as u64 + 1)
            ))
            .is_empty()
        );
    }
    let lines: Vec<String> = t
        .observe(seen(
            5.0,
            page("degraded_performance", "minor", vec![]),
            4200,
            2800,
        ))
        .iter()
        .map(Change::line)
        .collect();
    assert_eq!(
        lines,
        [
            "status page: admission operational → degraded_performance at 5.0 s \
             (the gateway shed 70 % of 3,000 answers in the last 3 s)",
            "status page: indicator none → minor at 5.0 s (“minor words”)",
        ]
    );
    assert!(!t.settled());
    let opened = t.observe(seen(
        6.0,
        page(
            "degraded_performance",
            "minor",
            vec![incident("investigating")],
        ),
        5200,
        3500,
    ));
    assert_eq!(
        opened[0].line(),
        "status page: incident “admission: degraded performance” opened, minor, investigating, \
         at 6.0 s (“it is investigating”)"
    );
    let back = t.observe(seen(
        9.0,
        page(OPERATIONAL, NONE, vec![incident(RESOLVED)]),
        5800,
        3500,
    ));
    assert_eq!(back.len(), 3, "{back:?}");
    assert_eq!(
        back[2].line(),
        "status page: incident “admission: degraded performance” investigating → resolved at 9.0 s \
         (“it is resolved”)"
    );
    assert!(t.settled());
    assert_eq!(t.departures().count(), 1);
    let p = &t.phases[1];
    assert_eq!(
        p.summary(),
        "admission: pass-through operational, admission operational → degraded_performance → operational; \
         1 incident (7 samples)"
    );

    let html = t.html();
    assert!(html.contains("<a href=\"http://127.0.0.1:1/_levee/status/\">"));
    assert!(html.contains("operational → degraded_performance"));
    assert!(html.contains("not the defaults"));
    let json = t.json();
    assert_eq!(json["changes"][0]["to"], "degraded_performance");
    assert_eq!(json["phases"][0]["components"]["admission"][0], OPERATIONAL);
}

#[test]
fn unread_samples_are_counted_not_guessed() {
    let mut t = Timeline::new(times());
    t.begin("pass-through", "u".into());
    let failed = Observation {
        at: 1.0,
        demo_at: 1.0,
        page: Err("connection refused".into()),
        answers: Vec::new(),
    };
    assert!(t.observe(failed).is_empty());
    assert!(t.settled(), "nothing read: nothing to wait for");
    assert!(!t.phases[0].stayed_operational());
    assert!(
        t.phases[0]
            .summary()
            .contains("1 unread: connection refused")
    );
}

#[test]
fn numbers_read_naturally() {
    assert_eq!(percent(0, 10), "0 %");
    assert_eq!(percent(1, 2000), "< 0.1 %");
    assert_eq!(percent(73, 1000), "7.3 %");
    assert_eq!(percent(70, 100), "70 %");
    assert_eq!(percent(999, 1000), "99 %");
    assert_eq!(percent(5, 5), "100 %");
    assert_eq!(count(1_204), "1,204");
    assert_eq!(escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
}
