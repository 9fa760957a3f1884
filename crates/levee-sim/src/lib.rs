//! levee-sim (skeleton).
