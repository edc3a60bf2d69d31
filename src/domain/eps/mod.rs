//! The national services (EPS via the OQS terminal): messages, codes, XML.

pub mod intake;
pub mod messages;
pub mod xml;
