//! levee-policy (skeleton).
