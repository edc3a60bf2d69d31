//! Home delivery (DOMAIN.md §7 and §8), pure rules: the cold chain (excursions,
//! gaps, MKT), the controlled-drug ledger (balance and hash chain), and which
//! delivery method the contents allow and the states a delivery passes through.

pub mod chart;
pub mod coldchain;
pub mod ledger;
pub mod logger_csv;
pub mod rules;
