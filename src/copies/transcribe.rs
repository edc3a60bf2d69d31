//! Transcription: a pharmacist turns a copy into a prescription (typed beside the
//! copy, or filled from its 2D symbol). The prescription records its source, the
//! clinic, the 「オンライン対応」 mark, what the copy said (for the later comparison
//! with the original), its 使用期限 and whether its handover waits for the original
//! (麻薬, or a product whose narcotic flag is unknown: fail closed). It then goes
//! through the same checks and dispensing as any prescription.

use diesel::prelude::*;

use super::{load_row, CopyError};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::{
    clinics, copy_prescriptions, patients, prescription_copies, prescriptions,
};
use crate::db::{write_transaction, DbConnection};
use crate::domain::checks::CurrencyPolicy;
use crate::domain::drug_master::Flag;
use crate::domain::eps::intake::patient_from_payload;
use crate::domain::originals::{RxFields, RxItemFields};
use crate::domain::role::Permission;
use crate::domain::transcription::{TranscriptionDraft, TranscriptionInput};
use crate::drugs::clinical::RULES;
use crate::prescriptions::{self as rx, Prescription};

/// A new prescription from a copy, with warnings for staff.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Transcribed {
    pub prescription: Prescription,
    /// E.g. no 「オンライン対応」 in 備考.
    pub warnings: Vec<String>,
}

/// Whether handover must wait for the original, and why (in words).
fn narcotic_reason(
    c: &mut DbConnection,
    draft: &TranscriptionDraft,
) -> QueryResult<Option<String>> {
    let mut reasons = Vec::new();
    if draft.symbol.as_ref().is_some_and(|d| d.narcotic.is_some()) {
        reasons.push("麻薬施用者の記載あり".to_string());
    }
    for it in &draft.items {
        match crate::drugs::lookup(c, &it.drug_code)?.into_iter().next() {
            Some(p) if p.narcotic == Flag::Yes => reasons.push(format!("麻薬 {}", p.name)),
            Some(p) if p.narcotic == Flag::Unknown => {
                reasons.push(format!("麻薬区分不明 {}", p.name))
            }
            Some(_) => {}
            None => reasons.push(format!("マスター未収載 {}", it.drug_code)),
        }
    }
    Ok((!reasons.is_empty()).then(|| reasons.join("、")))
}

