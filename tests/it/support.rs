//! Test scaffolding: configs pointed at in-process upstreams, a store per test, a server on
//! port 0, and the recorded fixtures in `../shared` (which must be there in CI).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use almanac::config::{self, Config};
use almanac::core::Core;
use axum::Router;
use tokio::net::TcpListener;

/// A recorded fixture under `../shared/fixtures`. Absent outside CI: says so on the terminal
/// (written past the test harness' capture) and returns `None`; absent in CI: fails.
pub fn shared_fixture(path: &str) -> Option<PathBuf> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures")
        .join(path);
    if full.exists() {
        return Some(full);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} is missing; CI must have ../shared",
        full.display()
    );
    let _ = writeln!(
        std::io::stderr(),
        "NOT RUN: ../shared/fixtures/{path} is absent on this machine, so its test did not run"
    );
    None
}

/// A file in the repository's own `tests/fixtures`.
pub fn own_fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Serves `router` on a loopback port and returns its address.
pub async fn serve(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    address
}

/// Settings for a test: the store in `dir`, every source at `upstream`, fast retries, roomy
/// budgets, only Open-Meteo weather for Madrid and the price zone disabled (tests about traffic
/// and prices turn them on), plus any `extra` `ALMANAC__…` pairs.
pub fn config(dir: &tempfile::TempDir, upstream: SocketAddr, extra: &[(&str, &str)]) -> Config {
    config::load(None, env(dir, upstream, extra)).unwrap()
}

/// The `ALMANAC__…` variables of [`config`], for a child `almanac` process.
pub fn env(
    dir: &tempfile::TempDir,
    upstream: SocketAddr,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        (
            "ALMANAC__STORE__DATA_DIR",
            dir.path().to_str().unwrap().to_string(),
        ),
        (
            "ALMANAC__SOURCES__OPEN_METEO__ARCHIVE_URL",
            format!("http://{upstream}/v1/archive"),
        ),
        (
            "ALMANAC__SOURCES__OPEN_METEO__FORECAST_URL",
            format!("http://{upstream}/v1/forecast"),
        ),
        (
            "ALMANAC__SOURCES__REE__APIDATOS_URL",
            format!("http://{upstream}{}", almanac::demo::ree::PATH),
        ),
        ("ALMANAC__LOCATIONS__ES_PENINSULAR__ENABLED", "false".into()),
        (
            "ALMANAC__SOURCES__ESIOS__BASE_URL",
            format!("http://{upstream}{}", almanac::demo::esios::BASE),
        ),
        (
            "ALMANAC__SOURCES__OWM__CURRENT_URL",
            format!("http://{upstream}{}", almanac::demo::owm::CURRENT_PATH),
        ),
        (
            "ALMANAC__SOURCES__OWM__FORECAST_URL",
            format!("http://{upstream}{}", almanac::demo::owm::FORECAST_PATH),
        ),
        (
            "ALMANAC__SOURCES__OWM__TIMEMACHINE_URL",
            format!("http://{upstream}{}", almanac::demo::owm::TIMEMACHINE_PATH),
        ),
        (
            "ALMANAC__SOURCES__AEMET__BASE_URL",
            format!("http://{upstream}{}", almanac::demo::aemet::BASE),
        ),
        (
            "ALMANAC__SOURCES__MADRID_TRAFFIC__POINTS_URL",
            format!("http://{upstream}{}", almanac::demo::madrid::POINTS_PATH),
        ),
        (
            "ALMANAC__SOURCES__MADRID_TRAFFIC__PM_URL",
            format!("http://{upstream}{}", almanac::demo::madrid::PM_PATH),
        ),
        (
            "ALMANAC__SOURCES__MADRID_TRAFFIC__HISTORY_URL",
            format!(
                "http://{upstream}{}",
                almanac::demo::madrid::HISTORY_TEMPLATE
            ),
        ),
        ("ALMANAC__LOCATIONS__MADRID__SOURCES__TRAFFIC", "[]".into()),
        ("ALMANAC__SOURCES__OPEN_METEO__LIMITS__RETRIES", "1".into()),
        (
            "ALMANAC__SOURCES__OPEN_METEO__LIMITS__BACKOFF_INITIAL_MS",
            "5".into(),
        ),
        (
            "ALMANAC__SOURCES__OPEN_METEO__LIMITS__TIMEOUT_SECS",
            "5".into(),
        ),
        (
            "ALMANAC__SOURCES__OPEN_METEO__LIMITS__BREAKER_FAILURES",
            "1000".into(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(url) = postgres_for(dir) {
        env.push(("ALMANAC__STORE__URL".into(), url));
    }
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

/// Whether this run puts every test's store on PostgreSQL (`ALMANAC_TEST_STORE=postgres`, with
/// `ALMANAC_TEST_POSTGRES_URL`): `.ci/run` runs the integration suite a second time so.
pub fn on_postgres() -> bool {
    std::env::var("ALMANAC_TEST_STORE").as_deref() == Ok("postgres")
}

/// The PostgreSQL database standing for a test's store directory when [`on_postgres`]: made on
/// first use (named `almanac_it_…`; `.ci/run` drops them after the run), the same one for every
/// core opened on that directory, as they would share the SQLite file.
pub fn postgres_for(dir: &tempfile::TempDir) -> Option<String> {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static DATABASES: Mutex<Option<HashMap<PathBuf, String>>> = Mutex::new(None);
    if !on_postgres() {
        return None;
    }
    let admin = std::env::var("ALMANAC_TEST_POSTGRES_URL")
        .expect("ALMANAC_TEST_STORE=postgres needs ALMANAC_TEST_POSTGRES_URL");
    let mut databases = DATABASES.lock().unwrap();
    let map = databases.get_or_insert_with(HashMap::new);
    if let Some(url) = map.get(dir.path()) {
        return Some(url.clone());
    }
    let name = format!("almanac_it_{:016x}", fastrand::u64(..));
    let status = std::process::Command::new("psql")
        .args([
            admin.as_str(),
            "-q",
            "-c",
            &format!("CREATE DATABASE {name}"),
        ])
        .status()
        .expect("psql");
    assert!(status.success(), "CREATE DATABASE {name}");
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let url = format!("{base}/{name}");
    map.insert(dir.path().to_owned(), url.clone());
    Some(url)
}

/// Another handle on a test's store (the directory's SQLite file, or its PostgreSQL database
/// when [`on_postgres`]).
pub async fn open_store(
    dir: &tempfile::TempDir,
) -> Result<Box<dyn almanac::store::Store>, almanac::store::StoreError> {
    match postgres_for(dir) {
        Some(url) => Ok(Box::new(almanac::store::Postgres::connect(&url).await?)),
        None => Ok(Box::new(
            almanac::store::Sqlite::open(&dir.path().join("almanac.db")).await?,
        )),
    }
}

/// A core on a fresh store in `dir`, fetching from `upstream`.
pub async fn core(dir: &tempfile::TempDir, upstream: SocketAddr) -> Core {
    Core::open(config(dir, upstream, &[])).await.unwrap()
}

/// An HTTP client for talking to servers under test.
pub fn client() -> reqwest::Client {
    almanac::sources::upstream::install_crypto();
    #[allow(
        clippy::disallowed_methods,
        reason = "a client of the server under test"
    )]
    reqwest::Client::new()
}

/// Waits, if need be, until the current quarter hour has at least a minute left, so a test that
/// compares what the real-time simulator answers with `now` does not straddle a boundary.
pub async fn away_from_a_quarter_boundary() {
    let into = almanac::domain::Timestamp::now().epoch().rem_euclid(900);
    if into > 840 {
        tokio::time::sleep(std::time::Duration::from_secs((901 - into) as u64)).await;
    }
}

/// A fresh PostgreSQL database on the server at `ALMANAC_TEST_POSTGRES_URL`; `None`, after saying
/// `NOT RUN`, where that variable is unset (in CI, where it must be set, a failure instead).
pub struct TestDb {
    pub url: String,
    admin: String,
    name: String,
}

pub async fn postgres(test: &str) -> Option<TestDb> {
    let Ok(admin) = std::env::var("ALMANAC_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("CI").is_err(),
            "{test}: ALMANAC_TEST_POSTGRES_URL is not set in CI"
        );
        eprintln!("NOT RUN: {test} (ALMANAC_TEST_POSTGRES_URL is not set)");
        return None;
    };
    use sqlx::Connection;
    let name = format!("almanac_t_{:016x}", fastrand::u64(..));
    let mut connection = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await
        .unwrap();
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(base, _)| base);
    Some(TestDb {
        url: format!("{base}/{name}"),
        admin,
        name,
    })
}

