//! The overdue sweep (run by the server every few minutes, by `pharmacy worker`,
//! and by `pharmacy originals sweep`): for every original not received N days after
//! dispensing from its copy, a staff task (urgent after the escalation date), and
//! one request per clinic per day through the notices outbox listing the
//! patients' initials and issue dates. The primary key of `original_requests`
//! makes a second request to a clinic on the same day impossible.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use super::CopyError;
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::{clinics, copy_prescriptions, original_requests, patients, prescriptions};
use crate::db::{write_transaction, DbConnection};
use crate::domain::originals::{initials, overdue, OriginalPolicy, OriginalState, Overdue};
use crate::notices::templates::{original_request, OriginalRequestRow};
use crate::notices::{self, OutboxConfig, RecipientRef};
use crate::tasks::{self, NewTask};

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub overdue: usize,
    pub escalated: usize,
    pub tasks_created: usize,
    pub requests: usize,
}

struct Late {
    rx_id: String,
    clinic_id: Option<String>,
    issue_date: NaiveDate,
    kana: String,
    due_on: NaiveDate,
    escalate_on: NaiveDate,
    last_requested_on: Option<NaiveDate>,
    level: Overdue,
}

/// Sweeps every pharmacy once.
pub fn sweep(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    outbox: &OutboxConfig,
    policy: &OriginalPolicy,
) -> Result<SweepReport, CopyError> {
    let ctx = Ctx::system("originals-sweep", now);
    let today = ctx.today();
    let pharmacies: Vec<String> = copy_prescriptions::table
        .filter(copy_prescriptions::original_state.eq("awaiting"))
        .filter(copy_prescriptions::due_on.lt(today))
        .select(copy_prescriptions::pharmacy_id)
        .distinct()
        .load(conn)?;
    let mut total = SweepReport::default();
    for pid in pharmacies {
        let r = write_transaction(conn, |c| sweep_pharmacy(c, &ctx, outbox, policy, &pid))?;
        total.overdue += r.overdue;
        total.escalated += r.escalated;
        total.tasks_created += r.tasks_created;
        total.requests += r.requests;
    }
    Ok(total)
}

