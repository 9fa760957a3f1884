//! The status page's history as an Atom 1.0 feed (RFC 4287): one entry per
//! incident (its updates, newest first, as the content) and per scheduled
//! maintenance, newest first.
//!
//! Ids are URNs built from the page's and the entry's ids
//! (`urn:levee:status:<page>:incident:<id>`), so an entry keeps its id
//! however often it is updated and wherever the page is served; links are
//! absolute, from the page's URL, because feed readers fetch them out of
//! context. Text from the view is escaped for XML, and characters XML 1.0
//! cannot carry (most control characters) are dropped, so the feed always
//! parses. This module renders; it must not decide what the feed holds.

use std::fmt::Write as _;

use super::ids;
use super::model::{IncidentView, MaintenanceView, PageView, UpdateView};
use super::when::{self, rfc3339};

/// The most entries the feed carries.
pub const MAX_ENTRIES: usize = 50;

/// Whether XML 1.0 allows `c` in a document.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// `s` as XML text or attribute value: markup escaped, characters XML
/// cannot carry dropped.
fn xml(s: &str) -> String {
    let kept: String = s.chars().filter(|c| xml_char(*c)).collect();
    crate::html::escape(&kept)
}

fn feed_id(view: &PageView) -> String {
    format!("urn:levee:status:{}", ids::percent(&view.id))
}

/// `relative` resolved against the page's URL (its directory).
fn join(view: &PageView, relative: &str) -> String {
    if view.url.ends_with('/') {
        format!("{}{relative}", view.url)
    } else {
        format!("{}/{relative}", view.url)
    }
}

/// An entry's content: HTML (escaped again as XML text).
fn update_html(u: &UpdateView) -> String {
    format!(
        "<p><small>{}</small><br><strong>{}</strong> - {}</p>",
        when::human(u.created_at_ms),
        u.status.label(),
        crate::html::escape(&u.body)
    )
}

struct Entry {
    id: String,
    title: String,
    link: String,
    published_ms: i64,
    updated_ms: i64,
    content_html: String,
}

fn incident_entry(view: &PageView, i: &IncidentView) -> Entry {
    let mut updates: Vec<&UpdateView> = i.updates.iter().collect();
    updates.sort_by_key(|u| std::cmp::Reverse(u.created_at_ms));
    let mut content: String = updates.into_iter().map(update_html).collect();
    if content.is_empty() {
        content = format!("<p><strong>{}</strong></p>", i.status.label());
    }
    Entry {
        id: format!("{}:incident:{}", feed_id(view), ids::percent(&i.id)),
        title: i.name.clone(),
        link: format!("{}#{}", view.url, ids::percent(&i.id)),
        published_ms: i.created_at_ms,
        updated_ms: i.updated_at_ms.max(i.created_at_ms),
        content_html: content,
    }
}

fn maintenance_entry(view: &PageView, m: &MaintenanceView) -> Entry {
    let until = match m.scheduled_until_ms {
        Some(t) => when::human(t),
        None => "until further notice".into(),
    };
    Entry {
        id: format!("{}:maintenance:{}", feed_id(view), ids::percent(&m.id)),
        title: m.name.clone(),
        link: format!("{}#{}", view.url, ids::percent(&m.id)),
        published_ms: m.created_at_ms,
        updated_ms: m.updated_at_ms.max(m.created_at_ms),
        content_html: format!(
            "<p><small>{} – {}</small><br><strong>{}</strong> - {}</p>",
            when::human(m.scheduled_for_ms),
            crate::html::escape(&until),
            m.status.label(),
            crate::html::escape(&m.body)
        ),
    }
}

