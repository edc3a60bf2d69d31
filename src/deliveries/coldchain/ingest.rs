//! Logger readings in: JSON batches and CSV exports, validated whole, stored
//! idempotently by logger serial and time, each batch checked at once against the
//! products' ranges and, with its stored neighbours, for gaps.

use chrono::{DateTime, Duration, NaiveDateTime, Timelike};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{jst, quarantine, range_of, ranges};
use crate::audit::{self, Event};
use crate::context::Ctx;
use crate::db::schema::temperature_readings;
use crate::db::{write_transaction, DbConnection};
use crate::deliveries::{carrier, invalid, DeliveryError};
use crate::domain::delivery::coldchain::{LabelRange, Reading};
use crate::notices::OutboxConfig;

/// At most this many readings per batch.
pub const MAX_BATCH: usize = 20_000;
/// Rows per INSERT statement.
const CHUNK: usize = 500;

/// One reading as sent.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct ReadingInput {
    /// RFC 3339 with an offset, e.g. `2026-11-21T09:00:00+09:00`.
    pub at: String,
    pub celsius: f64,
}

/// A batch of readings from one logger.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct ReadingsBatch {
    /// Must be the logger registered for the delivery when it was sealed.
    pub logger_serial: String,
    pub readings: Vec<ReadingInput>,
}

/// What a batch did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Ingested {
    /// New readings stored.
    pub accepted: usize,
    /// Readings already stored (same logger and time): ignored.
    pub duplicates: usize,
    /// none, quarantined, use, return, destroy (after this batch).
    pub quarantine: String,
    pub quarantine_reason: Option<String>,
}

fn parse_batch(batch: &ReadingsBatch) -> Result<Vec<Reading>, DeliveryError> {
    if batch.readings.is_empty() || batch.readings.len() > MAX_BATCH {
        return Err(invalid(
            "readings",
            format!("1〜{MAX_BATCH}件の記録を送ってください"),
        ));
    }
    let mut out = Vec::with_capacity(batch.readings.len());
    for (i, r) in batch.readings.iter().enumerate() {
        let at = DateTime::parse_from_rfc3339(r.at.trim())
            .map_err(|_| invalid(&format!("readings[{i}].at"), "RFC 3339（時差付き）の日時"))?
            .naive_utc();
        if !r.celsius.is_finite() || !(-100.0..=100.0).contains(&r.celsius) {
            return Err(invalid(
                &format!("readings[{i}].celsius"),
                "-100〜100 ℃の数値",
            ));
        }
        out.push(Reading {
            at: at.with_nanosecond(0).unwrap_or(at),
            celsius: (r.celsius * 100.0).round() / 100.0,
        });
    }
    out.sort_by_key(|r| r.at);
    out.dedup_by_key(|r| r.at);
    Ok(out)
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Stores readings in the caller's transaction (`INSERT ... ON CONFLICT DO NOTHING`, many rows per
/// statement: MultiConnection has no batch insert); returns how many were new.
pub fn store_readings(
    c: &mut DbConnection,
    pharmacy_id: &str,
    serial: &str,
    id: &str,
    readings: &[Reading],
) -> QueryResult<usize> {
    let (p, s, d) = (quote(pharmacy_id), quote(serial), quote(id));
    let mut inserted = 0;
    for chunk in readings.chunks(CHUNK) {
        let mut sql = String::with_capacity(chunk.len() * 120 + 200);
        sql.push_str(
            "INSERT INTO temperature_readings (pharmacy_id, logger_serial, recorded_at, celsius, delivery_id) VALUES ",
        );
        for (i, r) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            // The same text diesel writes for a timestamp, so stored values compare alike.
            sql.push_str(&format!(
                "({p},{s},'{}',{:.2},{d})",
                r.at.format("%F %T%.f"),
                r.celsius
            ));
        }
        sql.push_str(" ON CONFLICT DO NOTHING");
        inserted += diesel::sql_query(sql).execute(c)?;
    }
    Ok(inserted)
}

