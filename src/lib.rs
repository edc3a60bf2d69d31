//! pharmacy: prescription intake, dispensing checks, online medication guidance
//! (オンライン服薬指導) and home delivery for Japanese pharmacies.
//!
//! Layout: `domain` holds pure rules; `db` the storage over SQLite/PostgreSQL;
//! `audit`, `auth`, `patients`, `pharmacies`, `users` the use cases (service
//! functions taking a connection, a context and input); `web` and `routes` the
//! HTTP side; `cli` the command line.

pub mod audit;
pub mod auth;
pub mod authz;
pub mod bench;
pub mod bench_api;
pub mod bench_eps;
pub mod bench_readings;
pub mod cli;
pub mod clinics;
pub mod clock;
pub mod config;
pub mod context;
pub mod copies;
pub mod db;
pub mod deliveries;
pub mod demo;
pub mod domain;
pub mod drugs;
pub mod eps;
pub mod error;
pub mod guidance;
pub mod housekeeping;
pub mod jobs;
pub mod ledger;
pub mod medications;
pub mod notices;
pub mod patients;
pub mod pharmacies;
pub mod prescriptions;
pub mod routes;
pub mod tasks;
pub mod users;
pub mod web;
