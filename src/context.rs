//! Who is acting and from where: passed to every service function so it can check
//! permissions and write its audit rows in the same transaction.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::role::{Permission, Role};

/// A user's role in one pharmacy.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Membership {
    pub pharmacy_id: String,
    pub pharmacy_code: String,
    pub pharmacy_name: String,
    pub role: Role,
}

/// The person or process performing an action.
#[derive(Debug, Clone)]
pub struct Actor {
    /// `None` for the command-line operator and anonymous requests.
    pub user_id: Option<String>,
    /// Login name, `cli:<os user>` for the operator, or `anonymous`.
    pub name: String,
    pub memberships: Vec<Membership>,
    /// The operator at the server's command line may act in any pharmacy.
    pub operator: bool,
}

/// Refusal by the permission table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// The actor has no role in that pharmacy.
    NotMember,
    /// The actor's role there does not allow it.
    RoleLacksPermission(Role),
}

impl Actor {
    /// A signed-in staff member.
    pub fn staff(user_id: String, name: String, memberships: Vec<Membership>) -> Actor {
        Actor {
            user_id: Some(user_id),
            name,
            memberships,
            operator: false,
        }
    }

    /// Someone not signed in (sign-in attempts).
    pub fn anonymous() -> Actor {
        Actor {
            user_id: None,
            name: "anonymous".into(),
            memberships: Vec::new(),
            operator: false,
        }
    }

    /// The administrator running `pharmacy ...` commands on the server.
    pub fn operator() -> Actor {
        let who = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        Actor {
            user_id: None,
            name: format!("cli:{who}"),
            memberships: Vec::new(),
            operator: true,
        }
    }

    /// The actor's role in `pharmacy_id`, if any.
    pub fn role_in(&self, pharmacy_id: &str) -> Option<Role> {
        self.memberships
            .iter()
            .find(|m| m.pharmacy_id == pharmacy_id)
            .map(|m| m.role)
    }

    /// Checks `permission` in `pharmacy_id`.
    pub fn require(&self, pharmacy_id: &str, permission: Permission) -> Result<(), Denied> {
        if self.operator {
            return Ok(());
        }
        match self.role_in(pharmacy_id) {
            None => Err(Denied::NotMember),
            Some(role) if role.allows(permission) => Ok(()),
            Some(role) => Err(Denied::RoleLacksPermission(role)),
        }
    }
}

/// A stored UTC time as Japan time (for messages to staff).
pub fn jst(utc: chrono::NaiveDateTime) -> DateTime<chrono_tz::Tz> {
    utc.and_utc().with_timezone(&chrono_tz::Asia::Tokyo)
}

/// One request's (or command's) context.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub actor: Actor,
    pub client_addr: String,
    pub request_id: Option<String>,
    pub now: DateTime<Utc>,
}

impl Ctx {
    /// Today's date in Japan (the business date of a Japanese pharmacy).
    pub fn today(&self) -> chrono::NaiveDate {
        self.now.with_timezone(&chrono_tz::Asia::Tokyo).date_naive()
    }

    /// Context for the service's own background work (e.g. `system:worker`).
    pub fn system(name: &str, now: DateTime<Utc>) -> Ctx {
        Ctx {
            actor: Actor {
                user_id: None,
                name: format!("system:{name}"),
                memberships: Vec::new(),
                operator: true,
            },
            client_addr: "internal".into(),
            request_id: None,
            now,
        }
    }

    /// Context for a command-line action.
    pub fn operator(now: DateTime<Utc>) -> Ctx {
        Ctx {
            actor: Actor::operator(),
            client_addr: "cli".into(),
            request_id: None,
            now,
        }
    }
}
