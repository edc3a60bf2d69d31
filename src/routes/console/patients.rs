//! Console pages for patients: list and search, detail, registration, editing.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::see_other;
use crate::domain::fields::FieldErrors;
use crate::domain::patient::{PatientInput, PatientSearch, PublicExpense};
use crate::error::{AppError, PageError};
use crate::patients::{self, Patient};
use crate::routes::api::patients::PAGE_SIZE;
use crate::web::extract::StaffPage;
use crate::web::pages::{
    fmt_time, html, Layout, PatientForm, PatientFormPage, PatientPage, PatientsPage,
};
use crate::web::AppState;

/// Query of the list page.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub kana: String,
    #[serde(default)]
    pub birth_date: String,
    #[serde(default)]
    pub insurance_number: String,
    #[serde(default)]
    pub page: i64,
}

/// The patient list with search.
pub async fn list(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let pid = path.into_inner();
    let q = q.into_inner();
    let layout = Layout::for_session("患者一覧", &s.session, Some(&pid), state.demo_mode);
    let base_query = serde_urlencoded::to_string([
        ("kana", q.kana.as_str()),
        ("birth_date", q.birth_date.as_str()),
        ("insurance_number", q.insurance_number.as_str()),
    ])
    .unwrap_or_default();
    let page = q.page.max(0);
    let (patients, error) = match PatientSearch::parse(
        Some(&q.kana),
        Some(&q.birth_date),
        Some(&q.insurance_number),
    ) {
        Ok(criteria) => {
            let ctx = s.ctx;
            let p2 = pid.clone();
            let list = state
                .db(move |conn| {
                    patients::search(conn, &ctx, &p2, &criteria, page * PAGE_SIZE, PAGE_SIZE)
                })
                .await?;
            (list, None)
        }
        Err(f) => (Vec::new(), Some(f.to_string())),
    };
    let next_page = (patients.len() as i64 == PAGE_SIZE).then_some(page + 1);
    Ok(html(&PatientsPage {
        layout,
        pharmacy_id: pid,
        patients,
        q_kana: q.kana,
        q_birth_date: q.birth_date,
        q_insurance: q.insurance_number,
        base_query,
        prev_page: (page > 0).then(|| page - 1),
        next_page,
        error,
    }))
}

/// One patient.
pub async fn detail(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (pid, patient_id) = path.into_inner();
    let layout = Layout::for_session("患者情報", &s.session, Some(&pid), state.demo_mode);
    let can_dispense = s
        .ctx
        .actor
        .require(&pid, crate::domain::role::Permission::Dispense)
        .is_ok();
    let ctx = s.ctx;
    let today = ctx.today();
    let policy = state.settings.currency_policy();
    let (p, meds, prescriptions) = state
        .db(move |conn| {
            let p = patients::get(conn, &ctx, &pid, &patient_id)?;
            let meds = crate::medications::list(conn, &ctx, &pid, &patient_id, &policy)?;
            let rx = crate::prescriptions::list_for_patient(conn, &ctx, &pid, &patient_id)?;
            Ok::<_, AppError>((p, meds, rx))
        })
        .await?;
    let age = today.years_since(p.birth_date).unwrap_or(0) as i32;
    let updated_at = fmt_time(p.updated_at, state.settings.time_zone);
    let phone = p
        .phone
        .as_deref()
        .map(crate::domain::text::format_phone)
        .unwrap_or_default();
    Ok(html(&PatientPage {
        phone,
        layout,
        p,
        age,
        updated_at,
        meds: meds
            .into_iter()
            .map(|m| crate::web::pages::MedLine {
                source_label: match m.source {
                    crate::domain::checks::MedSource::Dispensed => "当薬局で調剤",
                    crate::domain::checks::MedSource::Declared => "他院・OTC（申告）",
                    crate::domain::checks::MedSource::National => "薬剤情報",
                    crate::domain::checks::MedSource::Candidate => "処方中",
                },
                name: m.name,
                start: m.start,
                days: m.days,
                as_needed: m.as_needed,
                current: m.current,
                unknown_code: m.unknown_code,
            })
            .collect(),
        prescriptions,
        can_dispense,
    }))
}

impl PatientForm {
    fn to_input(&self) -> PatientInput {
        let opt = |s: &str| Some(s.to_string()).filter(|v| !v.trim().is_empty());
        let mut public_expenses = Vec::new();
        for (payer, recipient) in [
            (&self.public_payer_1, &self.public_recipient_1),
            (&self.public_payer_2, &self.public_recipient_2),
        ] {
            if !payer.trim().is_empty() || !recipient.trim().is_empty() {
                public_expenses.push(PublicExpense {
                    payer_number: payer.clone(),
                    recipient_number: opt(recipient),
                });
            }
        }
        PatientInput {
            name_kanji: self.name_kanji.clone(),
            name_kana: self.name_kana.clone(),
            birth_date: self.birth_date.clone(),
            sex: self.sex.clone(),
            postal_code: opt(&self.postal_code),
            address: opt(&self.address),
            phone: opt(&self.phone),
            email: opt(&self.email),
            email_allowed: self.email_allowed.is_some(),
            insurer_number: opt(&self.insurer_number),
            insured_symbol: opt(&self.insured_symbol),
            insured_number: opt(&self.insured_number),
            insured_branch: opt(&self.insured_branch),
            public_expenses,
            allergies: opt(&self.allergies),
            notes: opt(&self.notes),
        }
    }

