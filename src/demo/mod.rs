//! The offline demo's upstream: a simulated Open-Meteo served over real HTTP on a loopback port,
//! and the config change that points the Open-Meteo source at it. Everything after that — the
//! upstream client, parsing, `init`, the store, the API — is the production path.

pub mod climate;
pub mod upstream;

use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::config::Config;

/// Starts the simulated upstream on `127.0.0.1:0` and returns its address.
pub async fn start_upstream() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, upstream::router()).await {
            tracing::error!(%error, "simulated upstream stopped");
        }
    });
    Ok(address)
}

/// Points the Open-Meteo source at a simulated upstream.
pub fn use_upstream(config: &mut Config, address: SocketAddr) {
    config.sources.open_meteo.archive_url = format!("http://{address}/v1/archive");
    config.sources.open_meteo.forecast_url = format!("http://{address}/v1/forecast");
}