/// The first problem in `readings` (sorted) with `before`/`after` stored
/// neighbours: a reading outside a range, or a gap over twice the interval.
fn first_problem(
    readings: &[Reading],
    before: Option<NaiveDateTime>,
    after: Option<NaiveDateTime>,
    ranges: &[LabelRange],
    interval: Duration,
) -> Option<String> {
    if let Some(r) = readings
        .iter()
        .find(|r| ranges.iter().any(|g| !g.contains(r.celsius)))
    {
        return Some(format!("温度逸脱 {} {:.1}℃", jst(r.at), r.celsius));
    }
    let mut times: Vec<NaiveDateTime> = before.into_iter().collect();
    times.extend(readings.iter().map(|r| r.at));
    times.extend(after);
    times
        .windows(2)
        .find(|w| w[1] - w[0] > interval * 2)
        .map(|w| format!("記録の欠落 {}〜{}", jst(w[0]), jst(w[1])))
}

/// Stores a batch of readings for delivery `id` (staff, or the assigned
/// courier's phone). Idempotent: a reading already stored for the logger and
/// time is ignored. A bad reading refuses the whole batch.
pub fn ingest(
    conn: &mut DbConnection,
    ctx: &Ctx,
    outbox: &OutboxConfig,
    pharmacy_id: &str,
    id: &str,
    batch: &ReadingsBatch,
) -> Result<Ingested, DeliveryError> {
    carrier(conn, ctx, pharmacy_id, id, "delivery.readings")?;
    let readings = parse_batch(batch)?;
    let serial = batch.logger_serial.trim().to_string();
    let total = batch.readings.len();
    write_transaction(conn, |c| {
        let d = crate::deliveries::find(c, pharmacy_id, id)?.ok_or(DeliveryError::NotFound)?;
        let Some(registered) = d.logger_serial.as_deref() else {
            return Err(DeliveryError::WrongState(
                "温度ロガーが登録されていません（封緘時に登録） (no logger registered)".into(),
            ));
        };
        if registered != serial {
            return Err(invalid(
                "logger_serial",
                format!("この配送のロガーは {registered} です"),
            ));
        }
        let accepted = store_readings(c, pharmacy_id, &serial, id, &readings)?;
        let interval = Duration::seconds(i64::from(d.logger_interval_seconds.unwrap_or(300)));
        let (first, last) = (readings[0].at, readings[readings.len() - 1].at);
        let mine = temperature_readings::table
            .filter(temperature_readings::pharmacy_id.eq(pharmacy_id))
            .filter(temperature_readings::logger_serial.eq(&serial))
            .filter(temperature_readings::delivery_id.eq(id));
        let before: Option<NaiveDateTime> = mine
            .filter(temperature_readings::recorded_at.lt(first))
            .select(diesel::dsl::max(temperature_readings::recorded_at))
            .first(c)?;
        let after: Option<NaiveDateTime> = mine
            .filter(temperature_readings::recorded_at.gt(last))
            .select(diesel::dsl::min(temperature_readings::recorded_at))
            .first(c)?;
        let limits: Vec<LabelRange> = ranges(c, pharmacy_id, id)?
            .iter()
            .map(|(_, r)| range_of(r))
            .collect();
        // After a "use" decision only what was recorded later can quarantine again.
        let since = match d.quarantine.as_str() {
            "use" => d.quarantine_decided_at,
            _ => None,
        };
        let fresh: Vec<Reading> = readings
            .iter()
            .filter(|r| since.is_none_or(|t| r.at > t))
            .cloned()
            .collect();
        let problem = if d.quarantine == "none" || d.quarantine == "use" {
            if fresh.is_empty() {
                None
            } else {
                first_problem(
                    &fresh,
                    before.filter(|b| since.is_none_or(|t| *b > t)),
                    after,
                    &limits,
                    interval,
                )
            }
        } else {
            None
        };
        if let Some(why) = &problem {
            quarantine(c, ctx, outbox, &d, pharmacy_id, why)?;
        }
        audit::record(
            c,
            ctx,
            Event::ok(Some(pharmacy_id), "delivery.readings")
                .subject("delivery", id)
                .detail(format!("{serial}: {accepted} new of {total}")),
        )?;
        let (quarantine, quarantine_reason) = match problem {
            Some(why) => ("quarantined".to_string(), Some(why)),
            None => (d.quarantine, d.quarantine_reason),
        };
        Ok(Ingested {
            accepted,
            duplicates: total - accepted,
            quarantine,
            quarantine_reason,
        })
    })
}

