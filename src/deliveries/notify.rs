//! Delivery notices through the outbox (shipped with the handover code and the
//! window, out for delivery, delivered with a link to confirm receipt, delayed,
//! failed attempt), never naming a product: every notice is checked against the
//! delivery's product names. The patient confirms receipt in the portal with a
//! signed one-time link; a controlled or refrigerated delivery not confirmed in
//! time becomes a follow-up task (the sweep runs with the server's housekeeping).

use askama::Template;
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::{Delivery, DeliveryError};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::{
    deliveries, delivery_custody, delivery_items, patients, pharmacies, portal_link_uses,
};
use crate::db::{write_transaction, DbConnection};
use crate::domain::guidance::link::{sign, verify, LinkClaims};
use crate::guidance::portal::{link_key, PortalError};
use crate::notices::templates::{Letterhead, Rendered};
use crate::notices::{self, OutboxConfig, RecipientRef};

const T: &str = "email/delivery";

#[derive(Template)]
#[template(path = "email/delivery/subject.txt")]
struct Subject<'a> {
    letterhead: &'a Letterhead,
    what: &'a str,
}

#[derive(Template)]
#[template(path = "email/delivery/body.txt")]
struct Text<'a> {
    letterhead: &'a Letterhead,
    what: &'a str,
    patient_name: &'a str,
    code: &'a str,
    window: &'a str,
    received_by: &'a str,
    receipt_url: &'a str,
    reason: &'a str,
}

#[derive(Template)]
#[template(path = "email/delivery/body.html")]
struct Html<'a> {
    letterhead: &'a Letterhead,
    what: &'a str,
    patient_name: &'a str,
    code: &'a str,
    window: &'a str,
    received_by: &'a str,
    receipt_url: &'a str,
    reason: &'a str,
}

/// `11月22日 10:00〜12:00` (Japan time).
pub(crate) fn window_label(start: NaiveDateTime, end: NaiveDateTime) -> String {
    let (s, e) = (crate::context::jst(start), crate::context::jst(end));
    if s.date_naive() == e.date_naive() {
        format!("{}〜{}", s.format("%m月%d日 %H:%M"), e.format("%H:%M"))
    } else {
        format!(
            "{}〜{}",
            s.format("%m月%d日 %H:%M"),
            e.format("%m月%d日 %H:%M")
        )
    }
}

fn receipt_link(
    c: &mut DbConnection,
    pharmacy_id: &str,
    id: &str,
    now: NaiveDateTime,
    outbox: &OutboxConfig,
) -> QueryResult<String> {
    let key = link_key(c, now)?;
    let claims = LinkClaims {
        p: pharmacy_id.to_string(),
        s: id.to_string(),
        a: "receipt".into(),
        e: (now + Duration::days(14)).and_utc().timestamp(),
        n: uuid::Uuid::new_v4().simple().to_string(),
        u: String::new(),
        r: String::new(),
    };
    Ok(format!(
        "{}/portal/receipt/{}",
        outbox.public_url.trim_end_matches('/'),
        sign(&key, &claims)
    ))
}

/// What a delivery notice says.
pub(crate) struct Facts<'a> {
    pub what: &'static str,
    pub patient_name: &'a str,
    /// Only for shipped.
    pub code: &'a str,
    pub window: &'a str,
    pub received_by: &'a str,
    pub receipt_url: &'a str,
    pub reason: &'a str,
}

/// Renders notice `f.what` (shipped, out_for_delivery, delivered, delayed,
/// failed_attempt) with its text and HTML parts.
pub(crate) fn render_notice(
    letterhead: &Letterhead,
    f: &Facts<'_>,
) -> Result<Rendered, askama::Error> {
    let kind = match f.what {
        "shipped" => "delivery_shipped",
        "out_for_delivery" => "delivery_out",
        "delivered" => "delivery_delivered",
        "delayed" => "delivery_delayed",
        _ => "delivery_failed_attempt",
    };
    Ok(Rendered {
        kind,
        template: T,
        subject: Subject {
            letterhead,
            what: f.what,
        }
        .render()?
        .trim()
        .to_string(),
        text: Text {
            letterhead,
            what: f.what,
            patient_name: f.patient_name,
            code: f.code,
            window: f.window,
            received_by: f.received_by,
            receipt_url: f.receipt_url,
            reason: f.reason,
        }
        .render()?,
        html: Html {
            letterhead,
            what: f.what,
            patient_name: f.patient_name,
            code: f.code,
            window: f.window,
            received_by: f.received_by,
            receipt_url: f.receipt_url,
            reason: f.reason,
        }
        .render()?,
        attachments: Vec::new(),
    })
}

