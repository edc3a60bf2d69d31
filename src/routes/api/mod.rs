//! JSON API under `/api/v1`. Authentication is the session cookie from
//! `POST /api/v1/session`; every state-changing call also sends `X-CSRF-Token`.

pub mod audit;
pub mod clinical;
pub mod clinics;
pub mod copies;
pub mod deliveries;
pub mod eps;
pub mod guidance;
pub mod guidance_sessions;
pub mod ledger;
pub mod notices;
pub mod originals;
pub mod patients;
pub mod pharmacies;
pub mod session;
pub mod users;

use actix_web::web;

/// Registers the API routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .route("/session", web::post().to(session::sign_in))
            .route("/session", web::get().to(session::current))
            .route("/session", web::delete().to(session::sign_out))
            .route(
                "/session/second-factor",
                web::post().to(session::second_factor),
            )
            .route(
                "/account/second-factor",
                web::post().to(session::enroll_start),
            )
            .route(
                "/account/second-factor/confirm",
                web::post().to(session::enroll_confirm),
            )
            .route(
                "/account/password",
                web::post().to(session::change_password),
            )
            .route("/pharmacies", web::get().to(pharmacies::list))
            .route("/pharmacies/{pharmacy_id}", web::get().to(pharmacies::get))
            .route(
                "/pharmacies/{pharmacy_id}",
                web::put().to(pharmacies::update),
            )
            .route(
                "/pharmacies/{pharmacy_id}/patients",
                web::get().to(patients::search),
            )
            .route(
                "/pharmacies/{pharmacy_id}/patients",
                web::post().to(patients::create),
            )
            .route(
                "/pharmacies/{pharmacy_id}/patients/{patient_id}",
                web::get().to(patients::get),
            )
            .route(
                "/pharmacies/{pharmacy_id}/patients/{patient_id}",
                web::put().to(patients::update),
            )
            .route(
                "/pharmacies/{pharmacy_id}/users",
                web::get().to(users::list),
            )
            .route(
                "/pharmacies/{pharmacy_id}/users",
                web::post().to(users::create),
            )
            .route(
                "/pharmacies/{pharmacy_id}/users/{user_id}/role",
                web::put().to(users::set_role),
            )
            .route(
                "/pharmacies/{pharmacy_id}/users/{user_id}/disable",
                web::post().to(users::disable),
            )
            .route(
                "/pharmacies/{pharmacy_id}/users/{user_id}/enable",
                web::post().to(users::enable),
            )
            .route(
                "/pharmacies/{pharmacy_id}/users/{user_id}/reset-second-factor",
                web::post().to(users::reset_second_factor),
            )
            .route(
                "/pharmacies/{pharmacy_id}/audit",
                web::get().to(audit::list),
            )
            .route(
                "/pharmacies/{pharmacy_id}/notices",
                web::get().to(notices::list),
            )
            .route(
                "/pharmacies/{pharmacy_id}/notices/test",
                web::post().to(notices::send_test),
            )
            .route(
                "/pharmacies/{pharmacy_id}/notices/{notice_id}",
                web::get().to(notices::get),
            )
            .route(
                "/pharmacies/{pharmacy_id}/notices/{notice_id}/resend",
                web::post().to(notices::resend),
            )
            .route(
                "/pharmacies/{pharmacy_id}/notices/{notice_id}/contacted",
                web::post().to(notices::contacted),
            )
