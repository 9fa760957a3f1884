//! Integration tests of Levee over real sockets on 127.0.0.1: one test
//! binary, one module per theme.

mod support;

mod admin_cli;
mod admission;
mod balance;
mod check;
mod demo;
mod explain;
mod explain_examples;
mod false_sheds;
mod fetch;
mod grpc;
mod hardening;
mod lifecycle;
mod maintenance;
mod maintenance_page;
mod openapi;
mod outage;
mod problems;
mod request_id;
mod status_cli;
mod status_page;
mod store;
mod tenants;
mod transparency;
mod upstream_tls;
