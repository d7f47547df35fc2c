//! `init` of the five seed cities (and the price zone) against the demo's simulated providers,
//! each answer delayed by a round trip (`LATENCY`, as a real provider's), 6 months:
//! - each location alone;
//! - all of them one load at a time (`loads.parallel = 1`);
//! - all at once (`loads.parallel = 4`), Open-Meteo at one request in flight (its free tier's
//!   rule) and at four (a commercial host).
//!
//! Prints figures; asserts only that every load succeeded. Run: `cargo bench --bench parallel_loads`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use almanac::core::Core;
use almanac::domain::{Step, Timestamp};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

const LATENCY: Duration = Duration::from_millis(100);
const MONTHS: u32 = 6;
const LOCATIONS: [&str; 6] = [
    "madrid",
    "valencia",
    "barcelona",
    "sevilla",
    "bilbao",
    "es_peninsular",
];

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(run());
}

async fn delayed(request: Request, next: Next) -> Response {
    tokio::time::sleep(LATENCY).await;
    next.run(request).await
}

/// Wall time of one `init` over `enabled` with these settings.
async fn init(upstream: SocketAddr, enabled: &[&str], extra: &[(&str, &str)]) -> Duration {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut env = vec![(
        "ALMANAC__STORE__DATA_DIR".to_string(),
        dir.path().to_str().expect("utf-8 path").to_string(),
    )];
    for id in LOCATIONS {
        let on = enabled.contains(&id);
        env.push((
            format!("ALMANAC__LOCATIONS__{}__ENABLED", id.to_uppercase()),
            on.to_string(),
        ));
    }
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut config = almanac::config::load(None, env).expect("config");
    almanac::demo::use_upstream(&mut config, upstream);
    let core = Core::open(config).await.expect("core");
    let now = Timestamp::now().floor(Step::HOUR);
    let started = Instant::now();
    let summary = almanac::ops::init::run(&core, MONTHS, now, &indicatif::ProgressBar::hidden())
        .await
        .expect("init");
    let took = started.elapsed();
    assert!(!summary.failed(), "{summary}");
    took
}

async fn run() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let upstream = listener.local_addr().expect("address");
    let router = almanac::demo::router().layer(axum::middleware::from_fn(delayed));
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    println!(
        "init of {MONTHS} months, every upstream answer {} ms late",
        LATENCY.as_millis()
    );
    let mut alone = Vec::new();
    for id in LOCATIONS {
        let took = init(upstream, &[id], &[("ALMANAC__LOADS__PARALLEL", "4")]).await;
        println!(
            "{:<52} {:>6.2} s",
            format!("{id} alone"),
            took.as_secs_f64()
        );
        alone.push(took);
    }
    let sum: Duration = alone.iter().sum();
    let slowest = alone.iter().max().copied().unwrap_or_default();
    println!(
        "{:<52} {:>6.2} s   slowest {:.2} s",
        "sum of the locations alone",
        sum.as_secs_f64(),
        slowest.as_secs_f64()
    );
    for (name, extra) in [
        (
            "all, loads.parallel = 1",
            vec![("ALMANAC__LOADS__PARALLEL", "1")],
        ),
        (
            "all, loads.parallel = 4, Open-Meteo 1 in flight",
            vec![("ALMANAC__LOADS__PARALLEL", "4")],
        ),
        (
            "all, loads.parallel = 8, Open-Meteo 4 in flight",
            vec![
                ("ALMANAC__LOADS__PARALLEL", "8"),
                ("ALMANAC__SOURCES__OPEN_METEO__LIMITS__MAX_IN_FLIGHT", "4"),
            ],
        ),
    ] {
        let took = init(upstream, &LOCATIONS, &extra).await;
        println!(
            "{name:<52} {:>6.2} s   {:.2}x the slowest, {:.2}x the sum",
            took.as_secs_f64(),
            took.as_secs_f64() / slowest.as_secs_f64(),
            took.as_secs_f64() / sum.as_secs_f64()
        );
    }
}
