use super::uptime::{day_class, day_title, percent, thousands};
use super::*;
use crate::status_site::model::DayUptime;
use crate::status_site::sample::{self, NOW};

fn day(requests: u64, ok: u64, maintenance_minutes: u32, outage_minutes: u32) -> DayUptime {
    DayUptime {
        day_start_ms: NOW - NOW.rem_euclid(DAY_MS) - DAY_MS,
        requests,
        ok,
        maintenance_minutes,
        outage_minutes,
    }
}

#[test]
fn the_page_is_complete_self_contained_and_accessible() {
    let html = page_html(&sample::rich());
    assert!(html.starts_with("<!doctype html><html lang=\"en\">"));
    assert!(html.ends_with("</html>"));
    for needle in [
        "<meta name=\"viewport\"",
        "prefers-color-scheme:dark",
        ":focus-visible",
        "<main id=\"main\"",
        "<header>",
        "<footer",
        "<nav aria-label=\"Feeds\">",
        "<link rel=\"alternate\" type=\"application/atom+xml\"",
        "href=\"history.atom\"",
        "href=\"api/v2/summary.json\"",
        "<a class=\"skip\" href=\"#main\">",
    ] {
        assert!(html.contains(needle), "{needle}");
    }
    for banned in [
        "<script",
        "<img",
        "<iframe",
        "src=\"",
        "@import",
        "@font-face",
        "url(",
        "href=\"/",
        "href=\"http",
    ] {
        assert!(!html.contains(banned), "{banned}");
    }
}

#[test]
fn headings_go_down_one_level_at_a_time() {
    let html = page_html(&sample::rich());
    let mut last = 1;
    let mut seen_h1 = 0;
    for (i, _) in html.match_indices("<h") {
        let Some(level) = html[i + 2..].chars().next().and_then(|c| c.to_digit(10)) else {
            continue;
        };
        if level == 1 {
            seen_h1 += 1;
        }
        assert!(level <= last + 1, "h{level} after h{last} at {i}");
        last = level;
    }
    assert_eq!(seen_h1, 1);
}

