//! What every configured source is doing: its dataset and step, its budgets, whether its circuit
//! breaker is open in this process, the locations it feeds, and its last success and failure as
//! the runs recorded them. `almanac sources list` and `GET /api/v1/sources` show it. Forecast
//! sources are listed too, with the dataset `weather_forecast` and the locations whose
//! `forecasts` name them.

use serde::Serialize;

use crate::core::Core;
use crate::domain::{RunStatus, Timestamp};
use crate::store::StoreError;

/// Runs looked at for the last success and failure of each source.
const RECENT_RUNS: u32 = 5_000;

#[derive(Clone, Debug, Serialize)]
pub struct SourceStatus {
    pub id: &'static str,
    pub dataset: String,
    pub step_seconds: i64,
    /// `calls/seconds` of each budget.
    pub budgets: Vec<String>,
    pub circuit: &'static str,
    /// The enabled locations whose priority lists name it.
    pub locations: Vec<String>,
    pub last_success: Option<String>,
    pub last_failure: Option<String>,
    pub last_error: Option<String>,
}

/// What [`status`] needs of a source or forecast source.
struct Described {
    id: &'static str,
    dataset: String,
    step_seconds: i64,
    circuit_open: bool,
    /// Whether an enabled location names it.
    named_by: fn(&crate::domain::Location, &str) -> bool,
}

pub async fn status(core: &Core) -> Result<Vec<SourceStatus>, StoreError> {
    let runs = core.store.runs(RECENT_RUNS).await?;
    let mut statuses = Vec::new();
    let observations = core.sources.all().map(|s| Described {
        id: s.id(),
        dataset: s.dataset().to_string(),
        step_seconds: s.step().seconds(),
        circuit_open: s.circuit_open(),
        named_by: |l, id| l.sources.values().flatten().any(|s| s == id),
    });
    let forecasts = core.sources.forecasts().map(|s| Described {
        id: s.id(),
        dataset: "weather_forecast".into(),
        step_seconds: s.step().seconds(),
        circuit_open: s.circuit_open(),
        named_by: |l, id| l.forecasts.iter().any(|s| s == id),
    });
    for source in observations.chain(forecasts) {
        let id = source.id;
        let mine = || runs.iter().filter(|r| r.source.as_deref() == Some(id));
        let newest = |status: RunStatus| {
            mine()
                .filter(|r| r.status == status)
                .max_by_key(|r| r.finished_at.unwrap_or(r.started_at))
        };
        let at = |r: &crate::store::Run| {
            Timestamp::from_epoch(r.finished_at.unwrap_or(r.started_at)).to_string()
        };
        let failure = newest(RunStatus::Failed);
        statuses.push(SourceStatus {
            id,
            dataset: source.dataset,
            step_seconds: source.step_seconds,
            budgets: core
                .config
                .sources
                .limits(id)
                .map(|l| {
                    l.budgets
                        .iter()
                        .map(|b| format!("{}/{}s", b.calls, b.per_secs))
                        .collect()
                })
                .unwrap_or_default(),
            circuit: if source.circuit_open {
                "open"
            } else {
                "closed"
            },
            locations: core
                .registry
                .enabled()
                .filter(|l| (source.named_by)(l, id))
                .map(|l| l.id.clone())
                .collect(),
            last_success: newest(RunStatus::Succeeded).map(at),
            last_failure: failure.map(at),
            last_error: failure.and_then(|r| r.error.clone()),
        });
    }
    Ok(statuses)
}
