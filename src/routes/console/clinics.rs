//! Console pages for the clinics directory.

use actix_web::{web, HttpResponse};

use super::see_other;
use crate::clinics;
use crate::domain::clinic::ClinicInput;
use crate::domain::fields::FieldErrors;
use crate::domain::role::Permission;
use crate::error::{AppError, PageError};
use crate::web::extract::StaffPage;
use crate::web::pages::{html, ClinicForm, ClinicFormPage, ClinicsPage, Layout};
use crate::web::AppState;

impl ClinicForm {
    fn to_input(&self) -> ClinicInput {
        let opt = |s: &str| Some(s.to_string()).filter(|v| !v.trim().is_empty());
        ClinicInput {
            name: self.name.clone(),
            institution_code: opt(&self.institution_code),
            phone: opt(&self.phone),
            fax: opt(&self.fax),
            email: opt(&self.email),
            email_allowed: self.email_allowed.is_some(),
            notes: opt(&self.notes),
            sender_addresses: opt(&self.sender_addresses),
        }
    }

    fn from_clinic(c: &clinics::Clinic) -> ClinicForm {
        ClinicForm {
            name: c.name.clone(),
            institution_code: c.institution_code.clone().unwrap_or_default(),
            phone: c.phone.clone().unwrap_or_default(),
            fax: c.fax.clone().unwrap_or_default(),
            email: c.email.clone().unwrap_or_default(),
            email_allowed: c.email_allowed.then(|| "on".to_string()),
            notes: c.notes.clone(),
            sender_addresses: c.sender_addresses.clone(),
            version: c.version,
        }
    }
}

/// The directory.
pub async fn list(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let pid = path.into_inner();
    let layout = Layout::for_session("医療機関", &s.session, Some(&pid), state.demo_mode);
    let can_edit = s
        .ctx
        .actor
        .require(&pid, Permission::ManagePharmacy)
        .is_ok();
    let (ctx, p2) = (s.ctx, pid.clone());
    let rows = state.db(move |conn| clinics::list(conn, &ctx, &p2)).await?;
    Ok(html(&ClinicsPage {
        layout,
        pharmacy_id: pid,
        clinics: rows,
        can_edit,
    }))
}

fn form(
    state: &AppState,
    s: &StaffPage,
    pid: &str,
    id: Option<&str>,
    f: ClinicForm,
    errors: FieldErrors,
) -> HttpResponse {
    let action = match id {
        Some(id) => format!("/p/{pid}/clinics/{id}"),
        None => format!("/p/{pid}/clinics"),
    };
    let mut resp = html(&ClinicFormPage {
        layout: Layout::for_session("医療機関", &s.session, Some(pid), state.demo_mode),
        is_new: id.is_none(),
        action,
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
    form(
        &state,
        &s,
        &path.into_inner(),
        None,
        ClinicForm::default(),
        FieldErrors::new(),
    )
}

/// The edit form.
pub async fn edit_form(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    let (ctx, p2, id2) = (s.ctx.clone(), pid.clone(), id.clone());
    let c = state
        .db(move |conn| clinics::get(conn, &ctx, &p2, &id2))
        .await?;
    Ok(form(
        &state,
        &s,
        &pid,
        Some(&id),
        ClinicForm::from_clinic(&c),
        FieldErrors::new(),
    ))
}

/// Saves a new clinic.
pub async fn create(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
    f: web::Form<ClinicForm>,
) -> Result<HttpResponse, PageError> {
    let pid = path.into_inner();
    let f = f.into_inner();
    let input = f.to_input();
    let (ctx, p2) = (s.ctx.clone(), pid.clone());
    match state
        .db(move |conn| clinics::create(conn, &ctx, &p2, &input))
        .await
    {
        Ok(_) => Ok(see_other(&format!("/p/{pid}/clinics"))),
        Err(AppError::Validation(e)) => Ok(form(&state, &s, &pid, None, f, e)),
        Err(e) => Err(e.into()),
    }
}

/// Saves an edit.
pub async fn update(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<(String, String)>,
    f: web::Form<ClinicForm>,
) -> Result<HttpResponse, PageError> {
    let (pid, id) = path.into_inner();
    let f = f.into_inner();
    let input = f.to_input();
    let (ctx, p2, id2, v) = (s.ctx.clone(), pid.clone(), id.clone(), f.version);
    match state
        .db(move |conn| clinics::update(conn, &ctx, &p2, &id2, v, &input))
        .await
    {
        Ok(_) => Ok(see_other(&format!("/p/{pid}/clinics"))),
        Err(AppError::Validation(e)) => Ok(form(&state, &s, &pid, Some(&id), f, e)),
        Err(e) => Err(e.into()),
    }
}
