//! levee-bench (being written).
fn main() {}
