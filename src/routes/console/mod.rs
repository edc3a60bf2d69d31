//! The staff console: server-rendered pages (askama), forms with CSRF tokens,
//! no scripts.

pub mod admin;
pub mod auth;
pub mod clinical;
pub mod clinics;
pub mod copies;
pub mod deliveries;
pub mod eps;
pub mod guidance;
pub mod guidance_settings;
pub mod ledger;
pub mod notices;
pub mod originals;
pub mod patients;

use actix_web::{http::header, web, HttpResponse};

/// A 303 redirect (after a form post, or to sign-in).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_string()))
        .finish()
}

/// Registers the console routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(auth::home))
        .route("/login", web::get().to(auth::login_form))
        .route("/login", web::post().to(auth::login_submit))
        .route(
            "/login/second-factor",
            web::get().to(auth::second_factor_form),
        )
        .route(
            "/login/second-factor",
            web::post().to(auth::second_factor_submit),
        )
        .route("/logout", web::post().to(auth::logout))
        .route("/account", web::get().to(auth::account))
        .route("/account/password", web::post().to(auth::change_password))
        .route("/account/second-factor", web::get().to(auth::enroll_form))
        .route(
            "/account/second-factor",
            web::post().to(auth::enroll_submit),
        )
        .route("/p/{pharmacy_id}", web::get().to(admin::pharmacy_home))
        .route("/p/{pharmacy_id}/patients", web::get().to(patients::list))
        .route(
            "/p/{pharmacy_id}/patients",
            web::post().to(patients::create),
        )
        .route(
            "/p/{pharmacy_id}/patients/new",
            web::get().to(patients::new_form),
        )
        .route(
            "/p/{pharmacy_id}/patients/{patient_id}",
            web::get().to(patients::detail),
        )
        .route(
            "/p/{pharmacy_id}/patients/{patient_id}",
            web::post().to(patients::update),
        )
        .route(
            "/p/{pharmacy_id}/patients/{patient_id}/edit",
            web::get().to(patients::edit_form),
        )
        .route("/p/{pharmacy_id}/users", web::get().to(admin::users_list))
        .route(
            "/p/{pharmacy_id}/users",
            web::post().to(admin::users_create),
        )
        .route(
            "/p/{pharmacy_id}/users/{user_id}/role",
            web::post().to(admin::users_role),
        )
        .route(
            "/p/{pharmacy_id}/users/{user_id}/{action}",
            web::post().to(admin::users_action),
        )
        .route("/p/{pharmacy_id}/audit", web::get().to(admin::audit))
        .route("/p/{pharmacy_id}/notices", web::get().to(notices::list))
        .route(
            "/p/{pharmacy_id}/notices/test",
            web::post().to(notices::send_test),
        )
        .route(
            "/p/{pharmacy_id}/notices/{notice_id}",
            web::get().to(notices::detail),
        )
        .route(
            "/p/{pharmacy_id}/notices/{notice_id}/resend",
            web::post().to(notices::resend),
        )
        .route(
            "/p/{pharmacy_id}/notices/{notice_id}/contacted",
            web::post().to(notices::contacted),
        )
        .route("/p/{pharmacy_id}/clinics", web::get().to(clinics::list))
        .route("/p/{pharmacy_id}/clinics", web::post().to(clinics::create))
        .route(
            "/p/{pharmacy_id}/clinics/new",
            web::get().to(clinics::new_form),
        )
        .route(
            "/p/{pharmacy_id}/clinics/{clinic_id}",
            web::get().to(clinics::edit_form),
        )
        .route(
            "/p/{pharmacy_id}/clinics/{clinic_id}",
            web::post().to(clinics::update),
        )
        .route("/p/{pharmacy_id}/drugs", web::get().to(clinical::drugs))
        .route("/p/{pharmacy_id}/copies", web::get().to(copies::list))
        .route("/p/{pharmacy_id}/copies/upload", web::post().to(copies::upload))
        .route("/p/{pharmacy_id}/copies/{copy_id}", web::get().to(copies::detail))
        .route("/p/{pharmacy_id}/copies/{copy_id}/transcribe", web::post().to(copies::transcribe))
        .route("/p/{pharmacy_id}/copies/{copy_id}/decision", web::post().to(copies::decide))
        .route("/p/{pharmacy_id}/copies/{copy_id}/files/{position}", web::get().to(copies::file))
        .route("/p/{pharmacy_id}/originals", web::get().to(originals::awaited))
        .route("/p/{pharmacy_id}/prescriptions/{rx_id}/original", web::get().to(originals::original))
        .route("/p/{pharmacy_id}/prescriptions/{rx_id}/original", web::post().to(originals::register_original))
        .route("/p/{pharmacy_id}/prescriptions/{rx_id}/original/storage", web::post().to(originals::storage))
        .route(
            "/p/{pharmacy_id}/prescriptions/{rx_id}/original/discrepancies/{discrepancy_id}/resolve",
            web::post().to(originals::resolve),
        )
        .route("/p/{pharmacy_id}/prescriptions/{rx_id}/handover", web::post().to(originals::hand_over))
        .route("/p/{pharmacy_id}/guidance", web::get().to(guidance::day))
        .route("/p/{pharmacy_id}/guidance/new", web::get().to(guidance::new_booking))
        .route("/p/{pharmacy_id}/guidance/sessions", web::post().to(guidance::book))
        .route("/p/{pharmacy_id}/guidance/settings", web::get().to(guidance_settings::settings))
        .route("/p/{pharmacy_id}/guidance/settings", web::post().to(guidance_settings::save_settings))
        .route("/p/{pharmacy_id}/guidance/{session_id}", web::get().to(guidance::session))
        .route("/p/{pharmacy_id}/guidance/{session_id}/{action}", web::post().to(guidance::session_action))
        .route("/p/{pharmacy_id}/deliveries", web::get().to(deliveries::board))
        .route("/p/{pharmacy_id}/deliveries", web::post().to(deliveries::create))
        .route("/p/{pharmacy_id}/deliveries/{delivery_id}", web::get().to(deliveries::detail))
        .route("/p/{pharmacy_id}/deliveries/{delivery_id}/steps", web::post().to(deliveries::step))
        .route("/p/{pharmacy_id}/deliveries/{delivery_id}/decision", web::post().to(deliveries::decide))
        .route("/p/{pharmacy_id}/deliveries/{delivery_id}/proxy", web::post().to(deliveries::proxy))
        .route("/p/{pharmacy_id}/deliveries/{delivery_id}/code", web::post().to(deliveries::code))
        .route("/p/{pharmacy_id}/deliveries/{delivery_id}/readings", web::post().to(deliveries::readings))
        .route("/p/{pharmacy_id}/ledger", web::get().to(ledger::show))
        .route("/p/{pharmacy_id}/ledger", web::post().to(ledger::record))
        .route("/p/{pharmacy_id}/tasks", web::get().to(originals::tasks))
        .route("/p/{pharmacy_id}/tasks/{task_id}/done", web::post().to(originals::task_done))
        .route("/p/{pharmacy_id}/eps", web::get().to(eps::desk))
        .route("/p/{pharmacy_id}/eps/accept", web::post().to(eps::accept))
        .route(
            "/p/{pharmacy_id}/prescriptions/{rx_id}/eps/cancel",
            web::post().to(eps::cancel),
        )
        .route(
            "/p/{pharmacy_id}/prescriptions/{rx_id}/eps/status",
            web::post().to(eps::status),
        )
        .route(
            "/p/{pharmacy_id}/prescriptions/{rx_id}/eps/retry",
            web::post().to(eps::retry),
        )
        .route(
            "/p/{pharmacy_id}/prescriptions/{rx_id}/eps/cancel-result",
            web::post().to(eps::cancel_result),
        )
        .route(
            "/p/{pharmacy_id}/prescriptions",
            web::post().to(clinical::create),
        )
        .route(
            "/p/{pharmacy_id}/prescriptions/new",
            web::get().to(clinical::new_form),
        )
        .route(
            "/p/{pharmacy_id}/prescriptions/{rx_id}",
            web::get().to(clinical::detail),
        )
        .route(
            "/p/{pharmacy_id}/prescriptions/{rx_id}/edit",
            web::get().to(clinical::edit_form),
        )
        .route(
            "/p/{pharmacy_id}/prescriptions/{rx_id}/items",
            web::post().to(clinical::update_items),
        )
        .route(
            "/p/{pharmacy_id}/prescriptions/{rx_id}/dispense",
            web::post().to(clinical::dispense),
        )
        .route(
            "/p/{pharmacy_id}/prescriptions/{rx_id}/findings/{finding_id}/resolve",
            web::post().to(clinical::resolve),
        )
        .route(
            "/p/{pharmacy_id}/patients/{patient_id}/declared",
            web::post().to(clinical::declare),
        );
}