/// Renders and queues notice `what` about delivery `id` to its patient (in the
/// caller's transaction). `code` only for shipped; `reason` for a failed attempt.
#[allow(clippy::too_many_arguments)]
pub(crate) fn notice(
    c: &mut DbConnection,
    ctx: &Ctx,
    outbox: &OutboxConfig,
    pharmacy_id: &str,
    id: &str,
    what: &'static str,
    code: &str,
    reason: &str,
) -> Result<String, DeliveryError> {
    let d: Delivery = super::find(c, pharmacy_id, id)?.ok_or(DeliveryError::NotFound)?;
    let patient_name: String = patients::table
        .find((pharmacy_id, &d.patient_id))
        .select(patients::name_kanji)
        .first(c)?;
    let products: Vec<String> = delivery_items::table
        .filter(delivery_items::pharmacy_id.eq(pharmacy_id))
        .filter(delivery_items::delivery_id.eq(id))
        .select(delivery_items::product_name)
        .load(c)?;
    let receipt_url = if what == "delivered" {
        receipt_link(c, pharmacy_id, id, ctx.now.naive_utc(), outbox)?
    } else {
        String::new()
    };
    let letterhead = notices::letterhead(c, pharmacy_id)?;
    let window = window_label(d.window_start, d.window_end);
    let received_by = d.custody.received_by.clone().unwrap_or_default();
    let rendered = render_notice(
        &letterhead,
        &Facts {
            what,
            patient_name: &patient_name,
            code,
            window: &window,
            received_by: &received_by,
            receipt_url: &receipt_url,
            reason,
        },
    )
    .map_err(|e| DeliveryError::WrongState(format!("notice template {T}: {e}")))?;
    // Product names must never reach a notice (the privacy check refuses it).
    let n = notices::enqueue(
        c,
        ctx,
        outbox,
        pharmacy_id,
        RecipientRef::Patient(d.patient_id.clone()),
        rendered,
        &products,
    )
    .map_err(|e| match e {
        notices::NoticeError::Db(d) => DeliveryError::Db(d),
        other => DeliveryError::WrongState(other.to_string()),
    })?;
    Ok(n.id)
}

/// What the receipt page shows (no product details).
#[derive(Debug, Clone, Serialize)]
pub struct ReceiptView {
    pub pharmacy_name: String,
    pub pharmacy_phone: String,
    pub patient_name: String,
    /// Japan time.
    pub delivered_at: String,
    pub received_by: String,
    pub confirmed: bool,
}

fn receipt_claims(
    c: &mut DbConnection,
    token: &str,
    now: DateTime<Utc>,
) -> Result<LinkClaims, PortalError> {
    let key = link_key(c, now.naive_utc())?;
    let claims = verify(&key, token, now.timestamp())?;
    if claims.a != "receipt" {
        return Err(PortalError::Link(
            crate::domain::guidance::link::LinkError::Malformed,
        ));
    }
    Ok(claims)
}

fn receipt_of(c: &mut DbConnection, claims: &LinkClaims) -> Result<ReceiptView, PortalError> {
    let d: Delivery =
        super::find(c, &claims.p, &claims.s)?.ok_or(diesel::result::Error::NotFound)?;
    let (pharmacy_name, phone): (String, String) = pharmacies::table
        .find(&claims.p)
        .select((pharmacies::name, pharmacies::phone))
        .first(c)?;
    let patient_name: String = patients::table
        .find((&claims.p, &d.patient_id))
        .select(patients::name_kanji)
        .first(c)?;
    Ok(ReceiptView {
        pharmacy_name,
        pharmacy_phone: crate::domain::text::format_phone(&phone),
        patient_name,
        delivered_at: d
            .custody
            .delivered_at
            .map(|t| {
                crate::context::jst(t)
                    .format("%Y年%m月%d日 %H:%M")
                    .to_string()
            })
            .unwrap_or_default(),
        received_by: d.custody.received_by.unwrap_or_default(),
        confirmed: d.custody.receipt_confirmed_at.is_some(),
    })
}

/// The receipt page behind a link (audited as the patient's read).
pub fn receipt_view(
    conn: &mut DbConnection,
    token: &str,
    now: DateTime<Utc>,
) -> Result<ReceiptView, PortalError> {
    let claims = receipt_claims(conn, token, now)?;
    let v = receipt_of(conn, &claims)?;
    let ctx = Ctx::system("patient-portal", now);
    audit::record_alone(
        conn,
        &ctx,
        Event::ok(Some(&claims.p), "delivery.receipt_viewed").subject("delivery", &claims.s),
    )?;
    Ok(v)
}

