//! `init`: loads the rolling window (default 24 months back from now) for every enabled
//! location and dataset, from every source in the location's priority list (each keeps its own
//! series; reads merge them by priority). Resumable: a month whose series are all complete is
//! not fetched again.

use indicatif::ProgressBar;

use super::{Summary, load};
use crate::core::Core;
use crate::domain::{TimeRange, Timestamp};

pub async fn run(
    core: &Core,
    months: u32,
    now: Timestamp,
    progress: &ProgressBar,
) -> anyhow::Result<Summary> {
    let mut targets = Vec::new();
    for location in core.locations() {
        let sources = location.sources.values().flatten();
        for source in sources.filter_map(|id| core.sources.get(id)) {
            let end = now.floor(source.step());
            let range = TimeRange {
                start: end.months_before(months).ceil(source.step()),
                end,
            };
            let series = load::series_ids(core, &location, source.as_ref()).await?;
            targets.push(load::Target {
                location: location.clone(),
                source: source.clone(),
                series,
                range,
            });
        }
    }
    progress.set_length(
        targets
            .iter()
            .map(|t| t.range.split_by_month().len() as u64)
            .sum(),
    );
    let outcomes = load::run_all(core, "init", targets, now, true, progress).await;
    progress.finish_and_clear();
    Ok(Summary { outcomes })
}
