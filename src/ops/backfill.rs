//! `backfill`: turns the holes of every enabled location's datasets into a request plan and runs
//! it. An instant is a hole when no source in the location's priority list holds all of its
//! declared variables there. Each hole goes to the first source in that list whose reach holds it
//! (the chocolate factory's routing: recent hours from live observations, older ones from
//! archives; the next source when the first cannot serve them); adjacent holes of one source are
//! one part, cut at month boundaries (the provider's largest request). `--dry-run` prints the plan
//! and its upstream cost and touches neither upstream nor store. Values written by a backfill name
//! the backfill run that wrote them, so they are told apart from the first load.

use std::collections::BTreeSet;
use std::sync::Arc;

use indicatif::ProgressBar;
use serde::Serialize;

use super::{Summary, load};
use crate::core::Core;
use crate::domain::{Dataset, Grid, Location, Step, TimeRange, Timestamp, gaps};
use crate::sources::Source;
use crate::store::StoreError;

/// One request range for one source.
#[derive(Clone, Debug, Serialize)]
pub struct Part {
    pub location: String,
    pub dataset: Dataset,
    pub source: &'static str,
    pub start: String,
    pub end: String,
    /// Instants missing in the part.
    pub missing: u64,
    /// Upstream requests it takes (one per month piece; AEMET's two steps per station count
    /// as the source's own business).
    pub requests: u64,
    #[serde(skip)]
    range: TimeRange,
}

/// Holes no listed source can serve at all (before any reach, or beyond every source's).
#[derive(Clone, Debug, Serialize)]
pub struct Unreachable {
    pub location: String,
    pub dataset: Dataset,
    pub start: String,
    pub end: String,
    pub missing: u64,
}

/// Holes the source did not have when last asked, not asked again before `retry_at`.
#[derive(Clone, Debug, Serialize)]
pub struct Deferred {
    pub location: String,
    pub dataset: Dataset,
    pub source: &'static str,
    pub start: String,
    pub end: String,
    pub attempts: u32,
    pub retry_at: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Plan {
    pub parts: Vec<Part>,
    pub unreachable: Vec<Unreachable>,
    pub deferred: Vec<Deferred>,
}

impl Plan {
    pub fn requests(&self) -> u64 {
        self.parts.iter().map(|p| p.requests).sum()
    }

