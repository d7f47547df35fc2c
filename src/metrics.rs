//! Prometheus metrics, in the text exposition format, without a client library: counters, gauges
//! and histograms keyed by name and labels, owned by one `Core` (so tests and replicas do not
//! share them). Names follow the seed: `external_ingestion_records_total`,
//! `external_ingestion_duration_seconds`, `external_ingestion_failures_total`,
//! `external_city_data_records`, `external_city_data_last_update_timestamp`, plus
//! `external_upstream_*` per provider.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Histogram buckets, seconds: loads and upstream calls take seconds to minutes.
const BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// The API's answers take a millisecond (cached) to a second (ten uncached years).
const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

fn buckets(name: &str) -> &'static [f64] {
    if name == "external_api_request_duration_seconds" {
        HTTP_BUCKETS
    } else {
        BUCKETS
    }
}

/// What a metric is, for `# HELP` and `# TYPE`.
const HELP: &[(&str, &str, &str)] = &[
    (
        "external_ingestion_records_total",
        "counter",
        "Values written (inserted or changed) by loads, by city, data type and source.",
    ),
    (
        "external_ingestion_duration_seconds",
        "histogram",
        "Duration of one load of one (city, data type, source).",
    ),
    (
        "external_ingestion_failures_total",
        "counter",
        "Chunks of a load that failed, by city, data type and source.",
    ),
    (
        "external_city_data_records",
        "gauge",
        "Instants stored per city and data type.",
    ),
    (
        "external_city_data_last_update_timestamp",
        "gauge",
        "Unix time of the newest stored instant per city and data type.",
    ),
    (
        "almanac_scheduler_ticks_total",
        "counter",
        "Scheduled job ticks by job and result: succeeded, failed, or skipped (another replica \
         had the tick, or the job was still running).",
    ),
    (
        "almanac_model_trainings_total",
        "counter",
        "Model trainings by model and result: ok, or failed (too little history, a backtest that could not run).",
    ),
    (
        "almanac_tracking_failures_total",
        "counter",
        "Trainings and backtests MLflow could not record, by model (the store keeps the version).",
    ),
    (
        "almanac_notifications_total",
        "counter",
        "Notifications by target (slack, webhook; queue when dropped before delivery) and result: sent, rejected (a 4xx, not retried), failed (retries spent), dropped.",
    ),
    (
        "almanac_http_refused_total",
        "counter",
        "Requests refused before their handler, by reason: api_key (none or not a configured one), rate_limited (the client's http.rate_limit_per_minute spent).",
    ),
    (
        "almanac_store_replica_used",
        "gauge",
        "1 when the API reads from this PostgreSQL replica, 0 while it is skipped (behind by more than store.max_replica_lag_secs, or not answering).",
    ),
    (
        "almanac_store_replica_lag_seconds",
        "gauge",
        "How far the replica's data were behind the primary when last asked, seconds.",
    ),
    (
        "almanac_store_up",
        "gauge",
        "1 when the store answered at the last scrape, 0 when it did not.",
    ),
    (
        "almanac_response_cache_requests_total",
        "counter",
        "Data requests answered from this process's cache (hit), from Redis (shared) or computed (miss).",
    ),
    (
        "external_cache_hit_total",
        "counter",
        "Data requests answered from a cache (this process's or Redis), as the seed counts them.",
    ),
    (
        "external_cache_miss_total",
        "counter",
        "Data requests whose answer was computed.",
    ),
    (
        "external_api_request_duration_seconds",
        "histogram",
        "API request duration by method, route template and status.",
    ),
    (
        "external_upstream_requests_total",
        "counter",
        "Upstream request attempts by provider and outcome.",
    ),
    (
        "external_upstream_request_duration_seconds",
        "histogram",
        "Upstream request attempt duration by provider.",
    ),
    (
        "external_upstream_retries_total",
        "counter",
        "Upstream retries by provider.",
    ),
    (
        "external_upstream_circuit_open",
        "gauge",
        "1 while a provider's circuit breaker refuses requests.",
    ),
];

type Labels = Vec<(String, String)>;

