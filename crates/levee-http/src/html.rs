//! The one HTML layout Levee's pages share, and HTML escaping.
//!
//! Error pages, problem-type pages and status-code pages are small
//! self-contained documents: inline CSS, no script, no
//! external assets, readable in light and dark mode. This module must not
//! know what a page says, only how pages look.

/// Escapes text for use in HTML element content and quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
:root{color-scheme:light dark;--fg:#1d2433;--muted:#5b6478;--bg:#f6f7fb;--card:#fff;--accent:#2f6feb}\
@media (prefers-color-scheme:dark){:root{--fg:#e6e9f2;--muted:#9aa3b8;--bg:#10131a;--card:#181c25;--accent:#6ea0ff}}\
*{box-sizing:border-box}body{margin:0;font:16px/1.55 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;\
color:var(--fg);background:var(--bg);display:flex;min-height:100vh;align-items:center;justify-content:center}\
main{max-width:44rem;margin:2rem;padding:2.5rem 2.75rem;background:var(--card);border-radius:14px;\
box-shadow:0 1px 3px rgba(0,0,0,.08),0 8px 32px rgba(0,0,0,.06)}\
.status{font:600 .85rem/1 ui-monospace,monospace;letter-spacing:.08em;color:var(--accent);margin:0 0 .75rem}\
h1{font-size:1.75rem;line-height:1.2;margin:0 0 1rem}h2{font-size:1.1rem;margin:1.75rem 0 .5rem}\
.lead{font-size:1.1rem}p,li{color:var(--fg)}dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem;\
margin:1.5rem 0 0;padding:1rem 1.25rem;border-radius:10px;background:var(--bg)}dt{color:var(--muted)}dd{margin:0}\
code{font:.9em ui-monospace,monospace}a{color:var(--accent)}.more{margin-top:1.5rem;color:var(--muted)}\
footer{margin-top:2rem;color:var(--muted);font-size:.85rem}.muted{color:var(--muted)}\
.note{padding:.6rem 1rem;border-left:3px solid var(--accent);background:var(--bg);border-radius:6px}\
details{margin:.4rem 0}summary{cursor:pointer}pre{margin:.5rem 0 1rem;padding:1rem;overflow:auto;\
border-radius:10px;background:var(--bg);font:.82rem/1.45 ui-monospace,monospace}";

/// A complete HTML document with the shared layout around `body_html`
/// (which must already be escaped).
pub fn page(title: &str, body_html: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{}</title><style>{STYLE}</style></head>\
         <body><main>{body_html}<footer>Levee gateway</footer></main></body></html>",
        escape(title)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(
            super::escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
