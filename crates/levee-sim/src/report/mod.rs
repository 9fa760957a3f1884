//! What a run means: summaries, tallies of a run below capacity, time
//! series, side-by-side text tables and a self-contained HTML report with SVG
//! charts.
//!
//! Pure functions of [`crate::load::Run`]s (and caller-supplied series); the
//! only I/O is [`Report::write`]. Nothing here drives traffic.

mod html;
mod series;
mod summary;
mod svg;
mod table;
mod tally;

pub use html::Report;
pub use series::{Bucket, Series};
pub use summary::{Summary, percentile};
pub use table::{COLUMNS, TALLY_COLUMNS, cells, latency, table, tally_cells, tally_table};
pub use tally::Tally;
