//! SIGKILL at a random moment: `backfill` and `rotate` killed and re-run end with exactly the
//! data of an uninterrupted run on an identical store (no duplicates, no partial chunk, nothing
//! lost). `init` has its own test in `cli.rs`.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use almanac::core::Core;
use almanac::domain::{Dataset, Step, TimeRange, Timestamp};
use almanac::ops;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use indicatif::ProgressBar;

use crate::support::{config, env, serve};

#[derive(Clone, Copy, Debug)]
enum Case {
    /// Two months loaded, three ranges deleted; `backfill` restores them.
    Backfill,
    /// Three months loaded a month ago; `rotate --months 2` rolls up, drops and loads.
    Rotate,
}

const MONTHS: &[(&str, &str)] = &[("ALMANAC__INIT__MONTHS", "2")];

async fn slow(request: Request, next: Next) -> Response {
    tokio::time::sleep(Duration::from_millis(200)).await;
    next.run(request).await
}

/// Puts the store in `dir` into the case's starting state, the same for every `dir`.
async fn prepare(
    case: Case,
    dir: &tempfile::TempDir,
    upstream: std::net::SocketAddr,
    now: Timestamp,
) {
    let core = Core::open(config(dir, upstream, MONTHS)).await.unwrap();
    let hidden = ProgressBar::hidden();
    match case {
        Case::Backfill => {
            let loaded = ops::init::run(&core, 2, now, &hidden).await.unwrap();
            assert!(!loaded.failed(), "{loaded}");
            let day = 86_400;
            let holes = [
                (now.plus(-40 * day), now.plus(-40 * day + 5 * 3600)),
                (now.plus(-20 * day + 3 * 3600), now.plus(-19 * day)),
                (now.plus(-3 * day), now.plus(-3 * day + 30 * 3600)),
            ];
            for series in core.store.series("madrid", Dataset::Weather).await.unwrap() {
                for (start, end) in holes {
                    let range = TimeRange::new(start, end).unwrap();
                    core.store.delete(series.id, range).await.unwrap();
                }
            }
        }
        Case::Rotate => {
            let loaded = ops::init::run(&core, 3, now.months_before(1), &hidden)
                .await
                .unwrap();
            assert!(!loaded.failed(), "{loaded}");
        }
    }
}

fn command(case: Case, dir: &tempfile::TempDir, upstream: std::net::SocketAddr) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_almanac"));
    command
        .envs(env(dir, upstream, MONTHS))
        .env("ALMANAC_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match case {
        Case::Backfill => command.arg("backfill"),
        Case::Rotate => command.args(["rotate", "--months", "2"]),
    };
    command
}

async fn to_the_end(mut command: Command) -> Output {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Every stored value before `before` and every rollup, as sorted lines, read through the
/// store (either backend); values printed exactly (`{:?}` round-trips an `f64`).
async fn dump(dir: &tempfile::TempDir, before: Timestamp) -> Vec<String> {
    let store = crate::support::open_store(dir).await.unwrap();
    let mut lines = Vec::new();
    let everything = TimeRange {
        start: Timestamp::from_epoch(0),
        end: before,
    };
    for location in [
        "madrid",
        "es_peninsular",
        "valencia",
        "barcelona",
        "sevilla",
        "bilbao",
    ] {
        for &dataset in almanac::domain::Dataset::ALL {
            for s in store.series(location, dataset).await.unwrap() {
                for p in store.read(s.id, everything).await.unwrap() {
                    lines.push(format!(
                        "{} {} {} {} {:?} {}",
                        s.dataset,
                        s.variable,
                        s.source,
                        p.ts.epoch(),
                        p.value,
                        p.flag.code()
                    ));
                }
                let from: jiff::civil::Date = "1970-01-01".parse().unwrap();
                let to: jiff::civil::Date = "2100-01-01".parse().unwrap();
                for r in store.rollups(s.id, from, to).await.unwrap() {
                    lines.push(format!(
                        "rollup {} {} {} {} {} {:?} {:?} {:?} {:?}",
                        s.dataset,
                        s.variable,
                        s.source,
                        r.day,
                        r.count,
                        r.mean,
                        r.min,
                        r.max,
                        r.sum
                    ));
                }
            }
        }
    }
    lines.sort();
    lines
}

async fn killed_then_rerun_equals_uninterrupted(case: Case) {
    let upstream = serve(almanac::demo::upstream::router().layer(middleware::from_fn(slow))).await;
    let now = Timestamp::now().floor(Step::HOUR);
    let (killed, reference) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    prepare(case, &killed, upstream, now).await;
    prepare(case, &reference, upstream, now).await;

    let started = Instant::now();
    to_the_end(command(case, &reference, upstream)).await;
    let uninterrupted = started.elapsed();

    let delay = uninterrupted.mul_f64(fastrand::f64());
    let mut child = command(case, &killed, upstream).spawn().unwrap();
    tokio::time::sleep(delay).await;
    child.kill().unwrap();
    child.wait().unwrap();
    to_the_end(command(case, &killed, upstream)).await;

    let (got, want) = (dump(&killed, now).await, dump(&reference, now).await);
    assert!(want.len() > 1_000, "{case:?}: the reference holds data");
    if matches!(case, Case::Rotate) {
        assert!(
            want.iter().any(|l| l.starts_with("rollup")),
            "rotation rolled up what it dropped"
        );
    }
    if got != want {
        let first = got.iter().zip(&want).position(|(a, b)| a != b);
        panic!(
            "{case:?} killed after {delay:?} of {uninterrupted:?}: {} lines, {} in the uninterrupted run; first difference at {first:?}: {:?} vs {:?}",
            got.len(),
            want.len(),
            first.map(|i| &got[i]),
            first.map(|i| &want[i]),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_killed_at_a_random_moment_ends_as_if_uninterrupted() {
    killed_then_rerun_equals_uninterrupted(Case::Backfill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_killed_at_a_random_moment_ends_as_if_uninterrupted() {
    killed_then_rerun_equals_uninterrupted(Case::Rotate).await;
}