    fn from_patient(p: &Patient) -> PatientForm {
        let pe = |i: usize| p.public_expenses.get(i);
        PatientForm {
            name_kanji: p.name_kanji.clone(),
            name_kana: p.name_kana.clone(),
            birth_date: p.birth_date.to_string(),
            sex: p.sex.as_str().into(),
            postal_code: p.postal_code.clone().unwrap_or_default(),
            address: p.address.clone().unwrap_or_default(),
            phone: p.phone.clone().unwrap_or_default(),
            email: p.email.clone().unwrap_or_default(),
            email_allowed: p.email_allowed.then(|| "on".to_string()),
            insurer_number: p.insurer_number.clone().unwrap_or_default(),
            insured_symbol: p.insured_symbol.clone().unwrap_or_default(),
            insured_number: p.insured_number.clone().unwrap_or_default(),
            insured_branch: p.insured_branch.clone().unwrap_or_default(),
            public_payer_1: pe(0).map(|x| x.payer_number.clone()).unwrap_or_default(),
            public_recipient_1: pe(0)
                .and_then(|x| x.recipient_number.clone())
                .unwrap_or_default(),
            public_payer_2: pe(1).map(|x| x.payer_number.clone()).unwrap_or_default(),
            public_recipient_2: pe(1)
                .and_then(|x| x.recipient_number.clone())
                .unwrap_or_default(),
            allergies: p.allergies.clone(),
            notes: p.notes.clone(),
            version: p.version,
        }
    }
}

fn form_page(
    state: &AppState,
    s: &StaffPage,
    pid: &str,
    patient_id: Option<&str>,
    f: PatientForm,
    errors: FieldErrors,
) -> HttpResponse {
    let (title, action) = match patient_id {
        None => ("患者の登録", format!("/p/{pid}/patients")),
        Some(id) => ("患者情報の編集", format!("/p/{pid}/patients/{id}")),
    };
    let mut resp = html(&PatientFormPage {
        layout: Layout::for_session(title, &s.session, Some(pid), state.demo_mode),
        is_new: patient_id.is_none(),
        action,
        version: f.version,
        f,
        errors: errors.clone(),
    });
    if !errors.is_empty() {
        *resp.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    resp
}

/// The registration form.
pub async fn new_form(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
) -> HttpResponse {
    let pid = path.into_inner();
    let f = PatientForm {
        sex: "female".into(),
        ..PatientForm::default()
    };
    form_page(&state, &s, &pid, None, f, FieldErrors::new())
}

/// Registers a patient.
pub async fn create(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
    form: web::Form<PatientForm>,
) -> Result<HttpResponse, PageError> {
    let pid = path.into_inner();
    let form = form.into_inner();
    let input = form.to_input();
    let (ctx, p2) = (s.ctx.clone(), pid.clone());
    match state
        .db(move |conn| patients::create(conn, &ctx, &p2, &input))
        .await
    {
        Ok(p) => Ok(see_other(&format!("/p/{pid}/patients/{}", p.id))),
        Err(AppError::Validation(errors)) => Ok(form_page(&state, &s, &pid, None, form, errors)),
        Err(e) => Err(e.into()),
    }
}

/// The edit form (reading the record is audited).
pub async fn edit_form(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (pid, patient_id) = path.into_inner();
    let (ctx, p2, id2) = (s.ctx.clone(), pid.clone(), patient_id.clone());
    let p = state
        .db(move |conn| patients::get(conn, &ctx, &p2, &id2))
        .await?;
    Ok(form_page(
        &state,
        &s,
        &pid,
        Some(&patient_id),
        PatientForm::from_patient(&p),
        FieldErrors::new(),
    ))
}

/// Saves an edit.
pub async fn update(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
    form: web::Form<PatientForm>,
) -> Result<HttpResponse, PageError> {
    let (pid, patient_id) = path.into_inner();
    let form = form.into_inner();
    let input = form.to_input();
    let version = form.version;
    let (ctx, p2, id2) = (s.ctx.clone(), pid.clone(), patient_id.clone());
    match state
        .db(move |conn| patients::update(conn, &ctx, &p2, &id2, version, &input))
        .await
    {
        Ok(_) => Ok(see_other(&format!("/p/{pid}/patients/{patient_id}"))),
        Err(AppError::Validation(errors)) => {
            Ok(form_page(&state, &s, &pid, Some(&patient_id), form, errors))
        }
        Err(e) => Err(e.into()),
    }
}
