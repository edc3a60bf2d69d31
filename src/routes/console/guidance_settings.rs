//! The console's guidance settings page: slot rules and the マイナ在宅受付Web URL
//! (admins) with its QR code, and each pharmacist's weekly hours and exceptions.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};

use super::guidance::shown;
use super::see_other;
use crate::domain::role::Permission;
use crate::error::{AppError, PageError};
use crate::guidance::{self, GuidanceError};
use crate::web::extract::StaffPage;
use crate::web::guidance_pages::GuidanceSettingsPage;
use crate::web::pages::{html, Layout};
use crate::web::AppState;

fn field(f: &HashMap<String, String>, k: &str) -> String {
    f.get(k).cloned().unwrap_or_default()
}

async fn settings_page(
    state: &AppState,
    s: &StaffPage,
    pid: &str,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let p2 = pid.to_string();
    let (settings, hours) = state
        .db(move |conn| {
            let settings = guidance::current_settings(conn, &p2)?;
            let mut hours = Vec::new();
            for (id, name) in guidance::pharmacists(conn, &p2)? {
                let text = guidance::weekly_hours(conn, &p2, &id)?
                    .into_iter()
                    .map(|(d, a, b)| format!("{d} {a}-{b}"))
                    .collect::<Vec<_>>()
                    .join("\n");
                hours.push((id, name, text));
            }
            Ok::<_, AppError>((settings, hours))
        })
        .await?;
    let qr_svg = if settings.qualification_url.is_empty() {
        String::new()
    } else {
        crate::auth::totp::qr_svg(&settings.qualification_url)
    };
    Ok(html(&GuidanceSettingsPage {
        layout: Layout::for_session("服薬指導の設定", &s.session, Some(pid), state.demo_mode),
        pharmacy_id: pid.to_string(),
        can_admin: s.ctx.actor.require(pid, Permission::ManageUsers).is_ok(),
        settings,
        qr_svg,
        hours,
        error,
    }))
}

/// Settings, the QR code of the マイナ在宅受付Web URL, and the pharmacists' hours.
pub async fn settings(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let pid = path.into_inner();
    settings_page(&state, &s, &pid, None).await
}

/// Saves the settings (`action=settings`), a pharmacist's hours (`action=hours`,
/// one `weekday HH:MM-HH:MM` per line) or an exception (`action=exception`).
pub async fn save_settings(
    state: web::Data<AppState>,
    s: StaffPage,
    path: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let pid = path.into_inner();
    let f = form.into_inner();
    let (ctx, p2) = (s.ctx.clone(), pid.clone());
    let outcome = state
        .db(move |conn| {
            let r = match field(&f, "action").as_str() {
                "settings" => guidance::set_settings(
                    conn,
                    &ctx,
                    &p2,
                    &guidance::SettingsInput {
                        slot_minutes: field(&f, "slot_minutes").trim().parse().unwrap_or(-1),
                        buffer_minutes: field(&f, "buffer_minutes").trim().parse().unwrap_or(-1),
                        qualification_url: field(&f, "qualification_url"),
                    },
                )
                .map(|_| ()),
                "hours" => match parse_hours(&field(&f, "hours")) {
                    Ok(h) => guidance::set_hours(conn, &ctx, &p2, &field(&f, "user_id"), &h).map(|_| ()),
                    Err(line) => Err(guidance::invalid(
                        "hours",
                        format!("「{line}」は「曜日番号 HH:MM-HH:MM」ではありません (weekday HH:MM-HH:MM)"),
                    )),
                },
                "exception" => guidance::add_exception(
                    conn,
                    &ctx,
                    &p2,
                    &field(&f, "user_id"),
                    &guidance::ExceptionInput {
                        day: field(&f, "day"),
                        closed: f.contains_key("closed"),
                        start: Some(field(&f, "start")).filter(|x| !x.is_empty()),
                        end: Some(field(&f, "end")).filter(|x| !x.is_empty()),
                        reason: field(&f, "reason"),
                    },
                )
                .map(|_| ()),
                _ => Err(GuidanceError::NotFound),
            };
            Ok::<_, AppError>(r)
        })
        .await?;
    match outcome {
        Ok(()) => Ok(see_other(&format!("/p/{pid}/guidance/settings"))),
        Err(e) => {
            let msg = shown(e)?;
            settings_page(&state, &s, &pid, Some(msg)).await
        }
    }
}

/// `1 09:00-12:00` lines into hours; the first bad line is returned.
fn parse_hours(text: &str) -> Result<Vec<guidance::HoursInput>, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (d, range) = l.split_once(char::is_whitespace).ok_or(l.to_string())?;
            let (a, b) = range.trim().split_once('-').ok_or(l.to_string())?;
            Ok(guidance::HoursInput {
                weekday: d.parse().map_err(|_| l.to_string())?,
                start: a.trim().to_string(),
                end: b.trim().to_string(),
            })
        })
        .collect()
}