/// Stores a logger's CSV export (see [`crate::domain::delivery::logger_csv`]);
/// its serial, when the export names one, must be the delivery's logger.
pub fn ingest_csv(
    conn: &mut DbConnection,
    ctx: &Ctx,
    outbox: &OutboxConfig,
    pharmacy_id: &str,
    id: &str,
    logger_serial: &str,
    csv: &str,
) -> Result<Ingested, DeliveryError> {
    let export = crate::domain::delivery::logger_csv::parse(csv)
        .map_err(|e| invalid("file", e.to_string()))?;
    let serial = match (&export.serial, logger_serial.trim()) {
        (Some(s), given) if !given.is_empty() && s != given => {
            return Err(invalid(
                "logger_serial",
                format!("ファイルのシリアル番号 {s} と違います"),
            ))
        }
        (Some(s), _) => s.clone(),
        (None, given) => given.to_string(),
    };
    let mut all = Ingested {
        accepted: 0,
        duplicates: 0,
        quarantine: String::new(),
        quarantine_reason: None,
    };
    for chunk in export.readings.chunks(MAX_BATCH) {
        let batch = ReadingsBatch {
            logger_serial: serial.clone(),
            readings: chunk
                .iter()
                .map(|r| ReadingInput {
                    at: format!("{}Z", r.at.format("%FT%T")),
                    celsius: r.celsius,
                })
                .collect(),
        };
        let one = ingest(conn, ctx, outbox, pharmacy_id, id, &batch)?;
        all.accepted += one.accepted;
        all.duplicates += one.duplicates;
        all.quarantine = one.quarantine;
        all.quarantine_reason = one.quarantine_reason;
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(min: i64) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 21)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            + Duration::minutes(min)
    }

    #[test]
    fn a_batch_is_checked_with_its_stored_neighbours() {
        let cold = [LabelRange { min: 2.0, max: 8.0 }];
        let r = |m, c| Reading {
            at: at(m),
            celsius: c,
        };
        let five = Duration::minutes(5);
        assert_eq!(
            first_problem(&[r(0, 4.0), r(5, 5.0)], None, None, &cold, five),
            None
        );
        assert!(
            first_problem(&[r(0, 4.0), r(5, 9.0)], None, None, &cold, five)
                .unwrap()
                .starts_with("温度逸脱")
        );
        // 20 minutes since the last stored reading: a gap.
        assert!(first_problem(&[r(20, 4.0)], Some(at(0)), None, &cold, five)
            .unwrap()
            .starts_with("記録の欠落"));
        assert_eq!(
            first_problem(&[r(10, 4.0)], Some(at(5)), Some(at(15)), &cold, five),
            None
        );
    }

    #[test]
    fn batches_are_validated_whole() {
        let b = |at: &str, c: f64| ReadingsBatch {
            logger_serial: "L1".into(),
            readings: vec![ReadingInput {
                at: at.into(),
                celsius: c,
            }],
        };
        assert!(parse_batch(&b("2026-11-21T09:00:00+09:00", 4.0)).is_ok());
        assert!(parse_batch(&b("2026-11-21 09:00", 4.0)).is_err());
        assert!(parse_batch(&b("2026-11-21T09:00:00+09:00", f64::NAN)).is_err());
        assert!(parse_batch(&ReadingsBatch::default()).is_err());
        assert_eq!(quote("a'b"), "'a''b'");
    }
}
