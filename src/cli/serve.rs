//! `serve` and `demo`: the HTTP API with the scheduled jobs beside it, the demo after loading
//! its simulated window first.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use tokio::net::TcpListener;

use super::progress;
use crate::config::Config;
use crate::core::Core;
use crate::domain::Timestamp;
use crate::{demo, http, ops};

pub(super) async fn serve(
    mut config: Config,
    listen: Option<SocketAddr>,
) -> anyhow::Result<ExitCode> {
    config.http.listen = listen.unwrap_or(config.http.listen);
    let address = config.http.listen;
    let core = Core::open(config).await?;
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("binding {address}"))?;
    tracing::info!(address = %listener.local_addr()?, "serving");
    serve_with_jobs(core, listener).await?;
    Ok(ExitCode::SUCCESS)
}

/// Serves HTTP on `listener` and, unless `schedule.enabled` is off, runs the scheduled jobs
/// beside it until the server shuts down.
async fn serve_with_jobs(core: Core, listener: TcpListener) -> anyhow::Result<()> {
    let (stop, stopped) = tokio::sync::watch::channel(());
    let jobs = if core.config.schedule.enabled {
        let scheduler = crate::scheduler::Scheduler::configured(&core)?;
        let mut stopped = stopped.clone();
        Some(tokio::spawn(scheduler.run(async move {
            let _ = stopped.changed().await;
        })))
    } else {
        tracing::info!("the scheduler is off (schedule.enabled = false)");
        None
    };
    let served = http::serve(core, listener).await;
    drop(stop);
    if let Some(jobs) = jobs {
        let _ = jobs.await;
    }
    served
}

pub(super) async fn demo(
    mut config: Config,
    listen: Option<SocketAddr>,
    faults: f64,
) -> anyhow::Result<ExitCode> {
    config.http.listen = listen.unwrap_or(config.http.listen);
    let upstream = demo::start_upstream(faults).await?;
    demo::use_upstream(&mut config, upstream);
    demo::water::configure(&mut config);
    eprintln!(
        "demo: simulated Open-Meteo, AEMET, REE and Madrid traffic on http://{upstream}; loading {} months into {}",
        config.init.months,
        config.sqlite_path().display()
    );
    let (address, months) = (config.http.listen, config.init.months);
    let core = Core::open(config).await?;
    // A bakery 90 m from a detector, registered before the load so `init` loads its points too.
    let tenant = ops::tenants::enroll(&core, demo::TENANT, demo::BAKERY, Timestamp::now())
        .await?
        .map_err(|e| anyhow::anyhow!("the demo's tenant: {e}"))?;
    let summary = ops::init::run(&core, months, Timestamp::now(), &progress()).await?;
    eprint!("{summary}");
    if let Some(points) = &tenant.location
        && !summary.failed()
    {
        ops::tenants::mark_loaded(&core, points, Timestamp::now()).await?;
    }
    demo::load_water(&core, &core.config.store.data_dir, 21).await?;
    let forecasts = ops::forecast::run(&core, Timestamp::now()).await?;
    eprint!("{forecasts}");
    // The models: a first version of each, and its forecast, before the API answers.
    let trained = ops::model::run_train(&core, Timestamp::now()).await?;
    eprint!("{trained}");
    let predicted = ops::model::run_predict(&core, Timestamp::now()).await?;
    eprint!("{predicted}");
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("binding {address}"))?;
    let bound = listener.local_addr()?;
    println!("almanac demo ready on http://{bound}");
    println!("  the dashboard: http://{bound}/ui    the API, to try: http://{bound}/docs");
    println!("  curl 'http://{bound}/api/v1/external/cities'");
    let yesterday = Timestamp::now().plus(-86_400).utc_date();
    println!(
        "  curl 'http://{bound}/api/v1/tenants/8a7c9f5e-1b2d-4e3f-9a8b-7c6d5e4f3a2b/external/operations/historical-weather-optimized?latitude=40.42&longitude=-3.70&start_date={yesterday}&end_date={yesterday}'"
    );
    // Traffic history comes a month at a time: a day of last month. The demo's tenant gets its
    // own detectors' traffic, any other tenant the city's.
    let last_month = Timestamp::now().months_before(1).utc_date();
    let (lat, lon) = (demo::BAKERY.latitude, demo::BAKERY.longitude);
    println!(
        "  curl -i 'http://{bound}/api/v1/tenants/{}/external/operations/historical-traffic-optimized?latitude={lat}&longitude={lon}&start_date={last_month}&end_date={last_month}'",
        demo::TENANT
    );
    println!(
        "    (tenant {} is registered at {lat},{lon}: its traffic is {}'s, {}; x-almanac-traffic-location says which)",
        demo::TENANT,
        tenant.location.as_deref().unwrap_or(&tenant.city),
        tenant
            .points
            .iter()
            .map(|p| format!("detector {} at {:.2} km", p.id, p.distance_km))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  curl 'http://{bound}/api/v1/locations/madrid/energy_price?start={yesterday}&end={yesterday}'"
    );
    println!("  curl 'http://{bound}/api/v1/network/efficiency'");
    println!("  curl 'http://{bound}/api/v1/anomalies?hours=720'");
    println!(
        "  curl 'http://{bound}/api/v1/locations/madrid/calendar?start={last_month}&end={yesterday}'"
    );
    println!(
        "  curl 'http://{bound}/api/v1/locations/madrid/frame?start={last_month}&end={last_month}&format=csv'"
    );
    let tomorrow = Timestamp::now().plus(86_400).utc_date();
    println!(
        "  curl 'http://{bound}/api/v1/locations/madrid/weather/forecast?start={tomorrow}&end={tomorrow}&variables=temperature'"
    );
    println!("  curl 'http://{bound}/api/v1/models'");
    println!("  curl 'http://{bound}/predict/prices/hourly?hours=24'");
    println!(
        "  curl 'http://{bound}/api/v1/predictions/{}?model_type=flow_prediction&horizon_hours=24'",
        demo::water::NODES[0].0
    );
    serve_with_jobs(core, listener).await?;
    Ok(ExitCode::SUCCESS)
}
