//! A simulated REE apidatos (`/ree/datos/mercados/precios-mercados-tiempo-real`) that speaks the
//! real wire format: local-time `start_date`/`end_date`, `included[]` series keyed by id (1001
//! PVPC, 600 spot) with localized titles, values stamped in Madrid local time with their offset
//! (25 values on the autumn day, 23 in spring), and the JSON:API `errors` object for a bad
//! request. Prices follow a plausible day: night valley, solar dip, evening peak, seasons, noise,
//! and PVPC adds the 2.0TD period charges.

use axum::Json;
use axum::Router;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use serde::Deserialize;
use serde_json::{Value, json};

use super::climate::{noise, round};
use crate::domain::Timestamp;

pub const PATH: &str = "/ree/datos/mercados/precios-mercados-tiempo-real";

/// apidatos refuses hourly ranges longer than this (the real limit is undocumented).
const MAX_DAYS: i64 = 32;

#[derive(Deserialize)]
struct Params {
    start_date: Option<String>,
    end_date: Option<String>,
    time_trunc: Option<String>,
    geo_limit: Option<String>,
}

pub fn router() -> Router {
    Router::new().route(
        PATH,
        get(|Query(p): Query<Params>| async move { respond(&p) }),
    )
}

fn respond(params: &Params) -> Response {
    match build(params) {
        Ok(body) => Json(body).into_response(),
        Err(detail) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"errors": [{"code": 400, "status": "400", "title": "Bad Request", "detail": detail}]})),
        )
            .into_response(),
    }
}

/// The spot price (€/MWh) of the hour starting at `ts` in Madrid.
pub fn spot(ts: Timestamp) -> f64 {
    let zone = TimeZone::get("Europe/Madrid").unwrap_or(TimeZone::UTC);
    let local = ts.to_jiff().to_zoned(zone);
    let hour = f64::from(local.hour());
    let day = f64::from(local.day_of_year());
    let hours = ts.epoch() as f64 / 3_600.0;
    let season = (std::f64::consts::TAU * (day - 20.0) / 365.25).cos(); // +1 mid-winter
    let valley = -22.0 * (-(hour - 4.0).powi(2) / 6.0).exp();
    let solar = -(18.0 - 8.0 * season) * (-(hour - 14.0).powi(2) / 8.0).exp();
    let peak =
        30.0 * (-(hour - 21.0).powi(2) / 4.0).exp() + 12.0 * (-(hour - 9.0).powi(2) / 3.0).exp();
    let regime = 18.0 * noise(0x5EED, 11, hours, 96.0) + 5.0 * noise(0x5EED, 12, hours, 6.0);
    round(
        (75.0 + 20.0 * season + valley + solar + peak + regime).max(-5.0),
        2,
    )
}

/// PVPC: the spot price plus the 2.0TD period charges (P1 peak, P2 flat, P3 valley and weekends).
pub fn pvpc(ts: Timestamp) -> f64 {
    let zone = TimeZone::get("Europe/Madrid").unwrap_or(TimeZone::UTC);
    let local = ts.to_jiff().to_zoned(zone);
    let weekend = local.weekday().to_monday_one_offset() >= 6;
    let charge = match local.hour() {
        _ if weekend => 15.0,
        10..=13 | 18..=21 => 105.0,
        8..=9 | 14..=17 | 22..=23 => 55.0,
        _ => 15.0,
    };
    round(spot(ts) + charge, 2)
}

fn build(p: &Params) -> Result<Value, String> {
    let (Some(start), Some(end)) = (p.start_date.as_deref(), p.end_date.as_deref()) else {
        return Err("start_date and end_date are required".into());
    };
    if p.time_trunc.as_deref().unwrap_or("hour") != "hour" {
        return Err("only time_trunc=hour is simulated".into());
    }
    if p.geo_limit.as_deref().is_some_and(|g| g != "peninsular") {
        return Err(format!(
            "no data for geo_limit {}",
            p.geo_limit.as_deref().unwrap_or("")
        ));
    }
    let zone = TimeZone::get("Europe/Madrid").map_err(|e| e.to_string())?;
    let parse = |text: &str| -> Result<i64, String> {
        let civil = DateTime::strptime("%Y-%m-%dT%H:%M", text)
            .map_err(|_| format!("{text} is not YYYY-MM-DDTHH:MM"))?;
        civil
            .to_zoned(zone.clone())
            .map(|z| z.timestamp().as_second())
            .map_err(|e| e.to_string())
    };
    let (from, to) = (parse(start)?, parse(end)?);
    if to < from {
        return Err("end_date is before start_date".into());
    }
    if to - from > MAX_DAYS * 86_400 {
        return Err(format!(
            "the range exceeds {MAX_DAYS} days for time_trunc=hour"
        ));
    }
    let hours: Vec<Timestamp> = (from.div_euclid(3_600)..=to.div_euclid(3_600))
        .map(|h| Timestamp::from_epoch(h * 3_600))
        .collect();
    let stamp = |ts: Timestamp| {
        ts.to_jiff()
            .to_zoned(zone.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%.3f%:z")
            .to_string()
    };
    let series = |id: &str, title: &str, price: fn(Timestamp) -> f64| {
        let values: Vec<Value> = hours
            .iter()
            .map(|&ts| json!({"value": price(ts), "percentage": 0.5, "datetime": stamp(ts)}))
            .collect();
        json!({"type": title, "id": id, "groupId": null, "attributes": {
            "title": title, "description": null, "color": "#ffcf09", "type": null,
            "magnitude": "price", "composite": false, "last-update": stamp(hours[hours.len() - 1]),
            "values": values}})
    };
    Ok(json!({
        "data": {"type": "Precios mercado peninsular en tiempo real", "id": "mer13",
                 "attributes": {"title": "Precios mercado peninsular en tiempo real", "last-update": stamp(hours[0]), "description": null},
                 "meta": {"cache-control": {"cache": "MISS"}}},
        "included": [
            series("1001", "PVPC (€/MWh)", pvpc),
            series("600", "Precio mercado spot (€/MWh)", spot),
        ]
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::ree::parse::apidatos;

    #[test]
    fn the_autumn_day_has_25_hours_and_parses_back() {
        let p = Params {
            start_date: Some("2025-10-26T00:00".into()),
            end_date: Some("2025-10-26T23:59".into()),
            time_trunc: Some("hour".into()),
            geo_limit: Some("peninsular".into()),
        };
        let body = serde_json::to_vec(&build(&p).unwrap()).unwrap();
        let payload = apidatos(&body).unwrap();
        assert!(payload.rejects.is_empty());
        let pvpc: Vec<_> = payload
            .readings
            .iter()
            .filter(|r| r.observation.variable == "pvpc")
            .collect();
        assert_eq!(pvpc.len(), 25);
        assert!(
            pvpc.iter()
                .all(|r| r.observation.value > spot(r.observation.ts))
        );
    }
}
