//! Admin routes: `POST /api/v1/admin/{job}` starts `init`, `ingest`, `gaps`, `backfill` or
//! `rotate` in the background and answers at once (202) with the job's run id; `GET
//! /api/v1/runs/{id}` follows it. They require `Authorization: Bearer <token>` matching
//! `http.admin_token` (a secret: `ALMANAC__HTTP__ADMIN_TOKEN` or `http.admin_token_file`);
//! without a configured token they answer 403. A job takes the same lease as the scheduler's
//! job of that name, so a request never runs a job that is already running (409).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use super::ApiError;
use super::params::{ApiBody, ApiPath};
use crate::core::Core;
use crate::domain::Timestamp;
use crate::ops::job::{self, Job};
use crate::scheduler::{self, Clock, Leases, StoreLeases};

/// What a request may say about the job (a JSON body; all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// Limit the job to one location.
    location: Option<String>,
    /// `init`: months to load; `rotate`: months to keep.
    months: Option<u32>,
    /// `gaps`: how many recent days to backfill.
    days: Option<u32>,
}

#[derive(Serialize)]
pub struct Started {
    run: i64,
    job: &'static str,
    location: Option<String>,
    status: &'static str,
    href: String,
}

pub async fn start(
    State(core): State<Core>,
    ApiPath(name): ApiPath<String>,
    headers: HeaderMap,
    ApiBody(body): ApiBody,
) -> Result<Response, ApiError> {
    authorize(&core, &headers)?;
    let request: JobRequest = if body.iter().all(u8::is_ascii_whitespace) {
        JobRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(
                "invalid_body",
                format!(
                    "the body is a JSON object with optional `location`, `months`, `days`: {e}"
                ),
            )
        })?
    };
    let job = job_for(&core, &name, &request)?;
    if let Some(id) = &request.location
        && core.registry.enabled().all(|l| &l.id != id)
    {
        return Err(ApiError::not_found(
            "unknown_location",
            format!("no enabled location `{id}`"),
        ));
    }

    let leases = StoreLeases::of(&core);
    let now = Timestamp::now();
    let until = now.plus(scheduler::LEASE.as_secs() as i64);
    if !leases.claim(job.name(), now, until, now).await? {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            code: "job_running",
            detail: format!(
                "{} is running already (scheduled or requested); GET /api/v1/runs lists it",
                job.name()
            ),
        });
    }
    let run = match job::begin(&core, job, request.location.as_deref()).await {
        Ok(run) => run,
        Err(error) => {
            leases.release(job.name()).await?;
            return Err(error.into());
        }
    };
    let location = request.location.clone();
    let background = core.clone();
    let span = tracing::info_span!("job", job = job.name(), run, requested = true);
    tokio::spawn(
        async move {
            let work = job::execute(&background, job, run, location.as_deref());
            match scheduler::holding(&leases, job.name(), Clock::System, work).await {
                Ok(summary) => {
                    tracing::info!(values = ?summary.total(), failed = summary.failed(), "requested job done")
                }
                Err(error) => tracing::error!(error = format!("{error:#}"), "requested job failed"),
            }
        }
        .instrument(span),
    );
    let href = format!("/api/v1/runs/{run}");
    let mut response = (
        StatusCode::ACCEPTED,
        Json(Started {
            run,
            job: job.name(),
            location: request.location,
            status: "running",
            href: href.clone(),
        }),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&href) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// The job `name` with the request's parameters over the configured ones.
fn job_for(core: &Core, name: &str, request: &JobRequest) -> Result<Job, ApiError> {
    let mut job = Job::configured(name, core).ok_or_else(|| {
        ApiError::not_found(
            "unknown_job",
            format!(
                "no job `{name}`: one of init, ingest, gaps, backfill, rotate, process, forecast, train, predict"
            ),
        )
    })?;
    let months_ok = |m: u32| (1..=1200).contains(&m);
    match (&mut job, request.months, request.days) {
        (Job::Init { months }, Some(m), None) if months_ok(m) => *months = m,
        (Job::Rotate { months, .. }, Some(m), None) if months_ok(m) => *months = m,
        (Job::Gaps { days }, None, Some(d)) if (1..=366).contains(&d) => *days = d,
        (_, None, None) => {}
        _ => {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                format!(
                    "`months` (1..=1200) applies to init and rotate, `days` (1..=366) to gaps; got {request:?} for {name}"
                ),
            ));
        }
    }
    Ok(job)
}