impl TestDb {
    /// Drops the database (its connections are closed by force).
    pub async fn drop(self) {
        use sqlx::Connection;
        let mut connection = sqlx::PgConnection::connect(&self.admin).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut connection)
        .await
        .unwrap();
    }
}

/// A core on a fresh store in `dir` (settings of [`config`] plus `extra`) holding the last month
/// of the simulated upstream's weather, loaded by the real `init`.
pub async fn loaded(dir: &tempfile::TempDir, upstream: SocketAddr, extra: &[(&str, &str)]) -> Core {
    let core = Core::open(config(dir, upstream, extra)).await.unwrap();
    let now = almanac::domain::Timestamp::now().floor(almanac::domain::Step::HOUR);
    let summary = almanac::ops::init::run(&core, 1, now, &indicatif::ProgressBar::hidden())
        .await
        .unwrap();
    assert!(!summary.failed(), "{summary}");
    core
}

/// The server's `/metrics` text.
pub async fn metrics_text(base: &str) -> String {
    client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of the sample `series` (a name with its labels, as rendered) in `/metrics` text.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
}

/// The API (fresh store in `dir`, no upstream) under the real accept loop (`serve_until`, which
/// gives handlers the peer's address) with `extra` settings; its address.
pub async fn accept_loop(dir: &tempfile::TempDir, extra: &[(&str, &str)]) -> SocketAddr {
    let unused: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let core = Core::open(config(dir, unused, extra)).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let limits = almanac::http::Limits::of(&core.config.http);
    let app = almanac::http::router(core);
    tokio::spawn(almanac::http::serve_until(
        listener,
        app,
        limits,
        std::future::pending(),
    ));
    address
}
