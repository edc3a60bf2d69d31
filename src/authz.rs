//! Permission checks against the pharmacy of the record, with refusals audited.

use crate::audit::{self, Event};
use crate::context::{Ctx, Denied};
use crate::db::DbConnection;
use crate::domain::role::Permission;

/// Checks that the actor may do `permission` in `pharmacy_id`. A refusal is
/// recorded as `action` (outcome denied) in its own transaction: in the pharmacy's
/// chain when the actor belongs to it, else in the system chain (the id came from
/// a URL and may not even exist). Optionally names the subject.
pub fn require<E>(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    permission: Permission,
    action: &str,
    subject: Option<(&str, &str)>,
) -> Result<(), E>
where
    E: From<Denied> + From<diesel::result::Error>,
{
    let Err(denied) = ctx.actor.require(pharmacy_id, permission) else {
        return Ok(());
    };
    let chain = ctx.actor.role_in(pharmacy_id).map(|_| pharmacy_id);
    let mut event = Event::denied(chain, action).detail(format!("pharmacy={pharmacy_id}"));
    if let Some((kind, id)) = subject {
        event = event.subject(kind, id);
    }
    audit::record_alone(conn, ctx, event)?;
    Err(E::from(denied))
}