fn sweep_pharmacy(
    c: &mut DbConnection,
    ctx: &Ctx,
    outbox: &OutboxConfig,
    policy: &OriginalPolicy,
    pharmacy_id: &str,
) -> Result<SweepReport, CopyError> {
    let today = ctx.today();
    let now = ctx.now.naive_utc();
    type Row = (
        String,
        Option<String>,
        NaiveDate,
        String,
        Option<NaiveDate>,
        Option<NaiveDate>,
        Option<NaiveDate>,
    );
    let rows: Vec<Row> = copy_prescriptions::table
        .inner_join(
            prescriptions::table.on(prescriptions::pharmacy_id
                .eq(copy_prescriptions::pharmacy_id)
                .and(prescriptions::id.eq(copy_prescriptions::prescription_id))),
        )
        .inner_join(
            patients::table.on(patients::pharmacy_id
                .eq(prescriptions::pharmacy_id)
                .and(patients::id.eq(prescriptions::patient_id))),
        )
        .filter(copy_prescriptions::pharmacy_id.eq(pharmacy_id))
        .filter(copy_prescriptions::original_state.eq("awaiting"))
        .filter(copy_prescriptions::due_on.lt(today))
        .select((
            copy_prescriptions::prescription_id,
            copy_prescriptions::clinic_id,
            prescriptions::issue_date,
            patients::name_kana,
            copy_prescriptions::due_on,
            copy_prescriptions::escalate_on,
            copy_prescriptions::last_requested_on,
        ))
        .load(c)?;
    let late: Vec<Late> = rows
        .into_iter()
        .filter_map(|r| {
            let (due_on, escalate_on) = (r.4?, r.5?);
            Some(Late {
                level: overdue(
                    OriginalState::Awaiting,
                    Some(due_on),
                    Some(escalate_on),
                    today,
                ),
                rx_id: r.0,
                clinic_id: r.1,
                issue_date: r.2,
                kana: r.3,
                due_on,
                escalate_on,
                last_requested_on: r.6,
            })
        })
        .collect();
    let mut report = SweepReport {
        overdue: late.len(),
        escalated: late
            .iter()
            .filter(|l| l.level == Overdue::Escalated)
            .count(),
        ..SweepReport::default()
    };
    let mut events = Vec::new();
    for l in &late {
        let urgent = l.level == Overdue::Escalated;
        let created = tasks::ensure(
            c,
            pharmacy_id,
            &NewTask {
                kind: tasks::ORIGINAL_OVERDUE,
                subject_type: "prescription",
                subject_id: &l.rx_id,
                title: format!(
                    "{}処方箋原本が未着です（{} 様・交付日 {}・期限 {}）",
                    if urgent { "【至急】" } else { "" },
                    initials(&l.kana),
                    l.issue_date,
                    l.due_on
                ),
                urgent,
                due_on: Some(l.due_on),
            },
            now,
        )?;
        if created {
            report.tasks_created += 1;
            events.push(
                Event::ok(Some(pharmacy_id), "original.overdue")
                    .subject("prescription", &l.rx_id)
                    .detail(format!("due {}", l.due_on)),
            );
        }
    }
    // One request per clinic per day, for the prescriptions it should be asked about.
    let mut by_clinic: std::collections::BTreeMap<String, Vec<&Late>> = Default::default();
    for l in &late {
        if let Some(cid) = &l.clinic_id {
            if policy.should_request(l.due_on, l.escalate_on, l.last_requested_on, today) {
                by_clinic.entry(cid.clone()).or_default().push(l);
            }
        }
    }
    let letterhead = notices::letterhead(c, pharmacy_id)?;
    for (clinic_id, list) in by_clinic {
        let already: i64 = original_requests::table
            .find((pharmacy_id, &clinic_id, today))
            .count()
            .get_result(c)?;
        if already > 0 {
            continue;
        }
        let clinic_name: String = clinics::table
            .find((pharmacy_id, &clinic_id))
            .select(clinics::name)
            .first(c)?;
        let rows: Vec<OriginalRequestRow> = list
            .iter()
            .map(|l| OriginalRequestRow {
                initials: initials(&l.kana),
                issue_date: l.issue_date.to_string(),
            })
            .collect();
        let rendered = original_request(&letterhead, &clinic_name, &rows)
            .map_err(|e| CopyError::Storage(e.to_string()))?;
        let notice = notices::enqueue(
            c,
            ctx,
            outbox,
            pharmacy_id,
            RecipientRef::Clinic(clinic_id.clone()),
            rendered,
            &[],
        )
        .map_err(|e| match e {
            notices::NoticeError::Db(d) => CopyError::Db(d),
            other => CopyError::Storage(other.to_string()),
        })?;
        let ids: Vec<&str> = list.iter().map(|l| l.rx_id.as_str()).collect();
        diesel::insert_into(original_requests::table)
            .values((
                original_requests::pharmacy_id.eq(pharmacy_id),
                original_requests::clinic_id.eq(&clinic_id),
                original_requests::request_date.eq(today),
                original_requests::notification_id.eq(&notice.id),
                original_requests::prescriptions.eq(ids.join("\n")),
                original_requests::created_at.eq(now),
            ))
            .execute(c)?;
        diesel::update(
            copy_prescriptions::table
                .filter(copy_prescriptions::pharmacy_id.eq(pharmacy_id))
                .filter(copy_prescriptions::prescription_id.eq_any(&ids)),
        )
        .set(copy_prescriptions::last_requested_on.eq(Some(today)))
        .execute(c)?;
        report.requests += 1;
        events.push(
            Event::ok(Some(pharmacy_id), "original.requested")
                .subject("clinic", &clinic_id)
                .detail(format!(
                    "notice {}; prescriptions: {}",
                    notice.id,
                    ids.join(",")
                )),
        );
    }
    if !events.is_empty() {
        audit::record_many(c, ctx, events)?;
    }
    Ok(report)
}