#[derive(Default)]
struct Histogram {
    buckets: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Registry {
    counters: BTreeMap<(&'static str, Labels), f64>,
    gauges: BTreeMap<(&'static str, Labels), f64>,
    histograms: BTreeMap<(&'static str, Labels), Histogram>,
}

#[derive(Default)]
pub struct Metrics {
    registry: Mutex<Registry>,
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

impl Metrics {
    pub fn add(&self, name: &'static str, pairs: &[(&str, &str)], value: f64) {
        if let Ok(mut r) = self.registry.lock() {
            *r.counters.entry((name, labels(pairs))).or_default() += value;
        }
    }

    pub fn set(&self, name: &'static str, pairs: &[(&str, &str)], value: f64) {
        if let Ok(mut r) = self.registry.lock() {
            r.gauges.insert((name, labels(pairs)), value);
        }
    }

    pub fn observe(&self, name: &'static str, pairs: &[(&str, &str)], seconds: f64) {
        if let Ok(mut r) = self.registry.lock() {
            let h = r.histograms.entry((name, labels(pairs))).or_default();
            if h.buckets.is_empty() {
                h.buckets = vec![0; buckets(name).len()];
            }
            for (bucket, bound) in h.buckets.iter_mut().zip(buckets(name)) {
                if seconds <= *bound {
                    *bucket += 1;
                }
            }
            h.sum += seconds;
            h.count += 1;
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let Ok(r) = self.registry.lock() else {
            return String::new();
        };
        let mut out = String::new();
        for &(name, kind, help) in HELP {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            let simple = match kind {
                "counter" => Some(&r.counters),
                "gauge" => Some(&r.gauges),
                _ => None,
            };
            if let Some(map) = simple {
                for ((n, l), value) in map.iter().filter(|((n, _), _)| *n == name) {
                    let _ = writeln!(out, "{n}{} {value}", render_labels(l, None));
                }
                continue;
            }
            for ((n, l), h) in r.histograms.iter().filter(|((n, _), _)| *n == name) {
                for (count, bound) in h.buckets.iter().zip(buckets(name)) {
                    let le = bound.to_string();
                    let _ = writeln!(out, "{n}_bucket{} {count}", render_labels(l, Some(&le)));
                }
                let _ = writeln!(
                    out,
                    "{n}_bucket{} {}",
                    render_labels(l, Some("+Inf")),
                    h.count
                );
                let _ = writeln!(out, "{n}_sum{} {}", render_labels(l, None), h.sum);
                let _ = writeln!(out, "{n}_count{} {}", render_labels(l, None), h.count);
            }
        }
        out
    }
}

fn render_labels(labels: &Labels, le: Option<&str>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_text_format() {
        let m = Metrics::default();
        m.add(
            "external_ingestion_records_total",
            &[("city", "madrid"), ("data_type", "weather")],
            5.0,
        );
        m.add(
            "external_ingestion_records_total",
            &[("city", "madrid"), ("data_type", "weather")],
            2.0,
        );
        m.set(
            "external_upstream_circuit_open",
            &[("provider", "aemet")],
            1.0,
        );
        m.observe(
            "external_upstream_request_duration_seconds",
            &[("provider", "ree")],
            0.3,
        );
        let text = m.render();
        assert!(
            text.contains(
                "external_ingestion_records_total{city=\"madrid\",data_type=\"weather\"} 7\n"
            ),
            "{text}"
        );
        assert!(text.contains("external_upstream_circuit_open{provider=\"aemet\"} 1\n"));
        assert!(text.contains(
            "external_upstream_request_duration_seconds_bucket{provider=\"ree\",le=\"0.25\"} 0\n"
        ));
        assert!(text.contains(
            "external_upstream_request_duration_seconds_bucket{provider=\"ree\",le=\"0.5\"} 1\n"
        ));
        assert!(
            text.contains("external_upstream_request_duration_seconds_count{provider=\"ree\"} 1\n")
        );
        assert!(text.contains("# TYPE external_ingestion_duration_seconds histogram"));
    }
}
