//! Notifications (`[notify]`): messages to a Slack-compatible incoming webhook and to a generic
//! JSON webhook (both URLs are secrets). What to tell and when is `domain::notify` and
//! `ops::notify`; this module only delivers, in the background: [`Notifier::send`] queues a
//! message and returns at once, so the job that raised it never waits. Each message is posted
//! to each target with a timeout; a 5xx, a timeout or a refused connection is retried with
//! doubling backoff, at most `retries` times; a 4xx (but 408 and 429) is the receiver saying no,
//! dropped at once. Every outcome is counted (`almanac_notifications_total`) and logged.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;

use crate::config::NotifyConfig;
use crate::domain::Timestamp;
use crate::domain::notify::Told;
use crate::metrics::Metrics;

/// Messages waiting at most; past it a new one is dropped (and counted).
const QUEUE: usize = 256;

/// One message about one topic.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Message {
    pub topic: String,
    pub state: Told,
    pub title: String,
    pub detail: String,
    pub at: Timestamp,
}

impl Message {
    /// The Slack incoming-webhook body: one line of text.
    fn slack(&self) -> serde_json::Value {
        let tag = match self.state {
            Told::Firing => "FIRING",
            Told::Resolved => "RESOLVED",
        };
        serde_json::json!({
            "text": format!("[{tag}] almanac: {} — {} ({})", self.title, self.detail, self.at)
        })
    }

    /// The generic webhook body.
    fn generic(&self) -> serde_json::Value {
        serde_json::json!({
            "service": "almanac",
            "topic": self.topic,
            "state": self.state,
            "title": self.title,
            "detail": self.detail,
            "at": self.at,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Slack,
    Generic,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Slack => "slack",
            Kind::Generic => "webhook",
        }
    }
}

/// Delivers messages to the configured targets.
pub struct Notifier {
    queue: mpsc::Sender<Message>,
    metrics: Arc<Metrics>,
}

impl Notifier {
    /// The notifier of `config`, its worker started; `None` when no target is configured.
    pub fn start(
        config: &NotifyConfig,
        client: reqwest::Client,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Option<Arc<Self>>> {
        let mut targets = Vec::new();
        for (kind, url) in [
            (Kind::Slack, &config.slack_url),
            (Kind::Generic, &config.webhook_url),
        ] {
            if let Some(url) = url {
                let parsed = reqwest::Url::parse(url.expose()).map_err(|e| {
                    anyhow::anyhow!("notify: the {} URL is not a URL: {e}", kind.as_str())
                })?;
                targets.push((kind, parsed));
            }
        }
        if targets.is_empty() {
            return Ok(None);
        }
        let (queue, received) = mpsc::channel(QUEUE);
        let policy = Policy {
            timeout: Duration::from_secs(u64::from(config.timeout_secs)),
            retries: config.retries,
            backoff: Duration::from_millis(u64::from(config.backoff_ms)),
        };
        tokio::spawn(deliver_all(
            received,
            targets,
            client,
            policy,
            metrics.clone(),
        ));
        Ok(Some(Arc::new(Self { queue, metrics })))
    }

    /// Queues `message` for delivery; never waits.
    pub fn send(&self, message: Message) {
        if let Err(error) = self.queue.try_send(message) {
            tracing::warn!(%error, "notification dropped: the queue is full or closed");
            self.metrics.add(
                "almanac_notifications_total",
                &[("target", "queue"), ("result", "dropped")],
                1.0,
            );
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Policy {
    timeout: Duration,
    retries: u32,
    backoff: Duration,
}

async fn deliver_all(
    mut received: mpsc::Receiver<Message>,
    targets: Vec<(Kind, reqwest::Url)>,
    client: reqwest::Client,
    policy: Policy,
    metrics: Arc<Metrics>,
) {
    while let Some(message) = received.recv().await {
        for (kind, url) in &targets {
            let result = deliver(&client, *kind, url, &message, policy).await;
            metrics.add(
                "almanac_notifications_total",
                &[("target", kind.as_str()), ("result", result)],
                1.0,
            );
            if result != "sent" {
                // The URL is a secret: only its host is logged.
                tracing::warn!(target_kind = kind.as_str(), host = url.host_str().unwrap_or(""), topic = %message.topic, result, "notification not delivered");
            }
        }
    }
}

/// Posts `message` to one target: `sent`, `rejected` (a 4xx: not retried) or `failed` (the
/// retries spent).
async fn deliver(
    client: &reqwest::Client,
    kind: Kind,
    url: &reqwest::Url,
    message: &Message,
    policy: Policy,
) -> &'static str {
    let body = match kind {
        Kind::Slack => message.slack(),
        Kind::Generic => message.generic(),
    };
    let mut wait = policy.backoff;
    for attempt in 0..=policy.retries {
        if attempt > 0 {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(60));
        }
        let sent = client
            .post(url.clone())
            .timeout(policy.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => return "sent",
            Ok(response)
                if response.status().is_client_error()
                    && !matches!(response.status().as_u16(), 408 | 429) =>
            {
                return "rejected";
            }
            Ok(_) | Err(_) => continue,
        }
    }
    "failed"
}