    /// Why a plan with no part fetches nothing, in a line: no hole at all, holes no listed
    /// source reaches, or holes deferred after a source did not have them.
    pub fn why_nothing(&self) -> String {
        let missing: u64 = self.unreachable.iter().map(|u| u.missing).sum();
        let mut reasons = Vec::new();
        if !self.unreachable.is_empty() {
            reasons.push(format!(
                "{} hole(s) ({missing} values) lie outside the reach of every source their \
                 location lists (AEMET observations only the last 24 h, AEMET daily values from \
                 four days back, Madrid history only finished months): list a source that \
                 reaches them",
                self.unreachable.len()
            ));
        }
        if !self.deferred.is_empty() {
            reasons.push(format!(
                "{} hole(s) deferred: their source did not have them when last asked",
                self.deferred.len()
            ));
        }
        if reasons.is_empty() {
            "nothing to do: no holes in the window".to_owned()
        } else {
            format!("nothing fetched: {}", reasons.join("; "))
        }
    }
}

/// The plan for the `init` window (or `window`) at `now`, for `only` one location if given.
pub async fn plan(
    core: &Core,
    only: Option<&str>,
    window: Option<TimeRange>,
    now: Timestamp,
) -> Result<Plan, StoreError> {
    let mut plan = Plan::default();
    for location in &core.locations() {
        if only.is_some_and(|id| id != location.id) {
            continue;
        }
        for (&dataset, ids) in &location.sources {
            let sources: Vec<&Arc<dyn Source>> =
                ids.iter().filter_map(|id| core.sources.get(id)).collect();
            // Sources at different steps (hourly and daily weather) are separate grids.
            let steps: BTreeSet<i64> = sources.iter().map(|s| s.step().seconds()).collect();
            for step in steps.into_iter().filter_map(Step::from_seconds) {
                let group: Vec<&Arc<dyn Source>> = sources
                    .iter()
                    .copied()
                    .filter(|s| s.step() == step)
                    .collect();
                let range = window.unwrap_or_else(|| {
                    let end = now.floor(step);
                    TimeRange {
                        start: end.months_before(core.config.init.months).ceil(step),
                        end,
                    }
                });
                plan_group(core, location, dataset, step, &group, range, now, &mut plan).await?;
            }
        }
    }
    Ok(plan)
}

#[allow(clippy::too_many_arguments)]
async fn plan_group(
    core: &Core,
    location: &Location,
    dataset: Dataset,
    step: Step,
    sources: &[&Arc<dyn Source>],
    range: TimeRange,
    now: Timestamp,
    plan: &mut Plan,
) -> Result<(), StoreError> {
    // Instants where some source holds every variable it declares.
    // Read only: a dry run must not even create series rows.
    let stored = core.store.series(&location.id, dataset).await?;
    let absences = core.store.absences(&location.id, dataset).await?;
    let mut complete: BTreeSet<Timestamp> = BTreeSet::new();
    for source in sources {
        let mut whole: Option<BTreeSet<Timestamp>> = None;
        for variable in source.variables() {
            let Some(id) = stored
                .iter()
                .find(|s| s.source == source.id() && s.variable == variable.name)
                .map(|s| s.id)
            else {
                whole = Some(BTreeSet::new()); // never loaded: holds nothing
                break;
            };
            let here: BTreeSet<Timestamp> = core
                .store
                .read(id, range)
                .await?
                .into_iter()
                .map(|p| p.ts)
                .collect();
            whole = Some(match whole {
                None => here,
                Some(so_far) => so_far.intersection(&here).copied().collect(),
            });
        }
        complete.extend(whole.unwrap_or_default());
    }
    let present: Vec<Timestamp> = complete.into_iter().collect();
    for hole in gaps::find(Grid::new(range, step), &present) {
        // Walk the hole, giving each stretch to the first source that reaches it.
        let mut at = hole.start;
        while at < hole.end {
            let owner = sources
                .iter()
                .find(|s| s.reach(now).contains(at) && step_fits(s, at));
            let stretch_end = match owner {
                Some(source) => source.reach(now).end.min(hole.end),
                None => sources
                    .iter()
                    .map(|s| s.reach(now).start)
                    .filter(|start| *start > at)
                    .min()
                    .unwrap_or(hole.end)
                    .min(hole.end),
            };
            let stretch_end = stretch_end.max(at.plus(step.seconds())).min(hole.end);
            let stretch = TimeRange {
                start: at,
                end: stretch_end,
            };
            let missing = Grid::new(stretch, step).len();
            let absent = owner.and_then(|source| {
                absences.iter().find(|a| {
                    a.source == source.id()
                        && a.range.start <= stretch.start
                        && stretch.end <= a.range.end
                        && a.retry_at() > now
                })
            });
            match (owner, absent) {
                (Some(source), Some(absence)) => plan.deferred.push(Deferred {
                    location: location.id.clone(),
                    dataset,
                    source: source.id(),
                    start: stretch.start.to_string(),
                    end: stretch.end.to_string(),
                    attempts: absence.attempts,
                    retry_at: absence.retry_at().to_string(),
                }),
                (Some(source), None) => plan.parts.push(Part {
                    location: location.id.clone(),
                    dataset,
                    source: source.id(),
                    start: stretch.start.to_string(),
                    end: stretch.end.to_string(),
                    missing,
                    requests: stretch.split_by_month().len() as u64,
                    range: stretch,
                }),
                (None, _) => plan.unreachable.push(Unreachable {
                    location: location.id.clone(),
                    dataset,
                    start: stretch.start.to_string(),
                    end: stretch.end.to_string(),
                    missing,
                }),
            }
            at = stretch_end;
        }
    }
    Ok(())
}

fn step_fits(source: &Arc<dyn Source>, at: Timestamp) -> bool {
    at.is_aligned(source.step())
}

/// Runs every part of `plan` as a `backfill` run. A part the source still did not fill is noted
/// as an absence, so the next plans defer it (an hour, then doubling, at most a week).
pub async fn run(
    core: &Core,
    plan: &Plan,
    now: Timestamp,
    progress: &ProgressBar,
) -> anyhow::Result<Summary> {
    progress.set_length(plan.parts.iter().map(|p| p.requests).sum());
    let mut parts = Vec::new();
    for part in &plan.parts {
        let (Some(location), Some(source)) =
            (core.location(&part.location), core.sources.get(part.source))
        else {
            continue;
        };
        let series = load::series_ids(core, &location, source.as_ref()).await?;
        let target = load::Target {
            location,
            source: source.clone(),
            series,
            range: part.range,
        };
        parts.push((target, part.dataset));
    }
    let limit = core.config.loads.parallel as usize;
    let labels: Vec<super::Outcome> = parts.iter().map(|(t, _)| t.failed("")).collect();
    let outcomes = super::parallel::each(limit, parts, |(target, dataset)| {
        let (core, progress) = (core.clone(), progress.clone());
        async move {
            part(&core, &target, dataset, now, &progress)
                .await
                .unwrap_or_else(|error| target.failed(&format!("{error:#}")))
        }
    })
    .await;
    progress.finish_and_clear();
    let outcomes = outcomes.into_iter().zip(labels).map(|(result, label)| {
        result.unwrap_or_else(|why| super::Outcome {
            error: Some(why),
            ..label
        })
    });
    Ok(Summary {
        outcomes: outcomes.collect(),
    })
}

/// One part as a `backfill` run; an absence noted when the source did not fill it.
async fn part(
    core: &Core,
    target: &load::Target,
    dataset: Dataset,
    now: Timestamp,
    progress: &ProgressBar,
) -> anyhow::Result<super::Outcome> {
    let outcome = load::run(core, "backfill", target, now, false, progress).await?;
    let expected = Grid::new(target.range, target.source.step()).len();
    let mut whole = outcome.failed == 0;
    for (_, id) in &target.series {
        whole &= core.store.count_present(*id, target.range).await? >= expected;
    }
    if outcome.failed == 0 && !whole {
        let key = crate::store::AbsenceKey {
            location: &target.location.id,
            dataset,
            source: target.source.id(),
        };
        core.store.record_absence(&key, target.range, now).await?;
    }
    Ok(outcome)
}

#[cfg(test)]
mod why_nothing {
    use super::{Deferred, Plan, Unreachable};
    use crate::domain::Dataset;

    #[test]
    fn a_plan_without_parts_says_why() {
        assert_eq!(
            Plan::default().why_nothing(),
            "nothing to do: no holes in the window"
        );
        let mut plan = Plan::default();
        plan.unreachable.push(Unreachable {
            location: "madrid".into(),
            dataset: Dataset::Weather,
            start: "a".into(),
            end: "b".into(),
            missing: 24,
        });
        plan.deferred.push(Deferred {
            location: "madrid".into(),
            dataset: Dataset::Weather,
            source: "aemet",
            start: "a".into(),
            end: "b".into(),
            attempts: 2,
            retry_at: "c".into(),
        });
        let why = plan.why_nothing();
        assert!(
            why.starts_with("nothing fetched: 1 hole(s) (24 values) lie outside"),
            "{why}"
        );
        assert!(why.contains("1 hole(s) deferred"), "{why}");
    }
}
