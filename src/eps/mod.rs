//! The national services (電子処方箋管理サービス) through the OQS terminal's file drop.

pub mod gateway;
pub mod sim;
