//! `rotate` with a shortened window: drops exactly what is older, keeps its daily rollups (local
//! days), loads the newest month, and changes nothing the second time.

use almanac::domain::{Dataset, Step, TimeRange, Timestamp, rollup};
use almanac::ops;
use indicatif::ProgressBar;

use crate::support::{core, serve};

#[tokio::test]
async fn rotation_rolls_up_then_drops_what_leaves_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let core = core(&dir, serve(almanac::demo::router()).await).await;
    let now = Timestamp::now().floor(Step::HOUR);
    // Loaded a month ago with three months: the newest month is not there yet.
    let past = now.months_before(1);
    ops::init::run(&core, 3, past, &ProgressBar::hidden())
        .await
        .unwrap();

    let zone = jiff::tz::TimeZone::get("Europe/Madrid").unwrap();
    let day = now.months_before(2).to_jiff().to_zoned(zone.clone()).date();
    let cutoff = Timestamp::from_jiff(day.to_zoned(zone.clone()).unwrap().timestamp());
    let old = TimeRange::new(Timestamp::from_epoch(0), cutoff).unwrap();
    let kept = TimeRange::new(cutoff, past).unwrap();
    let series = core.store.series("madrid", Dataset::Weather).await.unwrap();
    let temperature = series
        .iter()
        .find(|s| s.variable == "temperature")
        .unwrap()
        .id;
    let before_old = core.store.read(temperature, old).await.unwrap();
    let before_kept = core.store.read(temperature, kept).await.unwrap();
    assert!(!before_old.is_empty());

    let (dropped, loaded) = ops::rotate::run(&core, 2, 120, now, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(!loaded.failed(), "{loaded}");
    assert_eq!(
        dropped.len(),
        series.len(),
        "every series lost its old values"
    );
    let t = dropped
        .iter()
        .find(|d| d.variable == "temperature")
        .unwrap();
    assert_eq!(t.values, before_old.len() as u64);
    assert_eq!(t.cutoff, cutoff.to_string());
    // Exactly the old values are gone; the kept ones are untouched.
    assert!(core.store.read(temperature, old).await.unwrap().is_empty());
    assert_eq!(
        core.store.read(temperature, kept).await.unwrap(),
        before_kept
    );
    // The rollups are the dropped values' local days.
    let values: Vec<_> = before_old.iter().map(|p| (p.ts, p.value)).collect();
    let expected = rollup::daily(&values, &zone);
    let first = expected[0].day;
    let stored = core.store.rollups(temperature, first, day).await.unwrap();
    assert_eq!(stored, expected);
    assert_eq!(t.rollup_days, expected.len() as u64);
    // The newest month came in.
    let newest = TimeRange::new(past, now).unwrap();
    assert!(loaded.total().inserted > 0);
    assert_eq!(
        core.store.count_present(temperature, newest).await.unwrap(),
        almanac::domain::Grid::new(newest, Step::HOUR).len()
    );

    let (again, reloaded) = ops::rotate::run(&core, 2, 120, now, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:?}");
    let total = reloaded.total();
    assert_eq!((total.inserted, total.updated), (0, 0), "{reloaded}");
    assert_eq!(
        core.store.rollups(temperature, first, day).await.unwrap(),
        expected
    );
}
