//! The admin routes over real HTTP: a bearer token, 202 with a run id at once, the job running in
//! the background under its lease (a second request while it runs is refused), and the job's run
//! showing the runs it started.

use std::time::{Duration, Instant};

use almanac::core::Core;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use serde_json::{Value, json};

use crate::support::{client, config, serve};

const TOKEN: &str = "test-admin-token";

async fn slow(request: Request, next: Next) -> Response {
    tokio::time::sleep(Duration::from_millis(400)).await;
    next.run(request).await
}

/// The API on a fresh store whose Open-Meteo answers slowly; `token` configures the admin token.
async fn app(dir: &tempfile::TempDir, token: Option<&str>) -> String {
    let upstream = serve(almanac::demo::upstream::router().layer(middleware::from_fn(slow))).await;
    let extra: Vec<(&str, &str)> = token
        .map(|t| ("ALMANAC__HTTP__ADMIN_TOKEN", t))
        .into_iter()
        .collect();
    let core = Core::open(config(dir, upstream, &extra)).await.unwrap();
    format!("http://{}", serve(almanac::http::router(core)).await)
}

async fn post(url: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    let mut request = client().post(url).body(body.to_owned());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap(),
    )
}

#[tokio::test]
async fn admin_routes_are_closed_without_a_configured_token() {
    let dir = tempfile::tempdir().unwrap();
    let base = app(&dir, None).await;
    let (status, body) = post(&format!("{base}/api/v1/admin/ingest"), Some(TOKEN), "").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "admin_disabled");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("ALMANAC__HTTP__ADMIN_TOKEN")
    );
}

#[tokio::test]
async fn a_requested_job_runs_in_the_background_once_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let base = app(&dir, Some(TOKEN)).await;
    let init = format!("{base}/api/v1/admin/init");
    let body = r#"{"location": "madrid", "months": 1}"#;

    for (token, code) in [
        (None, "unauthorized"),
        (Some("wrong-token"), "unauthorized"),
    ] {
        let (status, answer) = post(&init, token, body).await;
        assert_eq!((status, answer["code"].as_str()), (401, Some(code)));
    }
    let refused = [
        ("/api/v1/admin/delete", body, 404, "unknown_job"),
        ("/api/v1/admin/init", "{not json", 400, "invalid_body"),
        (
            "/api/v1/admin/init",
            r#"{"location": "madrid", "since": 1}"#,
            400,
            "invalid_body",
        ),
        (
            "/api/v1/admin/init",
            r#"{"months": 0}"#,
            400,
            "invalid_parameter",
        ),
        (
            "/api/v1/admin/ingest",
            r#"{"months": 3}"#,
            400,
            "invalid_parameter",
        ),
        (
            "/api/v1/admin/init",
            r#"{"location": "atlantis"}"#,
            404,
            "unknown_location",
        ),
    ];
    for (path, body, want, code) in refused {
        let (status, answer) = post(&format!("{base}{path}"), Some(TOKEN), body).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (want, Some(code)),
            "{path} {body}: {answer}"
        );
    }

    let (status, started) = post(&init, Some(TOKEN), body).await;
    assert_eq!(status, 202, "{started}");
    assert_eq!(
        (
            started["job"].as_str(),
            started["location"].as_str(),
            started["status"].as_str()
        ),
        (Some("init"), Some("madrid"), Some("running"))
    );
    let run = started["run"].as_i64().unwrap();
    let (status, again) = post(&init, Some(TOKEN), body).await;
    assert_eq!(
        (status, again["code"].as_str()),
        (409, Some("job_running")),
        "each upstream answer takes 400 ms, so the first init is still running: {again}"
    );

    let href = format!("{base}{}", started["href"].as_str().unwrap());
    let began = Instant::now();
    let done = loop {
        let response = client().get(&href).send().await.unwrap();
        let detail: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        if detail["status"] != "running" {
            break detail;
        }
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "still running: {detail}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["operation"], "init");
    let children = done["children"].as_array().unwrap();
    assert!(!children.is_empty(), "{done}");
    assert!(
        children
            .iter()
            .all(|c| c["parent"] == json!(run) && c["location"] == "madrid")
    );
    let inserted: i64 = children
        .iter()
        .map(|c| c["counts"]["inserted"].as_i64().unwrap())
        .sum();
    assert!(
        inserted > 24 * 28,
        "a month of hourly values at least: {done}"
    );
    assert_eq!(
        done["counts"]["inserted"].as_i64(),
        Some(inserted),
        "the job counts its children"
    );

    let (status, rerun) = post(&init, Some(TOKEN), body).await;
    assert_eq!(
        status, 202,
        "the lease was let go when the job ended: {rerun}"
    );
}
