//! levee-client against real HTTP servers on loopback.

#![allow(unreachable_pub)] // test helpers are `pub` for the modules that share them

mod support;

mod failover;
mod retries;
mod safety;