/// The feed.
pub fn feed_atom(view: &PageView) -> String {
    let mut entries: Vec<Entry> = view
        .incidents
        .iter()
        .map(|i| incident_entry(view, i))
        .chain(view.maintenances.iter().map(|m| maintenance_entry(view, m)))
        .collect();
    entries.sort_by_key(|e| std::cmp::Reverse(e.updated_ms));
    entries.truncate(MAX_ENTRIES);
    let updated = entries
        .iter()
        .map(|e| e.updated_ms)
        .chain([view.updated_at_ms])
        .max()
        .unwrap_or(view.updated_at_ms);
    let mut out = String::with_capacity(1024 + 512 * entries.len());
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en\">\
         <id>{id}</id><title>{name}: incident history</title><updated>{updated}</updated>\
         <author><name>{name}</name></author>\
         <link rel=\"alternate\" type=\"text/html\" href=\"{page}\"/>\
         <link rel=\"self\" type=\"application/atom+xml\" href=\"{feed}\"/>\
         <generator>Levee</generator>",
        id = xml(&feed_id(view)),
        name = xml(&view.name),
        updated = rfc3339(updated),
        page = xml(&view.url),
        feed = xml(&join(view, "history.atom")),
    );
    for e in entries {
        let _ = write!(
            out,
            "<entry><id>{id}</id><title>{title}</title><published>{published}</published>\
             <updated>{updated}</updated><link rel=\"alternate\" type=\"text/html\" href=\"{link}\"/>\
             <content type=\"html\">{content}</content></entry>",
            id = xml(&e.id),
            title = xml(&e.title),
            published = rfc3339(e.published_ms),
            updated = rfc3339(e.updated_ms),
            link = xml(&e.link),
            content = xml(&e.content_html),
        );
    }
    out.push_str("</feed>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status_site::sample;

    fn parse(xml: &str) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(xml).expect("well-formed XML")
    }

    const ATOM: &str = "http://www.w3.org/2005/Atom";

    fn child<'a>(n: roxmltree::Node<'a, 'a>, name: &str) -> Option<roxmltree::Node<'a, 'a>> {
        n.children().find(|c| c.has_tag_name((ATOM, name)))
    }

    fn text<'a>(n: roxmltree::Node<'a, 'a>, name: &str) -> &'a str {
        child(n, name).and_then(|c| c.text()).unwrap_or("")
    }

    #[test]
    fn the_feed_parses_as_atom_newest_first() {
        let body = feed_atom(&sample::rich());
        let doc = parse(&body);
        let feed = doc.root_element();
        assert!(feed.has_tag_name((ATOM, "feed")));
        assert_eq!(text(feed, "id"), "urn:levee:status:levee");
        assert_eq!(text(feed, "title"), "Example status: incident history");
        assert_eq!(text(feed, "updated"), "2026-12-05T08:00:00.000Z");
        let links: Vec<(&str, &str)> = feed
            .children()
            .filter(|c| c.has_tag_name((ATOM, "link")))
            .map(|l| {
                (
                    l.attribute("rel").unwrap_or(""),
                    l.attribute("href").unwrap_or(""),
                )
            })
            .collect();
        assert!(links.contains(&("self", "https://status.example.com/history.atom")));
        assert!(links.contains(&("alternate", "https://status.example.com/")));
        let entries: Vec<_> = feed
            .children()
            .filter(|c| c.has_tag_name((ATOM, "entry")))
            .collect();
        assert_eq!(entries.len(), 6, "three incidents, three windows");
        let updated: Vec<&str> = entries.iter().map(|e| text(*e, "updated")).collect();
        let mut sorted = updated.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(updated, sorted, "newest first");
        let open = entries
            .iter()
            .find(|e| text(**e, "id") == "urn:levee:status:levee:incident:inc_open")
            .expect("open incident");
        assert_eq!(text(*open, "title"), "Errors on <b>EU</b> & \"friends\"");
        let content = text(*open, "content");
        let newest = content.find("A pool is down").expect("newest update");
        let oldest = content
            .find("5xx from EU &lt;img")
            .expect("oldest, escaped as HTML");
        assert!(newest < oldest);
        assert_eq!(
            child(*open, "link").and_then(|l| l.attribute("href")),
            Some("https://status.example.com/#inc_open")
        );
        for e in &entries {
            for required in ["id", "title", "updated"] {
                assert!(!text(*e, required).is_empty(), "{required}");
            }
        }
    }

    #[test]
    fn ids_are_stable_urns_and_control_characters_are_dropped() {
        let mut view = sample::rich();
        view.id = "my page/ü".into();
        view.incidents[0].id = "inc 1:x".into();
        view.incidents[0].name = "nul\u{0} bell\u{7} tab\t ok\u{FFFE}".into();
        view.url = "https://status.example.com".into();
        let body = feed_atom(&view);
        let doc = parse(&body);
        let feed = doc.root_element();
        assert_eq!(text(feed, "id"), "urn:levee:status:my%20page%2F%C3%BC");
        assert!(body.contains("<id>urn:levee:status:my%20page%2F%C3%BC:incident:inc%201%3Ax</id>"));
        assert!(body.contains("<title>nul bell tab\t ok</title>"));
        assert!(body.contains("href=\"https://status.example.com/history.atom\""));
        assert_eq!(feed_atom(&view), body, "deterministic");
    }

    #[test]
    fn an_empty_page_has_a_valid_feed() {
        let body = feed_atom(&sample::empty());
        let doc = parse(&body);
        assert_eq!(
            doc.root_element()
                .children()
                .filter(|c| c.has_tag_name((ATOM, "entry")))
                .count(),
            0
        );
    }
}
