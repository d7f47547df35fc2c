//! PostgreSQL going away and coming back: `/health/ready` fails while the database does not
//! answer and recovers when it does, and nothing stored is lost. The database is cut off by a TCP
//! proxy between almanac and the real server (stopping the shared server would disturb the other
//! tests): almanac sees what a restart looks like — its connections reset, new ones refused.

use std::time::{Duration, Instant};

use almanac::core::Core;
use almanac::domain::{Dataset, Step, TimeRange, Timestamp};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::support::{client, loaded, serve};

/// Forwards `port` (0: any) to `target` until the returned task is aborted, which also closes
/// every forwarded connection.
async fn proxy(port: u16, target: String) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                continue;
            };
            let target = target.clone();
            connections.spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (port, task)
}

async fn ready(base: &str) -> u16 {
    client()
        .get(format!("{base}/health/ready"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn until(base: &str, want: u16) {
    let started = Instant::now();
    while ready(base).await != want {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "/health/ready never said {want}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_database_and_nothing_is_lost() {
    let Some(db) = crate::support::postgres("readiness_follows_the_database").await else {
        return;
    };
    let server = db.url.split('@').nth(1).unwrap();
    let target = server.split('/').next().unwrap().to_string();
    let (port, task) = proxy(0, target.clone()).await;
    let url = db.url.replacen(&target, &format!("127.0.0.1:{port}"), 1);

    let dir = tempfile::tempdir().unwrap();
    let upstream = serve(almanac::demo::upstream::router()).await;
    let core = loaded(&dir, upstream, &[("ALMANAC__STORE__URL", &url)]).await;
    let now = Timestamp::now().floor(Step::HOUR);
    let window = TimeRange::new(now.months_before(2), now).unwrap();
    let count = |core: Core| async move {
        let mut values = 0;
        for series in core.store.series("madrid", Dataset::Weather).await.unwrap() {
            values += core.store.count_present(series.id, window).await.unwrap();
        }
        values
    };
    let stored = count(core.clone()).await;
    assert!(stored > 24 * 28);
    let base = format!(
        "http://{}",
        serve(almanac::http::router(core.clone())).await
    );
    until(&base, 200).await;
    let day = now.plus(-3 * 86_400).utc_date();
    let cached = format!("{base}/api/v1/locations/madrid/weather?start={day}&end={day}");
    let answer = client().get(&cached).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let answer = answer.bytes().await.unwrap();

    task.abort();
    let _ = task.await;
    until(&base, 503).await;
    // What the cache holds is still answered, and says it may be stale; the rest is a 503.
    let stale = client().get(&cached).send().await.unwrap();
    assert_eq!(stale.status(), 200);
    assert_eq!(stale.headers()["x-cache"], "stale");
    assert_eq!(stale.bytes().await.unwrap(), answer);
    let other = client()
        .get(format!(
            "{base}/api/v1/locations/madrid/weather?start={day}&end={day}&format=csv"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 503);
    assert_eq!(other.headers()["retry-after"], "5");
    let body: serde_json::Value = serde_json::from_slice(&other.bytes().await.unwrap()).unwrap();
    assert_eq!(body["code"], "store_unavailable");
    let (_, task) = proxy(port, target).await;
    until(&base, 200).await;
    assert_eq!(count(core).await, stored, "every value is still there");
    task.abort();
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_terminated_under_load_fail_no_request() {
    let Some(db) = crate::support::postgres("connections_terminated_under_load").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let upstream = serve(almanac::demo::upstream::router()).await;
    let core = loaded(
        &dir,
        upstream,
        &[
            ("ALMANAC__STORE__URL", &db.url),
            ("ALMANAC__HTTP__CACHE_MB", "0"),
        ],
    )
    .await;
    let base = format!("http://{}", serve(almanac::http::router(core)).await);
    let admin = sqlx::PgPool::connect(&db.url).await.unwrap();
    let killing = tokio::spawn(async move {
        loop {
            sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .execute(&admin)
            .await
            .unwrap();
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    let day = Timestamp::now().plus(-3 * 86_400).utc_date();
    let mut clients = JoinSet::new();
    for _ in 0..4 {
        let url = format!("{base}/api/v1/locations/madrid/weather?start={day}&end={day}");
        clients.spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..50 {
                statuses.push(client().get(&url).send().await.unwrap().status().as_u16());
            }
            statuses
        });
    }
    let statuses: Vec<u16> = clients.join_all().await.into_iter().flatten().collect();
    killing.abort();
    let failed: Vec<_> = statuses.iter().filter(|s| **s != 200).collect();
    assert!(
        // Without the second try, 14 of 200 failed here; with it, none in three runs (two are
        // let through for a request whose second connection was terminated too).
        failed.iter().all(|s| **s == 503) && failed.len() <= 2,
        "{} of {} failed: {failed:?}",
        failed.len(),
        statuses.len()
    );
    db.drop().await;
}
