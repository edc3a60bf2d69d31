//! Pure types and rules of the pharmacy's domain: no I/O, no database. Input from
//! people is parsed here into types that cannot hold invalid values.

pub mod audit;
pub mod checks;
pub mod clinic;
pub mod contact;
pub mod delivery;
pub mod dispensing;
pub mod drug_master;
pub mod eps;
pub mod fields;
pub mod guidance;
pub mod ics;
pub mod insurance;
pub mod mail;
pub mod originals;
pub mod password;
pub mod patient;
pub mod pharmacy;
pub mod prescription;
pub mod retry;
pub mod role;
pub mod rx_csv;
pub mod text;
pub mod transcription;
