//! Staff roles per pharmacy and what each may do. A user can hold a different role
//! in each pharmacy of a chain; permissions are always checked against the pharmacy
//! that owns the record.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A staff member's role in one pharmacy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// 管理者: settings, staff accounts, audit trail.
    Admin,
    /// 薬剤師
    Pharmacist,
    /// 事務
    Clerk,
    /// 配送担当: sees only assigned deliveries, never prescriptions or patient records.
    Courier,
}

/// Something a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    ReadPatients,
    WritePatients,
    ManageUsers,
    ReadAudit,
    /// Send a failed or dead notice again (a pharmacist's decision).
    ResendNotices,
    /// Pharmacy settings and test notices.
    ManagePharmacy,
    /// Clinical work: enter prescriptions, resolve check findings, dispense.
    Dispense,
}

impl Role {
    /// Every role, in display order.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Pharmacist, Role::Clerk, Role::Courier];

    /// Parses the stored/API value.
    pub fn parse(input: &str) -> Result<Role, String> {
        match input.trim() {
            "admin" => Ok(Role::Admin),
            "pharmacist" => Ok(Role::Pharmacist),
            "clerk" => Ok(Role::Clerk),
            "courier" => Ok(Role::Courier),
            other => Err(format!(
                "unknown role `{other}` (admin, pharmacist, clerk, courier)"
            )),
        }
    }

    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Pharmacist => "pharmacist",
            Role::Clerk => "clerk",
            Role::Courier => "courier",
        }
    }

    /// Japanese label.
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "管理者",
            Role::Pharmacist => "薬剤師",
            Role::Clerk => "事務",
            Role::Courier => "配送担当",
        }
    }

    /// Whether accounts holding this role must use a second factor.
    pub fn requires_second_factor(self) -> bool {
        matches!(self, Role::Admin | Role::Pharmacist)
    }

    /// The permission table.
    pub fn allows(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Pharmacist => {
                matches!(p, ReadPatients | WritePatients | ResendNotices | Dispense)
            }
            Role::Clerk => matches!(p, ReadPatients | WritePatients),
            Role::Courier => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn couriers_never_see_patients_and_only_admins_manage() {
        assert!(!Role::Courier.allows(Permission::ReadPatients));
        assert!(Role::Clerk.allows(Permission::WritePatients));
        assert!(!Role::Pharmacist.allows(Permission::ManageUsers));
        assert!(!Role::Clerk.allows(Permission::ReadAudit));
        assert!(Role::Admin.allows(Permission::ReadAudit));
        assert!(Role::Pharmacist.allows(Permission::ResendNotices));
        assert!(!Role::Clerk.allows(Permission::ResendNotices));
        assert!(!Role::Pharmacist.allows(Permission::ManagePharmacy));
        assert!(Role::Pharmacist.allows(Permission::Dispense));
        assert!(!Role::Clerk.allows(Permission::Dispense));
    }

    #[test]
    fn second_factor_is_required_for_admins_and_pharmacists() {
        assert!(Role::Admin.requires_second_factor());
        assert!(Role::Pharmacist.requires_second_factor());
        assert!(!Role::Clerk.requires_second_factor());
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
        }
    }
}
