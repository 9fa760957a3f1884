//! What a run means: summaries, time series, a side-by-side text table and a
//! self-contained HTML report with SVG charts.
//!
//! Pure functions of [`crate::load::Run`]s (and caller-supplied series); the
//! only I/O is [`Report::write`]. Nothing here drives traffic.

mod html;
mod series;
mod summary;
mod svg;
mod table;

pub use html::Report;
pub use series::{Bucket, Series};
pub use summary::{Summary, percentile};
pub use table::{COLUMNS, cells, latency, table};
