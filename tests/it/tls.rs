//! TLS to PostgreSQL and Redis, against servers of the test's own with a CA and a server
//! certificate made on the spot: verify-full with the right CA connects (and the connection is
//! encrypted), a wrong CA or a host name the certificate does not name is refused, and almanac
//! runs on the store and cache it reached that way.

use std::net::SocketAddr;
use std::time::Duration;

use almanac::core::Core;

use crate::servers::{Certificates, Cluster, TlsRedis, available, certificates};
use crate::support::config;

fn tools(test: &str) -> bool {
    ["openssl", "initdb", "pg_ctl", "psql"]
        .iter()
        .all(|tool| available(tool, test))
}

/// Whether the store at `url` (with `ca`) opens; the error's text if not.
async fn open(url: &str, ca: Option<&std::path::Path>) -> Result<(), String> {
    almanac::store::Postgres::connect_verified(url, ca)
        .await
        .map(|_| ())
        .map_err(|e| format!("{e:#}"))
}

#[tokio::test]
async fn postgres_over_tls_is_verified_against_the_configured_ca() {
    if !tools("postgres_over_tls") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tls: Certificates = certificates(dir.path());
    let cluster = Cluster::start(dir.path(), "tls", Some(&tls));
    let by_name = cluster.url("localhost");

    // The right CA, the certificate's name: verify-full (what a CA file means by itself).
    open(&by_name, Some(&tls.ca)).await.unwrap();
    open(&format!("{by_name}?sslmode=verify-full"), Some(&tls.ca))
        .await
        .unwrap();
    // Another CA: refused, whatever else is right.
    let wrong = open(&by_name, Some(&tls.other_ca)).await.unwrap_err();
    assert!(
        wrong.to_lowercase().contains("certificate"),
        "a wrong CA is a certificate error: {wrong}"
    );
    // An address the certificate does not name: verify-full refuses, verify-ca (chain only)
    // accepts.
    let by_address = cluster.url("127.0.0.1");
    let mismatch = open(&by_address, Some(&tls.ca)).await.unwrap_err();
    assert!(
        mismatch.to_lowercase().contains("certificate") || mismatch.to_lowercase().contains("name"),
        "{mismatch}"
    );
    open(&format!("{by_address}?sslmode=verify-ca"), Some(&tls.ca))
        .await
        .unwrap();
    // verify-full without a CA file checks against the public roots: our CA is not one.
    assert!(
        open(&format!("{by_name}?sslmode=verify-full"), None)
            .await
            .is_err()
    );

    // almanac itself on that store: configured by store.url and store.ca_file, it works, and
    // its connections are encrypted.
    let unused: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let ca = tls.ca.to_str().unwrap();
    let settings = config(
        &dir,
        unused,
        &[
            ("ALMANAC__STORE__URL", by_name.as_str()),
            ("ALMANAC__STORE__CA_FILE", ca),
        ],
    );
    let core = Core::open(settings).await.unwrap();
    assert!(core.store.runs(5).await.unwrap().is_empty());
    let encrypted = cluster.psql(
        "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
         WHERE a.datname = 'postgres' AND s.ssl AND a.client_addr IS NOT NULL",
    );
    assert!(
        encrypted.parse::<u32>().unwrap() >= 1,
        "almanac's connections are TLS: {encrypted}"
    );
    let plain = cluster.psql(
        "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
         WHERE a.datname = 'postgres' AND NOT s.ssl AND a.client_addr IS NOT NULL \
         AND a.pid <> pg_backend_pid()",
    );
    assert_eq!(plain, "0", "no connection of almanac's is in clear");
}

#[tokio::test]
async fn redis_over_tls_is_verified_against_the_configured_ca() {
    if !(available("openssl", "redis_over_tls") && available("redis-server", "redis_over_tls")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tls = certificates(dir.path());
    let redis = TlsRedis::start(&tls);
    let timeout = Duration::from_secs(2);
    let url = format!("rediss://localhost:{}", redis.port);

    let shared = almanac::cache::Shared::new(&url, timeout, Some(&tls.ca)).unwrap();
    assert_eq!(
        shared
            .set_once("almanac:tls", "text/plain\nhello", Duration::from_secs(600))
            .await,
        Some(true)
    );
    let (body, content_type) = shared.get("almanac:tls").await.expect("read back");
    assert_eq!(
        (&body[..], content_type.as_str()),
        (&b"hello"[..], "text/plain")
    );
    assert_eq!(shared.errors(), 0);

    // A wrong CA, or no CA (the system's roots), never reaches it: each call fails (a miss
    // for the cache), counted.
    for ca in [Some(tls.other_ca.as_path()), None] {
        let refused = almanac::cache::Shared::new(&url, timeout, ca).unwrap();
        assert_eq!(refused.set_once("almanac:x", "a\nb", timeout).await, None);
        assert!(refused.errors() >= 1, "{ca:?}");
    }
    // A plain redis:// URL against a TLS-only server: nothing either.
    let plain = format!("redis://localhost:{}", redis.port);
    let refused = almanac::cache::Shared::new(&plain, timeout, None).unwrap();
    assert_eq!(refused.get("almanac:tls").await, None);

    // almanac configured with rediss:// and redis.ca_file shares answers through it.
    let unused: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let core = Core::open(config(
        &dir,
        unused,
        &[
            ("ALMANAC__REDIS__URL", url.as_str()),
            ("ALMANAC__REDIS__CA_FILE", tls.ca.to_str().unwrap()),
            // A handshake in an unoptimized test build can take longer than the default 150 ms.
            ("ALMANAC__REDIS__TIMEOUT_MS", "2000"),
        ],
    ))
    .await
    .unwrap();
    let shared = core.shared.as_ref().expect("the shared cache");
    assert_eq!(
        shared.get("almanac:tls").await.map(|(b, _)| b.len()),
        Some(5)
    );
}

#[tokio::test]
async fn a_ca_file_without_tls_urls_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let unused: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let problems = almanac::config::load(
        None,
        crate::support::env(
            &dir,
            unused,
            &[
                ("ALMANAC__REDIS__URL", "redis://127.0.0.1:6379"),
                ("ALMANAC__REDIS__CA_FILE", "/nonexistent/ca.pem"),
                ("ALMANAC__STORE__CA_FILE", "/nonexistent/pg-ca.pem"),
            ],
        ),
    )
    .unwrap_err()
    .to_string();
    for expected in [
        "redis.ca_file is set but redis.url is not a rediss://",
        "redis.ca_file: /nonexistent/ca.pem",
        "store.ca_file: /nonexistent/pg-ca.pem",
    ] {
        assert!(problems.contains(expected), "{expected} in {problems}");
    }
}
