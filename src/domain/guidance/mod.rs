//! Online medication guidance (オンライン服薬指導, DOMAIN.md §4 and §6): pharmacists'
//! availability and slots, the online-qualification consent window that follows the
//! booking, reminder times, signed patient links, how a session is held, the
//! guidance record, and the first-visit review rule.

pub mod availability;
pub mod conduct;
pub mod consent;
pub mod first_visit;
pub mod link;
pub mod record;
pub mod reminders;