#[test]
fn hostile_names_are_escaped() {
    let html = page_html(&sample::rich());
    assert!(html.contains("Website &lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("Errors on &lt;b&gt;EU&lt;/b&gt; &amp; &quot;friends&quot;"));
    assert!(html.contains("5xx from EU &lt;img src=x onerror=alert(1)&gt;"));
    assert!(html.contains("New &lt;em&gt;theme&lt;/em&gt;."));
    let mut view = sample::rich();
    view.name = "\"><script>alert(1)</script>".into();
    let html = page_html(&view);
    assert!(!html.contains("<script>"));
    assert!(html.contains("&quot;&gt;&lt;script&gt;"));
}

#[test]
fn it_shows_the_banner_incidents_maintenance_components_and_history() {
    let html = page_html(&sample::rich());
    assert!(html.contains("class=\"banner i-major\""));
    assert!(html.contains("<strong>Partial System Outage</strong>"));
    let open = html.find("id=\"open-h\"").expect("open incidents");
    let maint = html.find("id=\"maint-h\"").expect("maintenance");
    let comps = html.find("id=\"comp-h\"").expect("components");
    let hist = html.find("id=\"hist-h\"").expect("history");
    assert!(open < maint && maint < comps && comps < hist);
    // The open incident, its updates newest first, anchored for shortlinks.
    let open_section = &html[open..maint];
    assert!(open_section.contains("<article id=\"inc_open\">"));
    let identified = open_section.find("A pool is down").expect("newest");
    let investigating = open_section.find("5xx from EU").expect("oldest");
    assert!(identified < investigating);
    assert!(open_section.contains("Major impact"));
    assert!(open_section.contains("Affects: EU"));
    // Maintenance: in progress before upcoming; open-ended said in words.
    let maint_section = &html[maint..comps];
    let now = maint_section.find("win_now").expect("in progress");
    let next = maint_section.find("win_next").expect("upcoming");
    assert!(now < next);
    assert!(maint_section.contains("until further notice"));
    assert!(!maint_section.contains("win_done"));
    // History: resolved incidents and completed maintenance within 90
    // days, grouped by day, newest day first.
    let hist_section = &html[hist..];
    let done = hist_section.find("inc_done").expect("resolved incident");
    let vacuum = hist_section.find("win_done").expect("completed window");
    assert!(done < vacuum);
    assert!(hist_section.contains("<time datetime=\"2026-12-03\">3 December 2026</time>"));
    assert!(!html.contains("inc_ancient"), "older than 90 days");
}

#[test]
fn components_are_grouped_with_status_words_and_uptime_in_text() {
    let html = page_html(&sample::rich());
    let comps = &html[html.find("id=\"comp-h\"").expect("components")..];
    let regions = comps.find(">Regions</h3>").expect("group heading");
    let eu = comps.find("<h4>EU</h4>").expect("member");
    let us = comps.find("<h4>US</h4>").expect("member");
    assert!(regions < eu && eu < us);
    assert!(comps.contains("Partial outage</span>"));
    assert!(comps.contains("Under maintenance</span>"));
    assert!(comps.contains("Operational</span>"));
    assert_eq!(comps.matches("<ol class=\"bars\"").count(), 4);
    assert_eq!(comps.matches("<li class=u").count(), 4 * 90);
    assert!(comps.contains("% of requests answered over 90 days"));
    assert!(comps.contains("aria-label=\"Daily availability of API, last 90 days\""));
}

#[test]
fn bars_are_coloured_by_availability_and_titled() {
    assert_eq!(day_class(&day(0, 0, 0, 0)), "u0");
    assert_eq!(day_class(&day(100_000, 99_950, 0, 0)), "u1");
    assert_eq!(day_class(&day(100_000, 99_900, 0, 0)), "u1");
    assert_eq!(day_class(&day(100_000, 99_899, 0, 0)), "u2");
    assert_eq!(day_class(&day(100_000, 99_000, 0, 0)), "u2");
    assert_eq!(day_class(&day(100_000, 95_000, 0, 0)), "u3");
    assert_eq!(day_class(&day(100_000, 94_999, 0, 0)), "u4");
    assert_eq!(day_class(&day(0, 0, 120, 0)), "u5");
    assert_eq!(day_class(&day(1_000, 1_000, 30, 0)), "u5");
    assert_eq!(day_class(&day(0, 0, 0, 1_440)), "u4");
    assert_eq!(
        day_class(&day(10, 20, 0, 0)),
        "u1",
        "ok above requests is clamped"
    );
    assert_eq!(
        day_title(&day(12_345, 12_339, 0, 0)),
        "2026-12-04: 99.95 % of 12,345 requests answered, 0 min maintenance"
    );
    assert_eq!(
        day_title(&day(0, 0, 0, 90)),
        "2026-12-04: no requests recorded, 0 min maintenance, 90 min outage"
    );
    assert_eq!(percent(99_999, 100_000), "99.99", "never rounded up to 100");
    assert_eq!(percent(5, 5), "100");
    assert_eq!(percent(u64::MAX, u64::MAX), "100");
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(1_234_567), "1,234,567");
    assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
}

#[test]
fn five_components_stay_under_60_kb() {
    let mut view = sample::rich();
    let extra = view.components[0].clone();
    view.components.push(extra);
    assert_eq!(view.components.len(), 5);
    let html = page_html(&view);
    assert!(html.len() < 60 * 1024, "{} bytes", html.len());
}

#[test]
fn an_empty_page_says_so() {
    let html = page_html(&sample::empty());
    assert!(html.contains("All Systems Operational"));
    assert!(html.contains("No incidents or maintenance in the last 90 days."));
    assert!(!html.contains("id=\"comp-h\""));
}
