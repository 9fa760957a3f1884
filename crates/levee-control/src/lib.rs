//! levee-control (skeleton).
