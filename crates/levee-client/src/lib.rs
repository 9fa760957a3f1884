//! levee-client (skeleton).
