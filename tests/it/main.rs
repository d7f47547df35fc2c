//! almanac's integration tests, in one binary: real HTTP between almanac and in-process
//! upstreams, a real SQLite file per test, recorded payloads from `../shared/fixtures`.

mod admin;
mod anomalies;
mod backfill;
mod cache_keys;
mod calendar;
mod cli;
mod conformance;
mod connections;
mod deploy;
mod docs;
mod fixtures;
mod forecasts;
mod frames;
mod fuzz;
mod gaps;
mod http;
mod import;
mod init;
mod killed;
mod layout;
mod locks;
mod openapi;
mod outage;
mod processing;
mod providers;
mod query;
mod ranges;
mod redis;
mod rotate;
mod schedule;
mod seed_contract;
mod sources;
mod store_conformance;
mod support;
mod upstream;
