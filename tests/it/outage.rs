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

    task.abort();
    let _ = task.await;
    until(&base, 503).await;
    let (_, task) = proxy(port, target).await;
    until(&base, 200).await;
    assert_eq!(count(core).await, stored, "every value is still there");
    task.abort();
    db.drop().await;
}
