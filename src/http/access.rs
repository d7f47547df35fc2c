//! Who may read, and how often: optional API keys for the read API (`[http.api_keys]`, SHA-256
//! digests by name; a request names its key as `Authorization: Bearer <key>`) and a per-client
//! rate limit (`http.rate_limit_per_minute`, by key when keys are configured, else by address)
//! answered with 429 and `Retry-After`. Health and metrics are never limited nor keyed; the
//! routes with a token of their own (admin, tenant registration) and the static pages (`/ui`,
//! `/docs`, `/openapi.json`) need no key.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::ApiError;
use crate::config::HttpConfig;
use crate::metrics::Metrics;
use crate::secret::{parse_sha256 as parse_digest, sha256 as digest};

/// Who a request is counted as.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum Client {
    Key(Arc<str>),
    Address(IpAddr),
}

pub struct Access {
    /// Name and SHA-256 digest of each API key (empty: the read API is open).
    keys: Vec<(Arc<str>, [u8; 32])>,
    /// The admin token's digest: it opens the read API too.
    admin: Option<[u8; 32]>,
    limiter: Option<DefaultKeyedRateLimiter<Client>>,
    forwarded_for: bool,
    metrics: Arc<Metrics>,
    /// Checks since the limiter last forgot idle clients.
    checks: AtomicU64,
}

/// Every this many limited requests, clients whose allowance is full again are forgotten, so
/// the limiter's memory follows the clients of the last minute, not every address ever seen.
const FORGET_EVERY: u64 = 4096;

impl Access {
    /// From `[http]` (validated: every digest is 64 hex digits).
    pub fn of(http: &HttpConfig, metrics: Arc<Metrics>) -> Self {
        let keys = http
            .api_keys
            .iter()
            .filter_map(|(name, hex)| Some((Arc::from(name.as_str()), parse_digest(hex)?)))
            .collect();
        let limiter = NonZeroU32::new(http.rate_limit_per_minute).map(|per_minute| {
            let burst = NonZeroU32::new(http.rate_limit_burst).unwrap_or(per_minute);
            RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst))
        });
        Self {
            keys,
            admin: http.admin_token.as_ref().map(|t| digest(t.expose())),
            limiter,
            forwarded_for: http.forwarded_for,
            metrics,
            checks: AtomicU64::new(0),
        }
    }

    /// The name of the key a request's bearer token is, if any. Every configured digest is
    /// compared in full, so the time taken says nothing of which key (or how much of one)
    /// matched; the given token is hashed first, so its length says nothing either.
    fn key_of(&self, headers: &HeaderMap) -> Option<Arc<str>> {
        let token = headers
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .trim()
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))?
            .1
            .trim();
        if token.is_empty() {
            return None;
        }
        let given = digest(token);
        let mut found = None;
        let admin = self.admin.iter().map(|d| ("admin", d));
        let keys = self.keys.iter().map(|(name, d)| (&**name, d));
        for (name, expected) in keys.chain(admin) {
            if equal(&given, expected) {
                found = Some(name);
            }
        }
        found.map(Arc::from)
    }

    fn address(&self, request: &Request) -> IpAddr {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        if !self.forwarded_for {
            return peer;
        }
        // Only the entry the nearest proxy appended: a client can write any entries before it.
        // One that is not an address (`unknown`, garbage) counts as the peer.
        let last = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim);
        last.and_then(|a| {
            a.parse::<IpAddr>()
                .ok()
                .or_else(|| a.parse::<SocketAddr>().ok().map(|s| s.ip()))
        })
        .unwrap_or(peer)
    }

    /// Whether `client` may make one more request now; if not, in how many seconds it may.
    fn allow(&self, client: &Client) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
            limiter.retain_recent();
        }
        limiter.check_key(client).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

/// The route templates nothing limits: probes and scrapes must get through whatever a client
/// does.
fn unlimited(route: &str) -> bool {
    matches!(
        route,
        "/health" | "/health/live" | "/health/ready" | "/metrics"
    )
}

/// The route templates open without an API key: the unlimited ones, the static pages (the
/// dashboard asks for a key itself) and the routes that check a token of their own.
fn keyless(route: &str) -> bool {
    unlimited(route)
        || matches!(
            route,
            "/openapi.json"
                | "/docs"
                | "/docs/{file}"
                | "/ui"
                | "/ui/{file}"
                | "/ui/vendor/{file}"
                | "/api/v1/tenants/{tenant_id}/location"
        )
        || route.starts_with("/api/v1/admin/")
}

/// The middleware: the client's allowance first (429 with `Retry-After` when spent; by key when
/// it carries a valid one, else by address), then the key (401 without a valid one where keys
/// are configured).
pub async fn check(State(access): State<Arc<Access>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("", |m| m.as_str());
    if unlimited(route) || (access.keys.is_empty() && access.limiter.is_none()) {
        return next.run(request).await;
    }
    let needs_key = !access.keys.is_empty() && !keyless(route);
    let key = access.key_of(request.headers());
    let client = match &key {
        Some(name) if !access.keys.is_empty() => Client::Key(name.clone()),
        _ => Client::Address(network(access.address(&request))),
    };
    // Counted before a missing key is refused: guessing keys spends the address's allowance.
    if let Err(seconds) = access.allow(&client) {
        return limited(&access, seconds);
    }
    if key.is_none() && needs_key {
        access
            .metrics
            .add("almanac_http_refused_total", &[("reason", "api_key")], 1.0);
        return ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "api_key_required",
            detail: "this API needs a key: send `Authorization: Bearer <key>` with a key whose SHA-256 digest is in http.api_keys".into(),
        }
        .into_response();
    }
    next.run(request).await
}

/// The 429 of a client whose allowance is spent.
fn limited(access: &Access, seconds: u64) -> Response {
    access.metrics.add(
        "almanac_http_refused_total",
        &[("reason", "rate_limited")],
        1.0,
    );
    let mut response = ApiError {
        status: StatusCode::TOO_MANY_REQUESTS,
        code: "rate_limited",
        detail: format!(
            "too many requests from this client (http.rate_limit_per_minute); try again in {seconds} s"
        ),
    }
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
}

/// The address a client is counted by: itself for IPv4, its /64 for IPv6 (one host usually
/// holds a whole /64, and could otherwise take a new address for every request).
fn network(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
    }
}

/// Equality whose time does not depend on where two digests differ.
fn equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let differ = a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y));
    std::hint::black_box(differ) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_reads_back_and_bad_hex_is_refused() {
        // SHA-256 of "abc" (FIPS 180-2's example).
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(parse_digest(abc), Some(digest("abc")));
        assert_eq!(parse_digest(&abc.to_uppercase()), Some(digest("abc")));
        for bad in ["", "ab", &abc[1..], &format!("{}zz", &abc[2..])] {
            assert_eq!(parse_digest(bad), None, "{bad}");
        }
        assert!(equal(&digest("abc"), &digest("abc")));
        assert!(!equal(&digest("abc"), &digest("abd")));
    }

    #[test]
    fn probes_are_never_limited_and_own_token_routes_need_no_key() {
        assert!(unlimited("/health/ready") && unlimited("/metrics"));
        assert!(!unlimited("/api/v1/locations"));
        assert!(keyless("/api/v1/admin/{job}") && keyless("/ui") && keyless("/metrics"));
        assert!(!keyless("/api/v1/locations/{id}/{dataset}") && !keyless(""));
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(network(a), network(b));
        assert_ne!(network(a), network(c));
        let v4: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(network(v4), v4);
    }
}