/// What the copy said, for the comparison with the original: the symbol's fields
/// when it had one, else the form and the chosen patient's record.
fn copy_fields(
    c: &mut DbConnection,
    pharmacy_id: &str,
    patient_id: &str,
    draft: &TranscriptionDraft,
) -> QueryResult<RxFields> {
    if let Some(data) = &draft.symbol {
        return Ok(RxFields::from_rx(data));
    }
    type PatientFields = (
        String,
        chrono::NaiveDate,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let (name, birth, insurer, symbol, number): PatientFields = patients::table
        .find((pharmacy_id, patient_id))
        .select((
            patients::name_kanji,
            patients::birth_date,
            patients::insurer_number,
            patients::insured_symbol,
            patients::insured_number,
        ))
        .first(c)?;
    let mut items = Vec::with_capacity(draft.items.len());
    for it in &draft.items {
        let name = crate::drugs::lookup(c, &it.drug_code)?
            .into_iter()
            .next()
            .map(|p| p.name)
            .unwrap_or_default();
        items.push(RxItemFields {
            rp: it.rp,
            drug_code: it.drug_code.clone(),
            drug_name: name,
            dose: it.dose.clone(),
            usage: it.usage.clone(),
            days: it.days,
        });
    }
    Ok(RxFields {
        patient_name: name,
        patient_birth_date: birth.to_string(),
        insurer_number: insurer.unwrap_or_default(),
        insured_symbol: symbol.unwrap_or_default(),
        insured_number: number.unwrap_or_default(),
        institution_code: draft.institution_code.clone(),
        institution_name: draft.institution_name.clone(),
        prescriber_name: draft.prescriber_name.clone(),
        issue_date: draft.issue_date.to_string(),
        remarks: draft.remarks.clone(),
        items,
    })
}

/// Makes a prescription from a copy (pharmacists). The copy must be in the inbox
/// (`new`) or already transcribed (a copy may hold several prescriptions).
pub fn transcribe(
    conn: &mut DbConnection,
    ctx: &Ctx,
    pharmacy_id: &str,
    copy_id: &str,
    input: &TranscriptionInput,
    policy: &CurrencyPolicy,
) -> Result<Transcribed, CopyError> {
    crate::authz::require::<CopyError>(
        conn,
        ctx,
        pharmacy_id,
        Permission::Dispense,
        "copy.transcribed",
        Some(("copy", copy_id)),
    )?;
    let draft = input.parse(ctx.today()).map_err(CopyError::Invalid)?;
    let quick = match (&draft.patient_id, &draft.symbol) {
        (None, Some(data)) => Some(
            patient_from_payload(data)
                .parse(ctx.today())
                .map_err(CopyError::Invalid)?,
        ),
        _ => None,
    };
    let now = ctx.now.naive_utc();
    let rx_id = uuid::Uuid::now_v7().to_string();
    let mut warnings = Vec::new();
    if !draft.online_marked {
        warnings.push(
            "備考に「オンライン対応」の記載がありません。医療機関に確認してください (no online-care mark)"
                .to_string(),
        );
    }
    write_transaction(conn, |c| {
        let copy = load_row(c, pharmacy_id, copy_id)?;
        if !matches!(copy.status.as_str(), "new" | "transcribed") {
            return Err(CopyError::WrongState(format!(
                "写しの状態が {} です。先に振り分けてください",
                copy.status
            )));
        }
        let clinic_id = draft.clinic_id.clone().or(copy.clinic_id.clone());
        if let Some(cid) = &clinic_id {
            let n: i64 = clinics::table
                .find((pharmacy_id, cid))
                .count()
                .get_result(c)?;
            if n == 0 {
                return Err(CopyError::invalid("clinic_id", "医療機関が見つかりません"));
            }
        }
        let mut registered = None;
        let patient_id = match (&draft.patient_id, &draft.symbol, &quick) {
            (Some(p), _, _) => {
                let n: i64 = patients::table
                    .find((pharmacy_id, p))
                    .count()
                    .get_result(c)?;
                if n == 0 {
                    return Err(CopyError::invalid(
                        "patient_id",
                        "この薬局の患者ではありません (not a patient of this pharmacy)",
                    ));
                }
                p.clone()
            }
            (None, Some(data), Some(q)) => {
                match crate::eps::intake::match_patient(c, pharmacy_id, data)? {
                    Some(p) => p,
                    None => {
                        let id = crate::patients::insert_draft_unaudited(c, ctx, pharmacy_id, q)?;
                        registered = Some(id.clone());
                        id
                    }
                }
            }
            _ => return Err(CopyError::invalid("patient_id", "患者を選択してください")),
        };
        let narcotic = narcotic_reason(c, &draft)?;
        let fields = copy_fields(c, pharmacy_id, &patient_id, &draft)?;
        diesel::insert_into(prescriptions::table)
            .values((
                prescriptions::pharmacy_id.eq(pharmacy_id),
                prescriptions::id.eq(&rx_id),
                prescriptions::patient_id.eq(&patient_id),
                prescriptions::source.eq(if copy.channel == "email" {
                    "email_copy"
                } else {
                    "fax_copy"
                }),
                prescriptions::institution_name.eq(&draft.institution_name),
                prescriptions::prescriber_name.eq(&draft.prescriber_name),
                prescriptions::issue_date.eq(draft.issue_date),
                prescriptions::status.eq("checked"),
                prescriptions::rules_version.eq(RULES.version),
                prescriptions::checked_at.eq(now),
                prescriptions::version.eq(1),
                prescriptions::created_by.eq(&ctx.actor.name),
                prescriptions::created_at.eq(now),
                prescriptions::updated_at.eq(now),
            ))
            .execute(c)?;
        let names: Vec<String> = fields.items.iter().map(|i| i.drug_name.clone()).collect();
        let result = rx::store_named_items_and_check(
            c,
            ctx,
            pharmacy_id,
            &rx_id,
            &patient_id,
            &draft.items,
            &names,
            policy,
        )?;
        diesel::insert_into(copy_prescriptions::table)
            .values((
                copy_prescriptions::pharmacy_id.eq(pharmacy_id),
                copy_prescriptions::prescription_id.eq(&rx_id),
                copy_prescriptions::copy_id.eq(copy_id),
                copy_prescriptions::clinic_id.eq(&clinic_id),
                copy_prescriptions::online_marked.eq(draft.online_marked),
                copy_prescriptions::narcotic.eq(narcotic.is_some()),
                copy_prescriptions::narcotic_reason.eq(narcotic.clone().unwrap_or_default()),
                copy_prescriptions::valid_until.eq(draft.valid_until()),
                copy_prescriptions::copy_fields
                    .eq(serde_json::to_string(&fields).unwrap_or_else(|_| "{}".into())),
                copy_prescriptions::original_state.eq("awaiting"),
                copy_prescriptions::version.eq(1),
            ))
            .execute(c)?;
        diesel::update(prescription_copies::table.find((pharmacy_id, copy_id)))
            .set((
                prescription_copies::status.eq("transcribed"),
                prescription_copies::version.eq(copy.version + 1),
            ))
            .execute(c)?;
        let mut events = Vec::with_capacity(5);
        if let Some(id) = &registered {
            events.push(
                Event::ok(Some(pharmacy_id), "patient.created")
                    .subject("patient", id)
                    .detail("quick registration from a copy's 2D symbol"),
            );
        }
        events.push(
            Event::ok(Some(pharmacy_id), "copy.transcribed")
                .subject("copy", copy_id)
                .detail(format!("prescription {rx_id}")),
        );
        events.push(
            Event::ok(Some(pharmacy_id), "prescription.received")
                .subject("prescription", &rx_id)
                .detail(format!(
                    "source: {} copy {copy_id}; オンライン対応: {}; {}; handover waits for the original: {}",
                    copy.channel,
                    if draft.online_marked { "yes" } else { "NO" },
                    if draft.symbol.is_some() { "from 2D symbol" } else { "typed" },
                    narcotic.as_deref().unwrap_or("no")
                )),
        );
        events.push(
            Event::ok(Some(pharmacy_id), "prescription.checked")
                .subject("prescription", &rx_id)
                .detail(format!(
                    "items: {}; findings: {}",
                    draft.items.len(),
                    result.findings.len()
                )),
        );
        audit::record_many(c, ctx, events)?;
        Ok(Transcribed {
            prescription: rx::load_on(c, pharmacy_id, &rx_id, Some(ctx.today()))?,
            warnings: warnings.clone(),
        })
    })
}
