//! Serving data answers through the response cache ([`crate::cache`]): the data version of the
//! answer's (location, dataset) is read first; a cached answer at that version is sent as is,
//! gzipped when the client accepts it, or as `304 Not Modified` when the client already holds it
//! (`If-None-Match`). Only `200` answers are kept. With Redis configured, a local miss asks Redis
//! (`x-cache: shared`) before computing, and a computed answer is offered to Redis. While the
//! store does not answer, the last answer computed for the request is sent (`x-cache: stale`),
//! and a request without one gets 503 `store_unavailable`.

use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::ApiError;
use crate::cache::Entry;
use crate::core::Core;
use crate::domain::Dataset;

/// The answer for `key`, from the cache while the version of `location`'s `dataset` is the one
/// it was computed at, else from `compute`.
pub async fn cached<F>(
    core: &Core,
    headers: &HeaderMap,
    key: String,
    location: &str,
    dataset: Dataset,
    compute: F,
) -> Result<Response, ApiError>
where
    F: Future<Output = Result<Response, ApiError>>,
{
    let version = match crate::query::version(core, location, dataset).await {
        Ok(version) => version,
        // The store does not answer: the last answer computed is better than none, and says so.
        Err(error) if error.is_unavailable() => match core.cache.last(&key) {
            Some(entry) => {
                count(core, "stale");
                let mut response = respond(&entry, headers, "stale", true);
                response.extensions_mut().insert(super::error::StoreFailed);
                return Ok(response);
            }
            None => return Err(error.into()),
        },
        Err(error) => return Err(error.into()),
    };
    if let Some(entry) = core.cache.get(&key, version) {
        count(core, "hit");
        return Ok(respond(&entry, headers, "hit", true));
    }
    // Redis keys name the data version too: another replica's answer at this version is ours.
    let prefix = &core.config.redis.prefix;
    let shared_key = format!("{prefix}:answer:{location}:{dataset}:{version}:{key}");
    if let Some(shared) = &core.shared
        && let Some((body, content_type)) = shared.get(&shared_key).await
    {
        count(core, "shared");
        let entry = Arc::new(Entry::new(version, body, content_type));
        let kept = core.cache.put(key, entry.clone());
        return Ok(respond(&entry, headers, "shared", kept));
    }
    // Computing is CPU work: a turn each, in arrival order (`http.concurrent_answers`), held
    // until the answer is encoded. While waiting, another request may have computed this one.
    let _turn = core.answers.acquire().await;
    if let Some(entry) = core.cache.get(&key, version) {
        count(core, "hit");
        return Ok(respond(&entry, headers, "hit", true));
    }
    count(core, "miss");
    let response = compute.await?;
    if response.status() != StatusCode::OK {
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    let body = axum::body::to_bytes(body, usize::MAX).await?;
    let entry = Arc::new(Entry::new(version, body, content_type));
    let kept = core.cache.put(key, entry.clone());
    if let Some(shared) = core.shared.clone() {
        let entry = entry.clone();
        tokio::spawn(async move { shared.put(&shared_key, &entry).await });
    }
    Ok(respond(&entry, headers, "miss", kept))
}

fn count(core: &Core, result: &str) {
    core.metrics.add(
        "almanac_response_cache_requests_total",
        &[("result", result)],
        1.0,
    );
    let seed = if result == "miss" {
        "external_cache_miss_total"
    } else {
        "external_cache_hit_total"
    };
    core.metrics.add(seed, &[], 1.0);
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|p| p.replace(' ', "") == "q=0");
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// `entry` as the client asked for it; gzipped once and kept when the cache keeps `entry`, at the
/// fastest level otherwise.
fn respond(entry: &Entry, headers: &HeaderMap, cache: &'static str, kept: bool) -> Response {
    let not_modified = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == entry.etag
        });
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else if accepts_gzip(headers) {
        let body = if kept {
            entry.gzip().clone()
        } else {
            entry.gzip_once()
        };
        let mut response = Response::new(Body::from(body));
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        response
    } else {
        Response::new(Body::from(entry.body.clone()))
    };
    let out = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&entry.content_type) {
        out.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&entry.etag) {
        out.insert(header::ETAG, value);
    }
    out.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    out.insert("x-cache", HeaderValue::from_static(cache));
    response
}
