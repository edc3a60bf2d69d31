//! Integration tests: the real app over HTTP on a random port, its own database per
//! test, on the backend named by `TEST_BACKEND` (scripts/test.sh runs both).

mod common;
mod deliveries;
mod delivery_coldchain;
mod delivery_console;
mod delivery_handover;
mod delivery_narcotics;
mod drugs;
mod eps;
mod eps_flow;
mod guidance;
mod guidance_console;
mod guidance_records;
mod ledger;
mod smtp;

mod audit_chain;
mod auth;
mod checks;
mod cli;
mod clinics;
mod copies;
mod http;
mod notices;
mod originals;
mod patients;
mod storage;
mod users;
