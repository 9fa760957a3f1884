//! The `levee` binary.
fn main() {}
