//! A simulated ESIOS: `/esios/indicators/{id}` for 1001 (PVPC, five geographies interleaved)
//! and 600 (spot, Spain), behind the `x-api-key` header, in the real body shape (`indicator`
//! with `values[]` carrying `datetime` with its offset, `datetime_utc`, `geo_id`, `geo_name`).
//! Prices are the REE simulator's, so both sources agree.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::ree::{pvpc, spot};
use crate::domain::{Step, Timestamp};

pub const BASE: &str = "/esios";

const GEOS: &[(u32, &str)] = &[
    (8741, "Península"),
    (8742, "Canarias"),
    (8743, "Baleares"),
    (8744, "Ceuta"),
    (8745, "Melilla"),
];

pub fn router() -> Router {
    Router::new().route(
        "/esios/indicators/{id}",
        get(
            |Path(id): Path<u32>,
             headers: HeaderMap,
             Query(q): Query<Vec<(String, String)>>| async move { indicator(id, &headers, &q) },
        ),
    )
}

fn indicator(id: u32, headers: &HeaderMap, query: &[(String, String)]) -> Response {
    if headers.get("x-api-key").is_none() {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "HTTP Token: Access denied."})),
        )
            .into_response();
    }
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let instant = |name: &str| {
        param(name)
            .and_then(|v| v.parse::<jiff::Timestamp>().ok())
            .map(|t| Timestamp::from_epoch(t.as_second()))
    };
    let (Some(start), Some(end)) = (instant("start_date"), instant("end_date")) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"message": "start_date and end_date are required"})),
        )
            .into_response();
    };
    type Price = fn(Timestamp) -> f64;
    let (name, price, geos): (&str, Price, Vec<(u32, &str)>) = match id {
        1001 => (
            "Término de facturación de energía activa del PVPC 2.0TD",
            pvpc,
            GEOS.to_vec(),
        ),
        600 => ("Precio mercado spot diario", spot, vec![(3, "España")]),
        _ => {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"message": "Indicator not found"})),
            )
                .into_response();
        }
    };
    let zone = jiff::tz::TimeZone::get("Europe/Madrid").unwrap_or(jiff::tz::TimeZone::UTC);
    let mut values = Vec::new();
    let mut ts = start.floor(Step::HOUR);
    while ts <= end {
        for &(geo, geo_name) in &geos {
            values.push(json!({
                "value": price(ts),
                "datetime": ts.to_jiff().to_zoned(zone.clone()).strftime("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string(),
                "datetime_utc": ts.to_jiff().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "tz_time": ts.to_jiff().strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                "geo_id": geo, "geo_name": geo_name,
            }));
        }
        ts = ts.plus(3_600);
    }
    let body: Value = json!({"indicator": {
        "name": name, "short_name": name, "id": id, "composited": false, "step_type": "linear",
        "disaggregated": true, "magnitud": [{"name": "Precio", "id": 23}], "tiempo": [{"name": "Hora", "id": 4}],
        "geos": geos.iter().map(|(g, n)| json!({"geo_id": g, "geo_name": n})).collect::<Vec<_>>(),
        "values": values}});
    Json(body).into_response()
}
