//! Reports.
mod series;
mod summary;
mod table;
pub use series::{Bucket, Series};
pub use summary::{Summary, percentile};
pub use table::{COLUMNS, cells, latency, table};
