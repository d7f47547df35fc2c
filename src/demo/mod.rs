//! The offline demo's upstream: simulated providers (Open-Meteo, AEMET, REE, Madrid traffic) served over real HTTP on a
//! loopback port, and the config change that points the sources at them. Everything after that — the
//! upstream client, parsing, `init`, the store, the API — is the production path.

pub mod aemet;
pub mod climate;
pub mod esios;
pub mod faults;
pub mod madrid;
pub mod owm;
pub mod ree;
pub mod upstream;
pub mod water;

use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::domain::Coordinates;

/// The demo's registered tenant (the id of the README's examples) and where it is: a bakery 90 m
/// west of the simulated detector 1000, 1.6 km east of the Puerta del Sol.
pub const TENANT: &str = "8a7c9f5e-1b2d-4e3f-9a8b-7c6d5e4f3a2b";
pub const BAKERY: Coordinates = Coordinates {
    latitude: 40.4168,
    longitude: -3.686,
};

/// Starts the simulated upstream on `127.0.0.1:0` and returns its address; `fault_rate` (0–1)
/// is the share of requests answered with a random fault.
pub async fn start_upstream(fault_rate: f64) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let faults = faults::Faults::random(fault_rate);
    let router = router().layer(axum::middleware::from_fn_with_state(faults, faults::inject));
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "simulated upstream stopped");
        }
    });
    Ok(address)
}

/// Every simulated provider on one router.
pub fn router() -> axum::Router {
    upstream::router()
        .merge(aemet::router())
        .merge(esios::router())
        .merge(owm::router())
        .merge(ree::router())
        .merge(madrid::router())
}

/// Points every source at a simulated upstream, gives AEMET a key (the simulator only checks
/// that one is sent) and AEMET and the Madrid portal budgets a local simulator can take (the
/// demo's tenant reads the portal's 25 monthly files a second time, which the real portal's 30
/// calls a minute would spread over another minute), and feeds Madrid's weather from
/// AEMET's observations first, Open-Meteo next, and AEMET's daily values.
pub fn use_upstream(config: &mut Config, address: SocketAddr) {
    config.sources.aemet.base_url = format!("http://{address}{}", aemet::BASE);
    config.sources.aemet.api_key = Some(crate::secret::Secret::new("demo"));
    for budget in &mut config.sources.aemet.limits.budgets {
        budget.calls = budget.calls.max(6_000);
    }
    for budget in &mut config.sources.madrid_traffic.limits.budgets {
        budget.calls = budget.calls.max(600);
    }
    if let Some(madrid) = config.locations.get_mut("madrid") {
        madrid.forecasts = ["open_meteo_forecast", "aemet_forecast", "owm_forecast"]
            .map(String::from)
            .to_vec();
        madrid.sources.insert(
            crate::domain::Dataset::Weather,
            ["aemet_obs", "open_meteo", "aemet"]
                .map(String::from)
                .to_vec(),
        );
    }
    config.sources.open_meteo.archive_url = format!("http://{address}/v1/archive");
    config.sources.open_meteo.forecast_url = format!("http://{address}/v1/forecast");
    config.sources.ree.apidatos_url = format!("http://{address}{}", ree::PATH);
    config.sources.esios.base_url = format!("http://{address}{}", esios::BASE);
    config.sources.esios.token = Some(crate::secret::Secret::new("demo"));
    config.sources.owm.current_url = format!("http://{address}{}", owm::CURRENT_PATH);
    config.sources.owm.timemachine_url = format!("http://{address}{}", owm::TIMEMACHINE_PATH);
    config.sources.owm.forecast_url = format!("http://{address}{}", owm::FORECAST_PATH);
    config.sources.owm.api_key = Some(crate::secret::Secret::new("demo"));
    config.sources.owm.onecall = true;
    let traffic = &mut config.sources.madrid_traffic;
    traffic.points_url = format!("http://{address}{}", madrid::POINTS_PATH);
    traffic.pm_url = format!("http://{address}{}", madrid::PM_PATH);
    traffic.history_url = format!("http://{address}{}", madrid::HISTORY_TEMPLATE);
}

/// Writes `days` days of the simulated water network (and today up to now) as a CSV
/// export under `dir`, loads it through the generic import and processes it.
pub async fn load_water(
    core: &crate::core::Core,
    dir: &std::path::Path,
    days: u32,
) -> anyhow::Result<()> {
    use crate::domain::{Step, Timestamp};
    let now = Timestamp::now();
    let start = now.floor(Step::DAY).plus(-i64::from(days) * 86_400);
    // The days before today, and today up to the last quarter hour, as a live network would be.
    let (csv, _) = water::readings(start, days + 1);
    let last = now
        .floor(Step::QUARTER_HOUR)
        .to_jiff()
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string();
    let csv: String = csv
        .lines()
        .enumerate()
        .filter(|(i, line)| *i == 0 || line.get(..19).is_some_and(|ts| ts <= last.as_str()))
        .flat_map(|(_, line)| [line, "\n"])
        .collect();
    std::fs::create_dir_all(dir)?;
    let path = dir.join("demo_water_network.csv");
    std::fs::write(&path, csv)?;
    let formats = core.config.sources.csv_import.formats.clone();
    let options = crate::sources::kinds::Options {
        at: None,
        units: Default::default(),
        formats: Some(&formats),
    };
    let kind = format!("csv:{}", water::FORMAT);
    let summary = crate::ops::import::run(
        core,
        &kind,
        &path,
        crate::ops::import::Target::ByOrigin,
        &options,
    )
    .await?;
    eprint!("{summary}");
    crate::ops::process::run(core, Timestamp::now()).await?;
    Ok(())
}
