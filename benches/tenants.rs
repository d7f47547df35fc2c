//! Tenant registration, measured over real HTTP against the demo's simulated Madrid portal:
//! - the time to register a tenant (`PUT /api/v1/tenants/{id}/location`): the first one (which
//!   reads the portal's point file) apart, then the rest (target: under 50 ms);
//! - each tenant's first traffic answer (the seed's route, a day of last month, not cached)
//!   beside the city's first answer for the same day (target: no slower).
//!
//! Prints figures; asserts only that the answers are there. Run: `cargo bench --bench tenants`.

use std::time::{Duration, Instant};

use almanac::core::Core;
use almanac::domain::{Step, Timestamp};

const TOKEN: &str = "bench-token";
const TENANTS: usize = 40;

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(run());
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn summary(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let at = |q: f64| ms(times[((times.len() - 1) as f64 * q).round() as usize]);
    println!(
        "{name:<44} n={:<3} median {:>7.2} ms  p90 {:>7.2} ms  max {:>7.2} ms",
        times.len(),
        at(0.5),
        at(0.9),
        at(1.0)
    );
}

async fn run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [
        (
            "ALMANAC__STORE__DATA_DIR",
            dir.path().to_str().expect("utf-8 path"),
        ),
        ("ALMANAC__HTTP__TENANT_TOKEN", TOKEN),
        ("ALMANAC__INIT__MONTHS", "2"),
        // The simulated portal has 24 detectors over 7 km (Madrid's has about 4,000): a wider
        // radius than the default 0.5 km gives most tenants points.
        ("ALMANAC__TENANTS__RADIUS_KM", "1.5"),
    ];
    let env = env.into_iter().map(|(k, v)| (k.to_string(), v.to_string()));
    let mut config = almanac::config::load(None, env).expect("config");
    let upstream = almanac::demo::start_upstream(0.0).await.expect("upstream");
    almanac::demo::use_upstream(&mut config, upstream);
    let core = Core::open(config).await.expect("core");
    let now = Timestamp::now().floor(Step::HOUR);
    let loaded = almanac::ops::init::run(&core, 2, now, &indicatif::ProgressBar::hidden())
        .await
        .expect("init");
    assert!(!loaded.failed(), "{loaded}");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let router = almanac::http::router(core.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    #[allow(
        clippy::disallowed_methods,
        reason = "a client of the server under test"
    )]
    let client = reqwest::Client::new();

    // Tenants spread over a few kilometres around the Puerta del Sol, where the simulated
    // detectors are.
    let points: Vec<(String, f64, f64)> = (0..TENANTS)
        .map(|i| {
            let angle = i as f64 * 2.399_963;
            let km = 0.5 + 6.0 * ((i as f64 + 0.5) / TENANTS as f64).sqrt();
            (
                format!("00000000-0000-4000-8000-{i:012}"),
                40.4168 + km / 111.0 * angle.sin(),
                -3.7038 + km / 85.0 * angle.cos(),
            )
        })
        .collect();
    let mut first = None;
    let mut rest = Vec::new();
    for (id, lat, lon) in &points {
        let body = format!(r#"{{"latitude": {lat}, "longitude": {lon}}}"#);
        let t = Instant::now();
        let response = client
            .put(format!("{base}/api/v1/tenants/{id}/location"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("put");
        assert_eq!(response.status(), 200);
        response.bytes().await.expect("body");
        match first {
            None => first = Some(t.elapsed()),
            Some(_) => rest.push(t.elapsed()),
        }
    }
    println!(
        "{:<44} {:>7.2} ms (the point file was read by init)",
        "register the first tenant",
        ms(first.expect("one"))
    );
    summary("register a tenant (the others)", rest);

    // Wait for the points' histories (loaded in the background).
    let started = Instant::now();
    loop {
        let (pending, with_points) = {
            let book = core.book();
            let with_points = book.tenants().filter(|t| t.location.is_some()).count();
            let loaded = book.tenants().filter(|t| t.loaded).count();
            (with_points - loaded, with_points)
        };
        if pending == 0 {
            println!(
                "{with_points} of {TENANTS} tenants have points within the radius; their histories loaded {:.1} s after the last registration",
                started.elapsed().as_secs_f64()
            );
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(600), "loads stuck");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // First answers: each tenant on its own day of last month, the city on the same day (a
    // tenant id nobody registered gets the city's answer), neither cached before.
    let last_month = Timestamp::now()
        .utc_date()
        .first_of_month()
        .yesterday()
        .expect("a date")
        .first_of_month();
    let (mut own, mut city) = (Vec::new(), Vec::new());
    let answered = core
        .book()
        .tenants()
        .filter(|t| t.location.is_some())
        .map(|t| (t.tenant_id.clone(), t.latitude, t.longitude))
        .collect::<Vec<_>>();
    // At most 28 days, so no city answer is asked twice (and served from the cache).
    for (k, (id, lat, lon)) in answered.iter().take(28).enumerate() {
        let day = last_month
            .checked_add(jiff::ToSpan::days((k % 28) as i64))
            .expect("a day");
        // In turn first, so neither gains from the other's warm pages.
        let mut pair = [
            (id.as_str(), &mut own),
            ("ffffffff-0000-4000-8000-000000000000", &mut city),
        ];
        if k % 2 == 1 {
            pair.reverse();
        }
        for (tenant, times) in pair {
            let t = Instant::now();
            let response = client
                .get(format!(
                    "{base}/api/v1/tenants/{tenant}/external/operations/historical-traffic-optimized?latitude={lat}&longitude={lon}&start_date={day}&end_date={day}"
                ))
                .send()
                .await
                .expect("get");
            assert_eq!(response.status(), 200);
            let bytes = response.bytes().await.expect("body");
            times.push(t.elapsed());
            assert!(bytes.len() > 1_000, "a day of quarter hours");
        }
    }
    summary("first traffic answer, a tenant's own points", own);
    summary("first traffic answer, the city (same days)", city);
}