.route("/drugs", web::get().to(clinical::search_drugs))
            .route("/drugs/{code}", web::get().to(clinical::lookup_drug))
            .route("/pharmacies/{pharmacy_id}/eps/accept", web::post().to(eps::accept))
            .route("/pharmacies/{pharmacy_id}/eps/pending-results", web::get().to(eps::pending_results))
            .route("/pharmacies/{pharmacy_id}/eps/messages", web::get().to(eps::kept_messages))
            .route("/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}/eps/cancel-acceptance", web::post().to(eps::cancel_acceptance))
            .route("/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}/eps/status", web::post().to(eps::refresh_status))
            .route("/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}/eps/cancel-result", web::post().to(eps::cancel_result))
            .route("/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}/eps/retry-registration", web::post().to(eps::retry_registration))
            .route("/pharmacies/{pharmacy_id}/patients/{patient_id}/medications", web::get().to(clinical::medications))
            .route("/pharmacies/{pharmacy_id}/patients/{patient_id}/declared-medications", web::post().to(clinical::declare))
            .route("/pharmacies/{pharmacy_id}/patients/{patient_id}/checks", web::post().to(clinical::check))
            .route("/pharmacies/{pharmacy_id}/patients/{patient_id}/prescriptions", web::get().to(clinical::patient_prescriptions))
            .route("/pharmacies/{pharmacy_id}/prescriptions", web::post().to(clinical::create_prescription))
            .route("/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}", web::get().to(clinical::get_prescription))
            .route("/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}/items", web::put().to(clinical::replace_items))
            .route(
                "/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}/findings/{finding_id}/resolve",
                web::post().to(clinical::resolve_finding),
            )
            .route("/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}/dispense", web::post().to(clinical::dispense))
            .route("/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}/handover", web::post().to(originals::hand_over))
            .route("/pharmacies/{pharmacy_id}/copies/mail", web::post().to(copies::receive_mail))
            .route("/pharmacies/{pharmacy_id}/copies/upload", web::post().to(copies::upload))
            .route("/pharmacies/{pharmacy_id}/copies", web::get().to(copies::list))
            .route("/pharmacies/{pharmacy_id}/copies/{copy_id}", web::get().to(copies::get))
            .route("/pharmacies/{pharmacy_id}/copies/{copy_id}/raw", web::get().to(copies::raw))
            .route("/pharmacies/{pharmacy_id}/copies/{copy_id}/symbols", web::get().to(copies::symbols))
            .route("/pharmacies/{pharmacy_id}/copies/{copy_id}/files/{position}", web::get().to(copies::file))
            .route("/pharmacies/{pharmacy_id}/copies/{copy_id}/decision", web::post().to(copies::decide))
            .route("/pharmacies/{pharmacy_id}/copies/{copy_id}/transcribe", web::post().to(copies::transcribe))
            .route("/copies/symbol", web::post().to(copies::read_symbol))
            .route("/pharmacies/{pharmacy_id}/guidance/settings", web::put().to(guidance::set_settings))
            .route("/pharmacies/{pharmacy_id}/guidance/pharmacists/{user_id}/hours", web::put().to(guidance::set_hours))
            .route("/pharmacies/{pharmacy_id}/guidance/pharmacists/{user_id}/exceptions", web::post().to(guidance::add_exception))
            .route("/pharmacies/{pharmacy_id}/guidance/pharmacists/{user_id}/slots", web::get().to(guidance::slots))
            .route("/pharmacies/{pharmacy_id}/guidance/sessions", web::post().to(guidance::book))
            .route("/pharmacies/{pharmacy_id}/guidance/sessions/{session_id}/cancel", web::post().to(guidance::cancel))
            .route("/pharmacies/{pharmacy_id}/guidance/sessions/{session_id}/move", web::post().to(guidance::reschedule))
            .route("/pharmacies/{pharmacy_id}/guidance/sessions/{session_id}", web::get().to(guidance_sessions::detail))
            .route("/pharmacies/{pharmacy_id}/guidance/sessions/{session_id}/start", web::post().to(guidance_sessions::start))
            .route("/pharmacies/{pharmacy_id}/guidance/sessions/{session_id}/finish", web::post().to(guidance_sessions::finish))
            .route("/pharmacies/{pharmacy_id}/guidance/sessions/{session_id}/review", web::post().to(guidance_sessions::review))
            .route("/pharmacies/{pharmacy_id}/guidance/sessions/{session_id}/records", web::post().to(guidance_sessions::sign_record))
            .route("/pharmacies/{pharmacy_id}/guidance/sessions/{session_id}/records", web::get().to(guidance_sessions::record_versions))
            .route("/pharmacies/{pharmacy_id}/guidance/day", web::get().to(guidance_sessions::day))
            .route("/pharmacies/{pharmacy_id}/deliveries", web::post().to(deliveries::create))
            .route("/pharmacies/{pharmacy_id}/deliveries/{delivery_id}", web::get().to(deliveries::get))
            .route("/pharmacies/{pharmacy_id}/deliveries/{delivery_id}/steps", web::post().to(deliveries::advance))
            .route("/pharmacies/{pharmacy_id}/deliveries", web::get().to(deliveries::board))
            .route("/pharmacies/{pharmacy_id}/deliveries/{delivery_id}/handover", web::post().to(deliveries::hand_over))
            .route("/pharmacies/{pharmacy_id}/deliveries/{delivery_id}/proxy", web::post().to(deliveries::proxy))
            .route("/pharmacies/{pharmacy_id}/deliveries/{delivery_id}/code", web::post().to(deliveries::reissue_code))
            .route("/pharmacies/{pharmacy_id}/deliveries/{delivery_id}/readings", web::post().to(deliveries::readings))
            .route("/pharmacies/{pharmacy_id}/deliveries/{delivery_id}/readings.csv", web::post().to(deliveries::readings_csv))
            .route("/pharmacies/{pharmacy_id}/deliveries/{delivery_id}/temperatures", web::get().to(deliveries::temperatures))
            .route("/pharmacies/{pharmacy_id}/deliveries/{delivery_id}/quarantine-decision", web::post().to(deliveries::decide))
            .route("/courier/deliveries", web::get().to(deliveries::courier_list))
            .route("/courier/pharmacies/{pharmacy_id}/deliveries/{delivery_id}", web::get().to(deliveries::courier_view))
            .route("/pharmacies/{pharmacy_id}/ledger", web::get().to(ledger::stock))
            .route("/pharmacies/{pharmacy_id}/ledger/entries", web::post().to(ledger::record))
            .route("/pharmacies/{pharmacy_id}/ledger/annual.csv", web::get().to(ledger::annual))
            .route("/pharmacies/{pharmacy_id}/ledger/{product}/entries", web::get().to(ledger::entries))
            .route("/pharmacies/{pharmacy_id}/ledger/{product}/book.csv", web::get().to(ledger::book))
            .route("/pharmacies/{pharmacy_id}/ledger/{product}/entries/{seq}/accident-report", web::get().to(ledger::accident_report))
            .route("/pharmacies/{pharmacy_id}/guidance/eligibility", web::post().to(guidance_sessions::request_eligibility))
            .route("/pharmacies/{pharmacy_id}/guidance/eligibility", web::get().to(guidance_sessions::list_eligibility))
            .route("/pharmacies/{pharmacy_id}/guidance/patients/{patient_id}/consents", web::post().to(guidance_sessions::record_consent))
            .route("/pharmacies/{pharmacy_id}/guidance/patients/{patient_id}/consents", web::get().to(guidance_sessions::list_consents))
            .route("/pharmacies/{pharmacy_id}/guidance/patients/{patient_id}/drug-information", web::post().to(guidance_sessions::fetch_drug_information))
            .route("/pharmacies/{pharmacy_id}/guidance/patients/{patient_id}/invitations", web::post().to(guidance_sessions::invite))
            .route("/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}/guidance", web::get().to(guidance_sessions::prescription_guidance))
            .route("/pharmacies/{pharmacy_id}/originals", web::get().to(originals::awaited))
            .route("/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}/original", web::post().to(originals::register_original))
            .route("/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}/original/storage", web::put().to(originals::set_storage))
            .route(
                "/pharmacies/{pharmacy_id}/prescriptions/{prescription_id}/original/discrepancies/{discrepancy_id}/resolve",
                web::post().to(originals::resolve_discrepancy),
            )
            .route("/pharmacies/{pharmacy_id}/tasks", web::get().to(originals::tasks_open))
            .route("/pharmacies/{pharmacy_id}/tasks/{task_id}/done", web::post().to(originals::task_done))
                        .route(
                "/pharmacies/{pharmacy_id}/clinics",
                web::get().to(clinics::list),
            )
            .route(
                "/pharmacies/{pharmacy_id}/clinics",
                web::post().to(clinics::create),
            )
            .route(
                "/pharmacies/{pharmacy_id}/clinics/{clinic_id}",
                web::get().to(clinics::get),
            )
            .route(
                "/pharmacies/{pharmacy_id}/clinics/{clinic_id}",
                web::put().to(clinics::update),
            ),
    );
}