/// Checks the bearer token against the configured one (see [`bearer_matches`]).
pub(super) fn authorize(core: &Core, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = &core.config.http.admin_token else {
        return Err(ApiError {
            status: StatusCode::FORBIDDEN,
            code: "admin_disabled",
            detail: "admin routes are disabled: set ALMANAC__HTTP__ADMIN_TOKEN (or http.admin_token_file) to enable them".into(),
        });
    };
    if bearer_among(headers, &[token.expose()]) {
        Ok(())
    } else {
        Err(ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            detail:
                "admin routes need `Authorization: Bearer <token>` with the configured admin token"
                    .into(),
        })
    }
}

/// Checks the bearer token of a tenant registration: the admin token or `http.tenant_token`.
pub(super) fn authorize_tenant(core: &Core, headers: &HeaderMap) -> Result<(), ApiError> {
    let http = &core.config.http;
    let tokens: Vec<&str> = [&http.admin_token, &http.tenant_token]
        .into_iter()
        .flatten()
        .map(|t| t.expose())
        .collect();
    if tokens.is_empty() {
        return Err(ApiError {
            status: StatusCode::FORBIDDEN,
            code: "registration_disabled",
            detail: "tenant registration is disabled: set ALMANAC__HTTP__TENANT_TOKEN (or the admin token) to enable it".into(),
        });
    }
    if bearer_among(headers, &tokens) {
        Ok(())
    } else {
        Err(ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            detail:
                "tenant routes need `Authorization: Bearer <token>` with the tenant or admin token"
                    .into(),
        })
    }
}

/// Whether the request's bearer token is one of `tokens`; every token is compared, so the time
/// taken does not say which one matched.
fn bearer_among(headers: &HeaderMap, tokens: &[&str]) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    tokens
        .iter()
        .fold(false, |any, token| bearer_matches(given, token) | any)
}

/// Whether an `Authorization` header value carries `expected` as a bearer token. The scheme is
/// case-insensitive (RFC 7235); a missing header, another scheme or an empty token never
/// matches, even an empty `expected` (which configuration refuses anyway). The comparison takes
/// time that depends only on the given token's length, never on where it differs from
/// `expected` or on `expected`'s length.
fn bearer_matches(header: Option<&str>, expected: &str) -> bool {
    let Some((scheme, given)) = header.and_then(|h| h.trim().split_once(' ')) else {
        return false;
    };
    let (given, expected) = (given.trim_start().as_bytes(), expected.as_bytes());
    if !scheme.eq_ignore_ascii_case("bearer") || given.is_empty() || expected.is_empty() {
        return false;
    }
    let mut differ = u8::from(given.len() != expected.len());
    for (i, byte) in given.iter().enumerate() {
        differ |= byte ^ expected[i % expected.len()];
    }
    std::hint::black_box(differ) == 0
}

#[cfg(test)]
mod tests {
    use super::bearer_matches;

    #[test]
    fn only_the_configured_bearer_token_matches() {
        assert!(bearer_matches(Some("Bearer s3cret"), "s3cret"));
        assert!(bearer_matches(Some("bearer s3cret"), "s3cret"));
        assert!(bearer_matches(Some("BEARER  s3cret"), "s3cret"));
        for wrong in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer "),
            Some("Basic s3cret"),
            Some("Bearer s3cre"),
            Some("Bearer s3cret2"),
            Some("Bearer s3cres"),
            Some("Bearer s3crets3cret"),
        ] {
            assert!(!bearer_matches(wrong, "s3cret"), "{wrong:?} matched");
        }
        for header in [None, Some(""), Some("Bearer "), Some("Bearer x")] {
            assert!(
                !bearer_matches(header, ""),
                "{header:?} matched an empty token"
            );
        }
    }
}
