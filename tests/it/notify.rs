//! Notifications against a local receiver over real HTTP: a failed job is told once and resolved
//! when the job next succeeds; a receiver that fails once gets the message on the retry, one that
//! answers 4xx is not retried, one that is down or too slow costs retries and is counted, and
//! none of them holds up the caller.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use almanac::core::Core;
use almanac::domain::Timestamp;
use almanac::domain::notify::Told;
use almanac::notify::{Message, Notifier};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::Value;

use crate::support::{config, metric, serve};

/// What the receiver got, by path.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(String, Value)>>>);

impl Received {
    fn at(&self, path: &str) -> Vec<Value> {
        let all = self.0.lock().unwrap();
        all.iter()
            .filter(|(p, _)| p == path)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// `/ok/*` answers 200, `/flaky` 500 the first time then 200, `/reject` 400, `/slow` after 5 s.
async fn receiver() -> (std::net::SocketAddr, Received) {
    let received = Received::default();
    async fn take(
        State(received): State<Received>,
        Path(path): Path<String>,
        body: axum::body::Bytes,
    ) -> StatusCode {
        let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let seen = {
            let mut all = received.0.lock().unwrap();
            all.push((path.clone(), value));
            all.iter().filter(|(p, _)| *p == path).count()
        };
        match path.as_str() {
            "flaky" if seen == 1 => StatusCode::INTERNAL_SERVER_ERROR,
            "reject" => StatusCode::BAD_REQUEST,
            "slow" => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                StatusCode::OK
            }
            _ => StatusCode::OK,
        }
    }
    let router = Router::new()
        .route("/{*path}", post(take))
        .with_state(received.clone());
    (serve(router).await, received)
}

async fn wait_for(received: &Received, path: &str, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let got = received.at(path);
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    received.at(path)
}

#[tokio::test]
async fn a_failed_job_is_told_once_and_resolved_when_it_next_succeeds() {
    let (address, received) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let webhook = format!("http://{address}/ok/webhook");
    let slack = format!("http://{address}/ok/slack");
    let extra = [
        ("ALMANAC__NOTIFY__WEBHOOK_URL", webhook.as_str()),
        ("ALMANAC__NOTIFY__SLACK_URL", slack.as_str()),
        // Told at once, so the resolution follows in the test (the rate limit is unit-tested).
        ("ALMANAC__NOTIFY__RATE_LIMIT_MINUTES", "0"),
        ("ALMANAC__SOURCES__OPEN_METEO__LIMITS__RETRIES", "0"),
    ];
    // Nothing listens on port 9: every fetch of the ingest fails.
    let down: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    let failing = Core::open(config(&dir, down, &extra)).await.unwrap();
    let job = almanac::ops::job::Job::Ingest;
    for _ in 0..2 {
        let run = almanac::ops::job::begin(&failing, job, None).await.unwrap();
        let summary = almanac::ops::job::execute(&failing, job, run, None)
            .await
            .unwrap();
        assert!(summary.failed());
    }
    let told = wait_for(&received, "ok/webhook", 1).await;
    assert_eq!(
        told.len(),
        1,
        "a second failure is not told again: {told:?}"
    );
    assert_eq!(told[0]["topic"], "job_failed:ingest");
    assert_eq!(told[0]["state"], "firing");
    assert_eq!(told[0]["service"], "almanac");
    assert!(
        told[0]["detail"].as_str().unwrap().contains("run "),
        "{told:?}"
    );
    let slack_told = wait_for(&received, "ok/slack", 1).await;
    let text = slack_told[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("[FIRING] almanac: job ingest failed"),
        "{text}"
    );

    // The next run succeeds (the simulated upstream answers): resolved, once.
    let upstream = serve(almanac::demo::router()).await;
    let working = Core::open(config(&dir, upstream, &extra)).await.unwrap();
    let run = almanac::ops::job::begin(&working, job, None).await.unwrap();
    let summary = almanac::ops::job::execute(&working, job, run, None)
        .await
        .unwrap();
    assert!(!summary.failed(), "{summary}");
    let told = wait_for(&received, "ok/webhook", 2).await;
    assert_eq!(told.len(), 2, "{told:?}");
    assert_eq!(
        (told[1]["topic"].as_str(), told[1]["state"].as_str()),
        (Some("job_failed:ingest"), Some("resolved"))
    );
    let text = wait_for(&received, "ok/slack", 2).await[1]["text"].clone();
    assert!(text.as_str().unwrap().starts_with("[RESOLVED]"), "{text}");
}

fn message(topic: &str) -> Message {
    Message {
        topic: topic.into(),
        state: Told::Firing,
        title: "a test".into(),
        detail: "nothing is wrong".into(),
        at: Timestamp::now(),
    }
}

/// A notifier posting to `url` with quick retries (1 s timeout, 2 retries from 50 ms).
fn notifier(url: &str, metrics: Arc<almanac::metrics::Metrics>) -> Arc<Notifier> {
    let mut settings = almanac::config::NotifyConfig {
        timeout_secs: 1,
        retries: 2,
        backoff_ms: 50,
        ..Default::default()
    };
    settings.webhook_url = Some(almanac::secret::Secret::new(url));
    Notifier::start(&settings, crate::support::client(), metrics)
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn receivers_that_fail_refuse_are_down_or_slow_are_retried_or_dropped() {
    let (address, received) = receiver().await;
    let metrics = Arc::new(almanac::metrics::Metrics::default());
    let count = |result: &str| {
        metric(
            &metrics.render(),
            &format!("almanac_notifications_total{{target=\"webhook\",result=\"{result}\"}}"),
        )
        .unwrap_or(0.0)
    };

    // Fails once, then takes it: delivered on the retry.
    notifier(&format!("http://{address}/flaky"), metrics.clone()).send(message("flaky"));
    assert_eq!(wait_for(&received, "flaky", 2).await.len(), 2);
    // A 4xx is the receiver saying no: never retried.
    notifier(&format!("http://{address}/reject"), metrics.clone()).send(message("reject"));
    assert_eq!(wait_for(&received, "reject", 1).await.len(), 1);
    // Down, and too slow for the timeout: every try spent, then dropped.
    let down = notifier("http://127.0.0.1:9/down", metrics.clone());
    let slow = notifier(&format!("http://{address}/slow"), metrics.clone());
    // Sending returns at once, whatever the receiver does.
    for k in 0..3 {
        down.send(message(&format!("down-{k}")));
        slow.send(message(&format!("slow-{k}")));
    }
    for _ in 0..300 {
        if count("sent") >= 1.0 && count("rejected") >= 1.0 && count("failed") >= 6.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count("sent"), 1.0);
    assert_eq!(count("rejected"), 1.0);
    assert_eq!(
        count("failed"),
        6.0,
        "three to the down one, three to the slow one"
    );
    assert_eq!(received.at("reject").len(), 1, "still not retried");
    assert_eq!(
        received.at("slow").len(),
        9,
        "three tries of each of three messages"
    );
}

#[tokio::test]
async fn the_watch_job_tells_of_stale_data() {
    let (address, received) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let upstream = serve(almanac::demo::router()).await;
    let webhook = format!("http://{address}/ok/watch");
    // Any age is too old: every stored dataset is stale.
    let core = crate::support::loaded(
        &dir,
        upstream,
        &[
            ("ALMANAC__NOTIFY__WEBHOOK_URL", webhook.as_str()),
            ("ALMANAC__NOTIFY__STALE_HOURS", "0"),
        ],
    )
    .await;
    let job = almanac::ops::job::Job::Watch;
    let run = almanac::ops::job::begin(&core, job, None).await.unwrap();
    let summary = almanac::ops::job::execute(&core, job, run, None)
        .await
        .unwrap();
    assert!(!summary.failed(), "{summary}");
    let note = summary.outcomes[0].note.clone().unwrap();
    assert!(note.contains("topics checked"), "{note}");
    let told = wait_for(&received, "ok/watch", 1).await;
    let stale = told
        .iter()
        .find(|m| m["topic"] == "stale:madrid:weather")
        .unwrap_or_else(|| panic!("{told:?}"));
    assert_eq!(stale["state"], "firing");
    assert!(
        stale["detail"].as_str().unwrap().contains("h ago"),
        "{stale}"
    );
    // Checked again: already told, not again.
    let run = almanac::ops::job::begin(&core, job, None).await.unwrap();
    almanac::ops::job::execute(&core, job, run, None)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(received.at("ok/watch").len(), told.len());
}

#[tokio::test]
async fn a_gap_left_unhealed_is_told_once_it_has_lasted() {
    let (address, received) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let upstream = serve(almanac::demo::router()).await;
    let webhook = format!("http://{address}/ok/gap");
    let core = crate::support::loaded(
        &dir,
        upstream,
        &[
            ("ALMANAC__NOTIFY__WEBHOOK_URL", webhook.as_str()),
            ("ALMANAC__NOTIFY__GAP_HOURS", "12"),
        ],
    )
    .await;
    // A day of Madrid's weather gone, three days ago, from every source.
    let now = Timestamp::now().floor(almanac::domain::Step::HOUR);
    let hole = almanac::domain::TimeRange {
        start: now.floor(almanac::domain::Step::DAY).plus(-3 * 86_400),
        end: now.floor(almanac::domain::Step::DAY).plus(-2 * 86_400),
    };
    for series in core
        .store
        .series("madrid", almanac::domain::Dataset::Weather)
        .await
        .unwrap()
    {
        core.store.delete(series.id, hole).await.unwrap();
    }
    let gap_told = |at: Timestamp| {
        let core = core.clone();
        async move {
            almanac::ops::notify::watch(&core, at).await.unwrap();
        }
    };
    // First seen now: not told yet (the `gaps` job may still heal it).
    gap_told(now).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !received
            .at("ok/gap")
            .iter()
            .any(|m| m["topic"] == "gap:madrid:weather"),
        "{:?}",
        received.at("ok/gap")
    );
    // Still there 12 hours on: told, with the stretch.
    gap_told(now.plus(12 * 3_600)).await;
    let told = wait_for(&received, "ok/gap", 1).await;
    let gap = told
        .iter()
        .find(|m| m["topic"] == "gap:madrid:weather")
        .unwrap_or_else(|| panic!("{told:?}"));
    assert_eq!(gap["state"], "firing");
    assert!(
        gap["detail"]
            .as_str()
            .unwrap()
            .contains("no value for 24.0 h"),
        "{gap}"
    );
}
