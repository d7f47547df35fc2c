//! The upstream client against a fake server that injects 500s, 429s, slow answers, truncated
//! and oversized bodies, over real HTTP on loopback.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use almanac::sources::upstream::{Budget, Endpoint, Policy, Upstream, UpstreamError};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::serve;

fn policy() -> Policy {
    Policy {
        max_in_flight: 1,
        timeout_secs: 1,
        retries: 3,
        backoff_initial_ms: 10,
        backoff_max_ms: 40,
        max_retry_after_secs: 5,
        breaker_failures: 3,
        breaker_cooldown_secs: 60,
        max_body_bytes: 1_000,
        budgets: vec![Budget {
            calls: 1_000,
            per_secs: 60,
        }],
    }
}

fn endpoint(policy: &Policy) -> Endpoint {
    Upstream::new().unwrap().endpoint("fake", policy)
}

fn url(address: SocketAddr, path: &str) -> reqwest::Url {
    format!("http://{address}{path}").parse().unwrap()
}

type Hits = Arc<AtomicUsize>;

async fn fake() -> (SocketAddr, Hits) {
    let hits: Hits = Arc::default();
    let router = Router::new()
        .route(
            "/flaky",
            get(|State(h): State<Hits>| async move {
                if h.fetch_add(1, Ordering::SeqCst) < 2 {
                    (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response()
                } else {
                    "ok".into_response()
                }
            }),
        )
        .route(
            "/limited",
            get(|State(h): State<Hits>| async move {
                if h.fetch_add(1, Ordering::SeqCst) == 0 {
                    (
                        StatusCode::TOO_MANY_REQUESTS,
                        [(header::RETRY_AFTER, "1")],
                        r#"{"error":true,"reason":"Minutely API request limit exceeded."}"#,
                    )
                        .into_response()
                } else {
                    "ok".into_response()
                }
            }),
        )
        .route(
            "/limited-long",
            get(|State(h): State<Hits>| async move {
                h.fetch_add(1, Ordering::SeqCst);
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, "3600")],
                    "Hourly API request limit exceeded",
                )
                    .into_response()
            }),
        )
        .route(
            "/slow",
            get(|State(h): State<Hits>| async move {
                h.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(3)).await;
                "late"
            }),
        )
        .route(
            "/big",
            get(|State(h): State<Hits>| async move {
                h.fetch_add(1, Ordering::SeqCst);
                "x".repeat(5_000)
            }),
        )
        .route(
            "/bad-request",
            get(|State(h): State<Hits>| async move {
                h.fetch_add(1, Ordering::SeqCst);
                (
                    StatusCode::BAD_REQUEST,
                    r#"{"error":true,"reason":"Invalid timezone"}"#,
                )
            }),
        )
        .route(
            "/down",
            get(|State(h): State<Hits>| async move {
                h.fetch_add(1, Ordering::SeqCst);
                StatusCode::SERVICE_UNAVAILABLE
            }),
        )
        .with_state(hits.clone());
    (serve(router).await, hits)
}

/// A server that promises 100 bytes, sends 5 and hangs up.
async fn truncating() -> (SocketAddr, Hits) {
    let hits: Hits = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut buffer = [0u8; 2_048];
            let _ = socket.read(&mut buffer).await;
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
                .await;
        }
    });
    (address, hits)
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    let (address, hits) = fake().await;
    let body = endpoint(&policy())
        .get(&url(address, "/flaky"), 1.0)
        .await
        .unwrap();
    assert_eq!(&body[..], b"ok");
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_429_is_retried_after_the_time_it_asks_for() {
    let (address, hits) = fake().await;
    let started = Instant::now();
    let body = endpoint(&policy())
        .get(&url(address, "/limited"), 1.0)
        .await
        .unwrap();
    assert_eq!(&body[..], b"ok");
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After: 1 was honoured"
    );
}

#[tokio::test]
async fn a_429_asking_for_too_long_a_wait_fails_at_once() {
    let (address, hits) = fake().await;
    let error = endpoint(&policy())
        .get(&url(address, "/limited-long"), 1.0)
        .await
        .unwrap_err();
    assert!(
        matches!(error, UpstreamError::RateLimited { retry_after: Some(d), .. } if d.as_secs() == 3_600),
        "{error:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn slow_answers_time_out_and_are_retried() {
    let (address, hits) = fake().await;
    let error = endpoint(&Policy {
        retries: 1,
        ..policy()
    })
    .get(&url(address, "/slow"), 1.0)
    .await
    .unwrap_err();
    assert_eq!(error, UpstreamError::Timeout);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn truncated_bodies_are_errors_and_retried() {
    let (address, hits) = truncating().await;
    let error = endpoint(&Policy {
        retries: 2,
        ..policy()
    })
    .get(&url(address, "/"), 1.0)
    .await
    .unwrap_err();
    assert!(matches!(error, UpstreamError::Body(_)), "{error:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn oversized_bodies_are_refused_without_retrying() {
    let (address, hits) = fake().await;
    let error = endpoint(&policy())
        .get(&url(address, "/big"), 1.0)
        .await
        .unwrap_err();
    assert_eq!(error, UpstreamError::TooLarge { limit: 1_000 });
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn client_errors_are_not_retried_and_keep_the_body() {
    let (address, hits) = fake().await;
    let error = endpoint(&policy())
        .get(&url(address, "/bad-request"), 1.0)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, UpstreamError::Status { status: 400, body } if body.contains("Invalid timezone")),
        "{error:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_circuit_opens_after_repeated_failures_and_stops_calling() {
    let (address, hits) = fake().await;
    let endpoint = endpoint(&Policy {
        retries: 5,
        ..policy()
    });
    let error = endpoint.get(&url(address, "/down"), 1.0).await.unwrap_err();
    assert!(matches!(error, UpstreamError::CircuitOpen(_)), "{error:?}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        3,
        "three failures open it; the fourth attempt is refused locally"
    );
    assert!(endpoint.circuit_open());
    assert!(matches!(
        endpoint.get(&url(address, "/flaky"), 1.0).await,
        Err(UpstreamError::CircuitOpen(_))
    ));
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn connection_refused_is_a_typed_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let error = endpoint(&Policy {
        retries: 0,
        ..policy()
    })
    .get(&url(address, "/"), 1.0)
    .await
    .unwrap_err();
    assert!(matches!(error, UpstreamError::Connect(_)), "{error:?}");
}

#[tokio::test]
async fn the_budget_paces_requests() {
    let (address, _) = fake().await;
    // Two calls a second with a burst of two: the third call waits about half a second.
    let endpoint = endpoint(&Policy {
        budgets: vec![Budget {
            calls: 2,
            per_secs: 1,
        }],
        ..policy()
    });
    let started = Instant::now();
    for _ in 0..3 {
        endpoint.get(&url(address, "/big"), 1.0).await.unwrap_err();
    }
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    let error = endpoint.get(&url(address, "/big"), 3.0).await.unwrap_err();
    assert_eq!(error, UpstreamError::OverBudget(3.0));
}
