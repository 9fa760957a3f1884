//! levee-proxy (skeleton).
