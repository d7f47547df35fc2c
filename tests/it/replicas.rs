//! Reads from a real PostgreSQL streaming replica (`pg_basebackup` of a cluster the test starts):
//! the API reads from the replica while it keeps up (shown by pausing its replay: answers stay
//! at its state), skips it once it lags past the bound (answers come from the primary, readiness
//! says why), uses it again once it caught up, and a replica that dies between two checks costs
//! no request (the request runs again on the primary).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use almanac::core::Core;
use almanac::domain::{Step, Timestamp};
use almanac::ops;
use indicatif::ProgressBar;
use serde_json::Value;

use crate::servers::{Cluster, available};
use crate::support::{client, config, serve};

async fn get(base: &str, path: &str) -> (u16, Value) {
    let response = client().get(format!("{base}{path}")).send().await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or_default(),
    )
}

/// How many hourly temperatures the API answers for the two days before `now`.
async fn hours(base: &str, now: Timestamp) -> usize {
    let (start, end) = (now.plus(-2 * 86_400), now.plus(6 * 3_600));
    let path = format!(
        "/api/v1/locations/madrid/weather?start={start}&end={end}&variables=temperature&fill=none"
    )
    .replace('+', "%2B");
    let (status, body) = get(base, &path).await;
    assert_eq!(status, 200, "{body}");
    body["variables"]["temperature"]["values"]
        .as_array()
        .unwrap_or_else(|| panic!("temperatures in {body}"))
        .iter()
        .filter(|v| !v.is_null())
        .count()
}

/// Waits until the replica has replayed everything it received.
fn caught_up(replica: &Cluster) {
    let started = Instant::now();
    while replica.psql("SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()") != "t" {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "replica never caught up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn reads_go_to_the_replica_while_it_keeps_up_and_to_the_primary_when_it_does_not() {
    let test = "reads_from_a_replica";
    if !["initdb", "pg_ctl", "pg_basebackup", "psql"]
        .iter()
        .all(|tool| available(tool, test))
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let primary = Cluster::start(dir.path(), "primary", None);
    primary.psql("CREATE DATABASE almanac");
    let replica = Cluster::replica_of(&primary, dir.path(), "replica");
    let database = |c: &Cluster| format!("postgres://postgres@127.0.0.1:{}/almanac", c.port);
    let upstream = serve(almanac::demo::upstream::router()).await;
    let (primary_url, replica_url) = (database(&primary), database(&replica));
    let settings = config(
        &dir,
        upstream,
        &[
            ("ALMANAC__STORE__URL", primary_url.as_str()),
            ("ALMANAC__STORE__READ_URLS", replica_url.as_str()),
            ("ALMANAC__STORE__MAX_REPLICA_LAG_SECS", "2"),
            // The test asks for checks itself.
            ("ALMANAC__STORE__REPLICA_CHECK_SECS", "3600"),
            ("ALMANAC__HTTP__CACHE_MB", "0"),
            ("ALMANAC__HTTP__ADMIN_TOKEN", "adm1n"),
        ],
    );
    let core = Core::open(settings).await.unwrap();
    let base = format!(
        "http://{}",
        serve(almanac::http::router(core.clone())).await
    );
    let now = Timestamp::now().floor(Step::HOUR);

    // Loaded on the primary, replicated, read from the replica.
    let loaded = ops::ingest::run(&core, now, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(!loaded.failed(), "{loaded}");
    caught_up(&replica);
    core.reads.check().await;
    assert!(core.reads.states()[0].used, "{:?}", core.reads.states());
    let before = hours(&base, now).await;
    assert_eq!(before, 48, "the 48-hour lookback");
    let (status, ready) = get(&base, "/health/ready").await;
    assert_eq!(
        (status, &ready["replicas"][0]["used"]),
        (200, &Value::Bool(true)),
        "{ready}"
    );

    // The replica stops replaying: the primary gets 3 more hours, the API still answers the
    // replica's 48 (its reads go there, not to the primary).
    replica.psql("SELECT pg_wal_replay_pause()");
    let later = now.plus(3 * 3_600);
    let more = ops::ingest::run(&core, later, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(more.total().inserted >= 3, "{more}");
    assert_eq!(hours(&base, now).await, 48, "read from the paused replica");
    // Outside a request (a job, the CLI) reads go to the primary, never behind what was written.
    let primary_store = std::sync::Arc::as_ptr(&core.store) as *const u8;
    let reader = core.reader();
    assert!(std::ptr::eq(
        std::sync::Arc::as_ptr(&reader) as *const u8,
        primary_store
    ));
    // Actions (POST) run on the primary: resolving reaches it (an unknown anomaly: 404, where
    // an UPDATE on the read-only replica would have been a 500).
    let response = client()
        .post(format!("{base}/api/v1/anomalies/987654/resolve"))
        .bearer_auth("adm1n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);

    // Past the lag bound it is skipped: the primary answers, with the new hours; readiness
    // stays ready and says why.
    let skipped_at = Instant::now();
    loop {
        core.reads.check().await;
        if !core.reads.states()[0].used {
            break;
        }
        assert!(
            skipped_at.elapsed() < Duration::from_secs(20),
            "never skipped"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(hours(&base, now).await, 51, "read from the primary");
    let (status, ready) = get(&base, "/health/ready").await;
    assert_eq!(status, 200, "{ready}");
    let reason = ready["replicas"][0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("behind the primary"), "{ready}");

    // Replaying again and caught up, it is used again (and holds the new hours).
    replica.psql("SELECT pg_wal_replay_resume()");
    caught_up(&replica);
    core.reads.check().await;
    assert!(core.reads.states()[0].used, "{:?}", core.reads.states());
    assert_eq!(hours(&base, now).await, 51);

    // The replica dies between two checks: the request still succeeds (run again on the
    // primary) and the replica is skipped at once.
    replica.stop();
    assert!(core.reads.states()[0].used, "not checked since");
    assert_eq!(
        hours(&base, now).await,
        51,
        "answered despite the dead replica"
    );
    let state = &core.reads.states()[0];
    assert!(!state.used, "{state:?}");
    core.reads.check().await;
    let reason = core.reads.states()[0].reason.clone().unwrap_or_default();
    assert!(reason.contains("does not answer"), "{reason}");
}

#[tokio::test]
async fn read_urls_without_a_primary_or_not_postgres_are_configuration_errors() {
    let dir = tempfile::tempdir().unwrap();
    let unused: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let mut env = crate::support::env(
        &dir,
        unused,
        &[(
            "ALMANAC__STORE__READ_URLS",
            "postgres://a/almanac, mysql://b/almanac",
        )],
    );
    env.retain(|(k, _)| k != "ALMANAC__STORE__URL");
    let problems = almanac::config::load(None, env).unwrap_err().to_string();
    for expected in [
        "store.read_urls names PostgreSQL replicas, but store.url",
        "each URL starts with postgres://",
    ] {
        assert!(problems.contains(expected), "{expected} in {problems}");
    }
}
