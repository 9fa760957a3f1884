//! levee-sim's integration tests: real sockets on 127.0.0.1:0, one binary.

mod load;
mod upstream;