/// The patient confirms receipt (once per link; a used link is refused). Closes
/// the follow-up task if one was made.
pub fn confirm_receipt(
    conn: &mut DbConnection,
    token: &str,
    now: DateTime<Utc>,
) -> Result<ReceiptView, PortalError> {
    let claims = receipt_claims(conn, token, now)?;
    let ctx = Ctx::system("patient-portal", now);
    write_transaction(conn, |c| {
        let inserted = c.transaction(|c| {
            diesel::insert_into(portal_link_uses::table)
                .values((
                    portal_link_uses::nonce.eq(&claims.n),
                    portal_link_uses::pharmacy_id.eq(&claims.p),
                    portal_link_uses::session_id.eq(&claims.s),
                    portal_link_uses::action.eq("receipt"),
                    portal_link_uses::used_at.eq(now.naive_utc()),
                ))
                .execute(c)
        });
        match inserted {
            Ok(_) => {}
            Err(e) if crate::db::backend::is_unique_violation(&e) => return Err(PortalError::Used),
            Err(e) => return Err(e.into()),
        }
        diesel::update(delivery_custody::table.find((&claims.p, &claims.s)))
            .filter(delivery_custody::receipt_confirmed_at.is_null())
            .set(delivery_custody::receipt_confirmed_at.eq(Some(now.naive_utc())))
            .execute(c)?;
        crate::tasks::close(
            c,
            &claims.p,
            "delivery_unconfirmed",
            &claims.s,
            "patient",
            "受け取り確認（ポータル）",
            now.naive_utc(),
        )?;
        audit::record(
            c,
            &ctx,
            Event::ok(Some(&claims.p), "delivery.receipt_confirmed").subject("delivery", &claims.s),
        )?;
        receipt_of(c, &claims)
    })
}

/// Delivered controlled or refrigerated deliveries whose receipt the patient has
/// not confirmed by their follow-up time: one task each (however often it runs),
/// audited with it.
pub fn followup_sweep(conn: &mut DbConnection, now: DateTime<Utc>) -> QueryResult<usize> {
    let due: Vec<(String, String, NaiveDateTime)> = deliveries::table
        .inner_join(
            delivery_custody::table.on(delivery_custody::pharmacy_id
                .eq(deliveries::pharmacy_id)
                .and(delivery_custody::delivery_id.eq(deliveries::id))),
        )
        .filter(deliveries::state.eq("delivered"))
        .filter(deliveries::needs_followup.eq(true))
        .filter(delivery_custody::receipt_confirmed_at.is_null())
        .filter(delivery_custody::followup_at.le(now.naive_utc()))
        .select((
            deliveries::pharmacy_id,
            deliveries::id,
            deliveries::window_start,
        ))
        .load(conn)?;
    let mut made = 0;
    let ctx = Ctx::system("delivery-followup", now);
    for (pid, id, window) in due {
        let created = write_transaction(conn, |c| {
            let created = crate::tasks::ensure(
                c,
                &pid,
                &crate::tasks::NewTask {
                    kind: "delivery_unconfirmed",
                    subject_type: "delivery",
                    subject_id: &id,
                    // Task titles carry no patient names (the list is read by all staff).
                    title: format!(
                        "{} お届けの配送 {}: 受け取り確認がありません（電話で確認）",
                        crate::context::jst(window).format("%m月%d日"),
                        &id[id.len().saturating_sub(6)..]
                    ),
                    urgent: false,
                    due_on: Some(crate::guidance::to_local(now.naive_utc()).date()),
                },
                now.naive_utc(),
            )?;
            if created {
                audit::record(
                    c,
                    &ctx,
                    Event::ok(Some(&pid), "delivery.followup_task")
                        .subject("delivery", &id)
                        .detail("receipt not confirmed"),
                )?;
            }
            Ok::<_, diesel::result::Error>(created)
        })?;
        if created {
            made += 1;
        }
    }
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_say_what_happened_and_never_name_a_product() {
        let letterhead = Letterhead {
            name: "さくら薬局".into(),
            postal_code: "160-0022".into(),
            address: "東京都新宿区新宿3-1-1".into(),
            phone: "03-1234-5678".into(),
        };
        let products = vec![
            "ランタス注ソロスター".to_string(),
            "オキシコンチンTR錠5mg".to_string(),
        ];
        for (what, expect) in [
            ("shipped", "受け渡しコード: 123456"),
            ("out_for_delivery", "お届けに向かっています"),
            ("delivered", "https://x.example/portal/receipt/t"),
            ("delayed", "遅れます"),
            ("failed_attempt", "不在"),
        ] {
            let r = render_notice(
                &letterhead,
                &Facts {
                    what,
                    patient_name: "山田 太郎",
                    code: if what == "shipped" { "123456" } else { "" },
                    window: "12月01日 10:00〜12:00",
                    received_by: "本人",
                    receipt_url: "https://x.example/portal/receipt/t",
                    reason: "不在（次回 12/02 10:00）",
                },
            )
            .unwrap();
            assert!(r.text.contains(expect), "{what}: {}", r.text);
            assert!(r.html.contains("山田 太郎") && r.subject.contains("さくら薬局"));
            assert_eq!(crate::notices::templates::leaked_term(&r, &products), None);
            assert_eq!(
                r.text.contains("123456"),
                what == "shipped",
                "the code only when shipped"
            );
        }
    }
}
