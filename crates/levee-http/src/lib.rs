//! levee-http (skeleton).
