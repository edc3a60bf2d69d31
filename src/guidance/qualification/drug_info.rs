//! The patient's drug information (薬剤情報) from the national services, asked only
//! inside a viewing consent's window: outside it the request is refused here,
//! audited, and never sent. The lines are kept and checked against.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::{drug_information, patients, pharmacies};
use crate::db::{write_transaction, DbConnection};
use crate::domain::eps::messages::{record_field, Operation, Request};
use crate::domain::role::Permission;
use crate::eps::gateway::Gateway;
use crate::guidance::{invalid, GuidanceError};

/// One line of the patient's national drug information.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = drug_information)]
pub struct DrugInfoLine {
    pub id: String,
    pub fetch_id: String,
    pub drug_code: String,
    pub drug_name: String,
    pub yj_code: Option<String>,
    pub dispensed_on: NaiveDate,
    pub days: i32,
    pub institution: String,
    #[schema(value_type = String, format = DateTime)]
    pub fetched_at: NaiveDateTime,
}

type Insurance = (Option<String>, Option<String>, Option<String>, NaiveDate);

/// Fetches the patient's drug information (pharmacists). Only inside a viewing
/// consent's window: outside it the request is refused here and audited. The lines
/// are stored and checked against from then on. Blocking: run off the executor.
pub fn fetch_drug_information(
    conn: &mut DbConnection,
    ctx: &Ctx,
    gateway: Option<&Gateway>,
    pharmacy_id: &str,
    patient_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<DrugInfoLine>, GuidanceError> {
    crate::authz::require::<GuidanceError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::Dispense,
        "guidance.drug_info_fetched",
        Some(("patient", patient_id)),
    )?;
    let refused =
        |conn: &mut DbConnection, why: String| -> Result<Vec<DrugInfoLine>, GuidanceError> {
            audit::record_alone(
                conn,
                ctx,
                Event::failed(Some(pharmacy_id), "guidance.drug_info_refused")
                    .subject("patient", patient_id)
                    .detail(why.clone()),
            )?;
            Err(GuidanceError::OutsideConsent(why))
        };
    let ins: Insurance = patients::table
        .find((pharmacy_id, patient_id))
        .select((
            patients::insurer_number,
            patients::insured_number,
            patients::insured_branch,
            patients::birth_date,
        ))
        .first(conn)
        .optional()?
        .ok_or(GuidanceError::NotFound)?;
    let consent = match crate::guidance::consents::usable_viewing(
        conn,
        pharmacy_id,
        patient_id,
        now.naive_utc(),
    )? {
        Ok(k) => k,
        Err(why) => return refused(conn, why),
    };
    let Some(gateway) = gateway else {
        return Err(GuidanceError::NotConfigured);
    };
    let (Some(insurer), Some(number)) = (ins.0, ins.1) else {
        return Err(invalid(
            "patient",
            "保険者番号と被保険者番号が登録されていません (insurance numbers missing)",
        ));
    };
    let code: String = pharmacies::table
        .find(pharmacy_id)
        .select(pharmacies::code)
        .first(conn)?;
    let fetch_id = uuid::Uuid::now_v7().simple().to_string();
    let req = Request {
        operation: Operation::DrugInformation,
        institution_code: code,
        file_id: format!("drg{fetch_id}"),
        body: vec![
            ("InsurerNumber".into(), insurer),
            ("InsuredNumber".into(), number),
            ("InsuredBranch".into(), ins.2.unwrap_or_default()),
            ("BirthDate".into(), ins.3.format("%Y%m%d").to_string()),
        ],
    };
    let answer = gateway
        .call(&req)
        .map_err(|e| GuidanceError::Unavailable(e.to_string()))?;
    if let Some(kind) = answer.error() {
        audit::record_alone(
            conn,
            ctx,
            Event::failed(Some(pharmacy_id), "guidance.drug_info_refused")
                .subject("patient", patient_id)
                .detail(format!("service: {} ({})", kind.message(), kind.code())),
        )?;
        return Err(GuidanceError::Refused {
            code: kind.code().into(),
            message: kind.message().into(),
        });
    }
    let at = now.naive_utc();
    write_transaction(conn, |c| -> Result<Vec<DrugInfoLine>, GuidanceError> {
        for line in &answer.records {
            let f = |k: &str| record_field(line, k).unwrap_or_default().to_string();
            let Ok(on) = NaiveDate::parse_from_str(&f("DispensedDate"), "%Y%m%d") else {
                continue;
            };
            let code = f("DrugCode");
            let yj = crate::drugs::lookup(c, &code)?
                .into_iter()
                .next()
                .map(|p| p.yj_code);
            diesel::insert_into(drug_information::table)
                .values((
                    drug_information::pharmacy_id.eq(pharmacy_id),
                    drug_information::id.eq(uuid::Uuid::now_v7().to_string()),
                    drug_information::patient_id.eq(patient_id),
                    drug_information::consent_id.eq(&consent.id),
                    drug_information::fetch_id.eq(&fetch_id),
                    drug_information::drug_code.eq(&code),
                    drug_information::drug_name.eq(f("DrugName")),
                    drug_information::yj_code.eq(yj),
                    drug_information::dispensed_on.eq(on),
                    drug_information::days.eq(f("Days").parse::<i32>().unwrap_or(1).max(1)),
                    drug_information::institution.eq(f("Institution")),
                    drug_information::fetched_at.eq(at),
                    drug_information::fetched_by.eq(&ctx.actor.name),
                ))
                .execute(c)?;
        }
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "guidance.drug_info_fetched")
                .subject("patient", patient_id)
                .detail(format!(
                    "{} line(s) under consent {}",
                    answer.records.len(),
                    consent.id
                )),
        )?;
        Ok(drug_information::table
            .filter(drug_information::pharmacy_id.eq(pharmacy_id))
            .filter(drug_information::fetch_id.eq(&fetch_id))
            .order(drug_information::dispensed_on.desc())
            .select(DrugInfoLine::as_select())
            .load(c)?)
    })
}
