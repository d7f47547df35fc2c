//! Faults the simulated upstream can inject in front of any provider: an HTTP status with a
//! plain body, a 429 with `Retry-After`, a slow answer, a body broken off mid-way, or 200 with
//! garbage. Tests set one fault at a time; `almanac demo --faults RATE` injects a random one
//! into that share of requests, to watch retries, breakers and rejects at work.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// One way to fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Status(u16),
    RateLimited { retry_after_secs: u64 },
    Slow(Duration),
    Truncated,
    Garbage,
}

/// What to inject: one fault for every request (tests), or a random one into a share of them.
#[derive(Clone, Default)]
pub struct Faults {
    inner: Arc<Mutex<Plan>>,
}

#[derive(Default)]
struct Plan {
    always: Option<Fault>,
    random_rate: f64,
}

impl Faults {
    /// Every request fails with `fault` (or none) from now on.
    pub fn set(&self, fault: Option<Fault>) {
        if let Ok(mut plan) = self.inner.lock() {
            plan.always = fault;
        }
    }

    /// A share of requests (0–1) fails with a random fault.
    pub fn random(rate: f64) -> Self {
        let faults = Self::default();
        if let Ok(mut plan) = faults.inner.lock() {
            plan.random_rate = rate.clamp(0.0, 1.0);
        }
        faults
    }

    fn pick(&self) -> Option<Fault> {
        let plan = self.inner.lock().ok()?;
        if plan.always.is_some() {
            return plan.always;
        }
        if fastrand::f64() >= plan.random_rate {
            return None;
        }
        Some(match fastrand::u8(0..5) {
            0 => Fault::Status(500),
            1 => Fault::Status(503),
            2 => Fault::RateLimited {
                retry_after_secs: 1,
            },
            3 => Fault::Truncated,
            _ => Fault::Slow(Duration::from_millis(1_500)),
        })
    }
}

/// The middleware: `router.layer(axum::middleware::from_fn_with_state(faults, inject))`.
pub async fn inject(State(faults): State<Faults>, request: Request, next: Next) -> Response {
    match faults.pick() {
        None => next.run(request).await,
        Some(Fault::Status(code)) => (
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "injected failure",
        )
            .into_response(),
        Some(Fault::RateLimited { retry_after_secs }) => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry_after_secs.to_string())],
            "injected rate limit",
        )
            .into_response(),
        Some(Fault::Slow(delay)) => {
            tokio::time::sleep(delay).await;
            next.run(request).await
        }
        Some(Fault::Truncated) => {
            // Announces more bytes than it sends: the client sees the body break off.
            let stream = cut_short(b"{\"partial\": [1, 2".to_vec());
            Response::builder()
                .header(header::CONTENT_LENGTH, "4096")
                .body(Body::from_stream(stream))
                .unwrap_or_default()
        }
        Some(Fault::Garbage) => (StatusCode::OK, "<html>surprise</html>").into_response(),
    }
}

/// A body stream yielding one chunk, then, after a pause that lets the headers and that chunk
/// reach the client, an error that cuts the connection short.
fn cut_short(
    chunk: Vec<u8>,
) -> impl futures_core::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    CutShort {
        chunk: Some(chunk),
        pause: Box::pin(tokio::time::sleep(Duration::from_millis(50))),
    }
}

struct CutShort {
    chunk: Option<Vec<u8>>,
    pause: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl futures_core::Stream for CutShort {
    type Item = Result<bytes::Bytes, std::io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        if let Some(chunk) = self.chunk.take() {
            return Poll::Ready(Some(Ok(bytes::Bytes::from(chunk))));
        }
        match self.pause.as_mut().poll(context) {
            Poll::Ready(()) => Poll::Ready(Some(Err(std::io::Error::other("injected truncation")))),
            Poll::Pending => Poll::Pending,
        }
    }
}
