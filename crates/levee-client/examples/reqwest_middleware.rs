//! Placeholder so the workspace manifest parses; the client helper replaces it.
fn main() {}
