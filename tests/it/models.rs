//! Models on the simulated water network: a version trained and backtested on stored flows, its
//! forecasts stored and served, and the lifecycle on real predictions scored against real
//! actuals: a deliberately worse challenger is not promoted, an equal one is, a degraded
//! champion is rolled back.

use almanac::config::ModelConfig;
use almanac::core::Core;
use almanac::domain::{Step, Timestamp};
use almanac::ops::model;
use almanac::store::models::VersionStatus;

use crate::support::{client, config, serve};

const ID: &str = "sel_in_flow";

/// A core on the same store with the model's settings changed (its family or rules).
async fn with(dir: &tempfile::TempDir, change: impl FnOnce(&mut ModelConfig)) -> Core {
    let upstream = serve(almanac::demo::router()).await;
    let mut settings = config(dir, upstream, &[]);
    almanac::demo::water::configure(&mut settings);
    change(settings.models.get_mut(ID).unwrap());
    Core::open(settings).await.unwrap()
}

async fn status(core: &Core) -> Vec<(i64, VersionStatus, String)> {
    let mut v: Vec<_> = core
        .store
        .versions(ID)
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.version, v.status, v.reason.unwrap_or_default()))
        .collect();
    v.sort_by_key(|x| x.0);
    v
}

#[tokio::test]
async fn trained_served_and_judged_on_real_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let now = Timestamp::now().floor(Step::HOUR);
    let first = now.floor(Step::DAY).plus(-21 * 86_400);
    let (core, _) = crate::processing::network_from(&dir, first, &[]).await;

    // Too little history: the run fails and says how much there is and is needed.
    let early = model::train(&core, ID, first.plus(3 * 86_400), "test")
        .await
        .unwrap();
    let why = early.error.expect("too little history must fail");
    assert!(
        why.contains("too little history") && why.contains("needed"),
        "{why}"
    );
    assert!(status(&core).await.is_empty());

    // The champion, trained three days ago.
    let t0 = now.plus(-72 * 3_600);
    let trained = model::train(&core, ID, t0, "test").await.unwrap();
    assert!(trained.error.is_none(), "{trained:?}");
    let v1 = &core.store.versions(ID).await.unwrap()[0];
    assert_eq!((v1.version, v1.status), (1, VersionStatus::Champion));
    let metrics: serde_json::Value = serde_json::from_str(&v1.metrics).unwrap();
    for key in ["mae", "rmse", "mase", "coverage_80", "coverage_95"] {
        assert!(
            metrics[key].as_f64().is_some_and(f64::is_finite),
            "{key}: {metrics}"
        );
    }
    assert_eq!(metrics["origins"], 6);

    // A worse challenger: the naive forecast, in shadow from an hour later.
    let naive = with(&dir, |m| m.family = almanac::domain::model::Family::Naive).await;
    let o = model::train(&naive, ID, t0.plus(3_600), "test")
        .await
        .unwrap();
    assert!(o.error.is_none(), "{o:?}");
    // Both forecast every six hours for a day, two days ago; the actuals have arrived since.
    let t1 = now.plus(-48 * 3_600);
    for k in 0..4 {
        let o = model::predict(&core, ID, t1.plus(k * 6 * 3_600))
            .await
            .unwrap();
        assert_eq!(o.counts.inserted, 48, "{o:?}");
    }
    let done = model::judge(&core, ID, now).await.unwrap();
    let s = status(&core).await;
    assert_eq!(s[1].1, VersionStatus::Retired, "{done:?} {s:?}");
    assert!(s[1].2.starts_with("not promoted: live MAE"), "{s:?}");
    assert_eq!(s[0].1, VersionStatus::Champion);

    // An equal challenger (the same family on the same data) is promoted.
    let o = model::train(&core, ID, t0.plus(7_200), "test")
        .await
        .unwrap();
    assert!(o.error.is_none(), "{o:?}");
    for k in 0..4 {
        model::predict(&core, ID, t1.plus(k * 6 * 3_600))
            .await
            .unwrap();
    }
    let done = model::judge(&core, ID, now).await.unwrap();
    let s = status(&core).await;
    assert_eq!(
        (s[0].1, s[2].1),
        (VersionStatus::Retired, VersionStatus::Champion),
        "{done:?} {s:?}"
    );
    let v3 = core.store.versions(ID).await.unwrap().remove(0);
    assert_eq!(
        v3.previous,
        Some(core.store.versions(ID).await.unwrap()[2].id)
    );

    // The forecast is served, in the seed's shape too.
    model::predict(&core, ID, now).await.unwrap();
    let base = format!(
        "http://{}",
        serve(almanac::http::router(core.clone())).await
    );
    let body = client()
        .get(format!(
            "{base}/api/v1/predictions/sel_in?model_type=flow_prediction&horizon_hours=24"
        ))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 24);
    for r in rows {
        let (v, lo, hi) = (
            r["predicted_value"].as_f64().unwrap(),
            r["lower_bound"].as_f64().unwrap(),
            r["upper_bound"].as_f64().unwrap(),
        );
        assert!(lo <= v && v <= hi, "{r}");
    }

    // The processing seed's status names the champion.
    let body = client()
        .get(format!("{base}/api/v1/status"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let service: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let active = &service["active_models"][ID];
    assert_eq!(active["version"], 3, "{service}");
    assert_eq!(active["model_type"], "flow_prediction");
    assert!(active["performance"]["mase"].is_number(), "{active}");

    // A champion degraded past its backtest (a strict rule makes any live error too much) is
    // rolled back to the version it replaced, since it was promoted recently.
    let strict = with(&dir, |m| m.rules.degrade_ratio = 0.01).await;
    // Its live score counts from its promotion: version 1 back, then a new version promoted as
    // of two days ago.
    almanac::ops::model::roll_back(&strict, ID, t1, "test")
        .await
        .unwrap();
    let s = status(&strict).await;
    assert_eq!(
        (s[0].1, s[2].1),
        (VersionStatus::Champion, VersionStatus::Retired),
        "{s:?}"
    );
    let o = model::train(&strict, ID, t0.plus(3 * 3_600), "test")
        .await
        .unwrap();
    assert!(o.error.is_none(), "{o:?}");
    model::promote(&strict, ID, t1, "test").await.unwrap();
    for k in 0..4 {
        model::predict(&strict, ID, t1.plus(k * 6 * 3_600))
            .await
            .unwrap();
    }
    let done = model::judge(&strict, ID, now).await.unwrap();
    let s = status(&strict).await;
    assert_eq!(s[3].1, VersionStatus::Retired, "{done:?} {s:?}");
    assert!(s[3].2.starts_with("rolled back: live MAE"), "{s:?}");
    assert_eq!(s[0].1, VersionStatus::Champion, "{s:?}");
}

/// A forest with the holiday regressor: fitted on Madrid's hourly temperature with its
/// calendar's holidays; refused, with the reason, where no calendar is held (Sardinia).
#[tokio::test]
async fn a_forest_takes_the_locations_holidays() {
    use almanac::config::Regressor;
    use almanac::domain::model::Family;
    let dir = tempfile::tempdir().unwrap();
    let upstream = serve(almanac::demo::router()).await;
    crate::support::loaded(&dir, upstream, &[]).await;
    let mut settings = config(&dir, upstream, &[]);
    almanac::demo::water::configure(&mut settings);
    for id in ["madrid_temperature", ID] {
        let m = settings.models.get_mut(id).unwrap();
        m.family = Family::Forest;
        m.regressors = vec![Regressor::Holiday];
        m.horizon_hours = 24;
        m.training_days = 14;
        m.backtest_origins = 4;
    }
    let core = Core::open(settings).await.unwrap();
    let now = Timestamp::now().floor(Step::HOUR);

    let trained = model::train(&core, "madrid_temperature", now, "test")
        .await
        .unwrap();
    assert!(trained.error.is_none(), "{trained:?}");
    let version = core
        .store
        .versions("madrid_temperature")
        .await
        .unwrap()
        .remove(0);
    let params: serde_json::Value = serde_json::from_str(&version.params).unwrap();
    assert_eq!(
        params["regressors"],
        serde_json::json!(["holiday"]),
        "{params}"
    );
    assert!(params["forecaster"].as_str().unwrap().starts_with("forest"));
    let o = model::predict(&core, "madrid_temperature", now)
        .await
        .unwrap();
    assert!(o.error.is_none(), "{o:?}");
    assert_eq!(o.counts.inserted, 24, "{o:?}");

    // The water network is in Italy: no calendar, so the training fails and says why.
    let failed = model::train(&core, ID, now, "test").await.unwrap();
    let why = failed.error.expect("no calendar must fail the training");
    assert!(
        why.contains("regressor `holiday`") && why.contains("country `IT`"),
        "{why}"
    );
}
