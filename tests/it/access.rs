//! Read-side limits over real sockets: a client that spends its allowance gets 429 with
//! `Retry-After` while others and the health probes go on; with API keys configured the data
//! routes need one (the admin token also opens them), the probes and pages do not, and each key
//! has its own allowance.

use std::net::SocketAddr;

use almanac::secret::{hex, sha256};

use crate::support::{client, metric, metrics_text};

const ADMIN: &str = "adm1n-t0ken";

/// The API (fresh store, no upstream) under the real accept loop with `extra` settings.
async fn server(dir: &tempfile::TempDir, extra: &[(&str, &str)]) -> String {
    let mut settings = vec![("ALMANAC__HTTP__ADMIN_TOKEN", ADMIN)];
    settings.extend_from_slice(extra);
    format!(
        "http://{}",
        crate::support::accept_loop(dir, &settings).await
    )
}

/// Status, `Retry-After` and the error code (if any) of a GET with these headers.
async fn get(base: &str, path: &str, headers: &[(&str, &str)]) -> (u16, Option<u64>, String) {
    let mut request = client().get(format!("{base}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    let body: serde_json::Value =
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or_default();
    // An error's code, or readiness' status.
    let code = body["code"].as_str().or(body["status"].as_str());
    let code = code.unwrap_or_default().to_owned();
    (status, retry, code)
}

#[tokio::test]
async fn a_client_past_its_allowance_waits_while_others_and_probes_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let base = server(
        &dir,
        &[
            ("ALMANAC__HTTP__RATE_LIMIT_PER_MINUTE", "3"),
            ("ALMANAC__HTTP__FORWARDED_FOR", "true"),
        ],
    )
    .await;
    let from = |address: &'static str| [("x-forwarded-for", address)];
    for n in 0..3 {
        let (status, _, _) = get(&base, "/api/v1/locations", &from("10.0.0.1")).await;
        assert_eq!(status, 200, "request {n} within the allowance");
    }
    let (status, retry, code) = get(&base, "/api/v1/locations", &from("10.0.0.1")).await;
    assert_eq!((status, code.as_str()), (429, "rate_limited"));
    // Three a minute: the next one is about 20 s away.
    let retry = retry.expect("a 429 says when to come back");
    assert!((1..=20).contains(&retry), "Retry-After {retry}");
    // Any route counts, an unknown one too; the probes and the scrape never do.
    assert_eq!(get(&base, "/nope", &from("10.0.0.1")).await.0, 429);
    // (Readiness answers 503 here by its own rule: the fresh store holds no data.)
    for path in ["/health/ready", "/health/live", "/health", "/metrics"] {
        let (status, _, code) = get(&base, path, &from("10.0.0.1")).await;
        assert!(
            status == 200 || code == "not_ready",
            "{path}: {status} {code}"
        );
    }
    // Another client (the last X-Forwarded-For entry: the one the proxy wrote) is not affected,
    // and entries a client writes before it do not make it someone else.
    assert_eq!(
        get(&base, "/api/v1/locations", &from("10.0.0.2")).await.0,
        200
    );
    let spoofed = [("x-forwarded-for", "10.0.0.9, 10.0.0.1")];
    assert_eq!(get(&base, "/api/v1/locations", &spoofed).await.0, 429);
    // A last entry that is not an address (`unknown`) counts as the peer (127.0.0.1, which has
    // made no request of its own yet), never as an earlier entry the client wrote.
    for n in 0..3 {
        let unknown = [("x-forwarded-for", "10.0.0.7, unknown")];
        assert_eq!(
            get(&base, "/api/v1/locations", &unknown).await.0,
            200,
            "{n}"
        );
    }
    let unknown = [("x-forwarded-for", "10.0.0.7, unknown")];
    assert_eq!(get(&base, "/api/v1/locations", &unknown).await.0, 429);
    assert_eq!(
        get(&base, "/api/v1/locations", &from("10.0.0.7")).await.0,
        200
    );
    // An address with a port, as some proxies write it, is that address.
    let with_port = [("x-forwarded-for", "10.0.0.2:5555")];
    assert_eq!(get(&base, "/api/v1/locations", &with_port).await.0, 200);
    let text = metrics_text(&base).await;
    assert_eq!(
        metric(&text, "almanac_http_refused_total{reason=\"rate_limited\"}"),
        Some(4.0)
    );
}

#[tokio::test]
async fn without_forwarded_for_the_peer_address_counts() {
    let dir = tempfile::tempdir().unwrap();
    let base = server(&dir, &[("ALMANAC__HTTP__RATE_LIMIT_PER_MINUTE", "2")]).await;
    for address in ["10.0.0.1", "10.0.0.2"] {
        let header = [("x-forwarded-for", address)];
        assert_eq!(get(&base, "/api/v1/locations", &header).await.0, 200);
    }
    // Both came from 127.0.0.1: the header is not trusted.
    assert_eq!(get(&base, "/api/v1/locations", &[]).await.0, 429);
}

#[tokio::test]
async fn with_api_keys_data_routes_need_one_and_each_key_has_its_allowance() {
    let (one, two) = ("alm_first-key", "alm_second-key");
    let (one_digest, two_digest) = (hex(&sha256(one)), hex(&sha256(two)));
    let bearer = |token: &str| format!("Bearer {token}");
    let path = "/api/v1/external/cities";

    // Without a rate limit: which requests a key opens.
    let dir = tempfile::tempdir().unwrap();
    let base = server(
        &dir,
        &[
            ("ALMANAC__HTTP__API_KEYS__FORECASTING", &one_digest),
            (
                "ALMANAC__HTTP__API_KEYS__DASHBOARD",
                &two_digest.to_uppercase(),
            ),
        ],
    )
    .await;
    for headers in [
        vec![],
        vec![("authorization", bearer("alm_first-ke"))],
        vec![("authorization", bearer(&one_digest))],
        vec![("authorization", format!("Basic {one}"))],
        vec![("authorization", "Bearer ".to_owned())],
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let (status, _, code) = get(&base, path, &headers).await;
        assert_eq!(
            (status, code.as_str()),
            (401, "api_key_required"),
            "{headers:?}"
        );
    }
    for token in [one, two, ADMIN] {
        let header = bearer(token);
        assert_eq!(get(&base, path, &[("authorization", &header)]).await.0, 200);
    }
    // Probes, pages and the routes with their own token need no key.
    for path in ["/health/ready", "/metrics", "/ui", "/openapi.json", "/docs"] {
        let (status, _, code) = get(&base, path, &[]).await;
        assert!(
            status == 200 || code == "not_ready",
            "{path}: {status} {code}"
        );
    }
    let (status, _, code) = get(
        &base,
        "/api/v1/tenants/8a7c9f5e-1b2d-4e3f-9a8b-7c6d5e4f3a2b/location",
        &[],
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (401, "unauthorized"),
        "the tenant token's own check"
    );
    let text = metrics_text(&base).await;
    assert_eq!(
        metric(&text, "almanac_http_refused_total{reason=\"api_key\"}"),
        Some(5.0)
    );

    // Two a minute: each key has its own allowance, from the same address; requests without
    // a valid key spend the address's, so guessing keys is limited too.
    let dir = tempfile::tempdir().unwrap();
    let base = server(
        &dir,
        &[
            ("ALMANAC__HTTP__API_KEYS__FORECASTING", &one_digest),
            ("ALMANAC__HTTP__API_KEYS__DASHBOARD", &two_digest),
            ("ALMANAC__HTTP__RATE_LIMIT_PER_MINUTE", "2"),
        ],
    )
    .await;
    let with = |token: &str| {
        let header = bearer(token);
        let base = base.clone();
        async move { get(&base, path, &[("authorization", &header)]).await.0 }
    };
    assert_eq!(with(one).await, 200);
    assert_eq!(with(one).await, 200);
    assert_eq!(with(one).await, 429);
    assert_eq!(with(two).await, 200);
    assert_eq!(with(ADMIN).await, 200);
    assert_eq!(with("alm_guess-1").await, 401);
    assert_eq!(with("alm_guess-2").await, 401);
    assert_eq!(
        with("alm_guess-3").await,
        429,
        "guesses spend the address's allowance"
    );
}

#[tokio::test]
async fn a_key_that_is_not_a_digest_or_the_admin_token_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let unused: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let admin_digest = hex(&sha256(ADMIN));
    let problems = almanac::config::load(
        None,
        crate::support::env(
            &dir,
            unused,
            &[
                ("ALMANAC__HTTP__ADMIN_TOKEN", ADMIN),
                ("ALMANAC__HTTP__API_KEYS__PLAIN", "alm_the-key-itself"),
                ("ALMANAC__HTTP__API_KEYS__ADMINISH", &admin_digest),
                ("ALMANAC__HTTP__RATE_LIMIT_BURST", "10"),
            ],
        ),
    )
    .unwrap_err()
    .to_string();
    for expected in [
        "http.api_keys.plain must be the key's SHA-256 digest",
        "http.api_keys holds the admin token's digest",
        "http.rate_limit_burst is set but http.rate_limit_per_minute is 0",
    ] {
        assert!(problems.contains(expected), "{expected} in {problems}");
    }
}
