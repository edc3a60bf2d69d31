//! The national services (EPS via the OQS terminal): messages, codes, XML.

pub mod messages;
pub mod xml;
