//! Streaming a month of Madrid traffic history: ZIP files in the portal's real layout (`"id";"fecha";
//! …`, Madrid local times, `;`, quoted text) are generated at an eighth of a month and at a full month
//! (4,420 detectors × 31 days × 96 quarter hours ≈ 13.2 M rows, the size the portal publishes), then
//! each is parsed and aggregated into a city's series in a fresh process, which reports rows/s and its
//! peak resident memory (`VmHWM`). Peak memory must not grow with the file. Prints figures.
//! Run: `cargo bench --bench madrid_history`.

use std::io::Write;
use std::time::Instant;

use almanac::domain::{Step, TimeRange, Timestamp};
use almanac::sources::madrid::{CityAggregator, history};

const DETECTORS: u32 = 4_420;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--parse") {
        parse(&args[i + 1]);
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    println!(
        "{:>12} {:>10} {:>9} {:>12} {:>14}",
        "rows", "zip MB", "seconds", "rows/s", "peak RSS MB"
    );
    for days in [4, 31] {
        let path = dir.path().join(format!("{days}.zip"));
        let rows = generate(&path, days);
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
        let out = std::process::Command::new(std::env::current_exe().expect("self"))
            .args(["--parse", path.to_str().expect("utf-8 path")])
            .output()
            .expect("child");
        let report = String::from_utf8_lossy(&out.stdout);
        let fields: Vec<f64> = report
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        let [parsed, seconds, peak_kb] = fields[..] else {
            panic!(
                "child said: {report} {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        assert_eq!(parsed as u64, rows, "every row read");
        println!(
            "{rows:>12} {size:>10.1} {seconds:>9.2} {:>12.0} {:>14.1}",
            parsed / seconds,
            peak_kb / 1024.0
        );
    }
}

/// Writes `days` of 15-minute rows for every detector, from 2025-10-01 local (the autumn change
/// included for a full month), streaming into the ZIP.
fn generate(path: &std::path::Path, days: i64) -> u64 {
    let zone = jiff::tz::TimeZone::get("Europe/Madrid").expect("zone");
    let start = jiff::civil::date(2025, 10, 1)
        .to_zoned(zone.clone())
        .expect("date")
        .timestamp()
        .as_second();
    let range = TimeRange::new(
        Timestamp::from_epoch(start),
        Timestamp::from_epoch(start + days * 86_400 + 3_600),
    )
    .expect("range");
    let labels: Vec<String> = (0..range.end.epoch() - range.start.epoch())
        .step_by(900)
        .map(|offset| {
            Timestamp::from_epoch(range.start.epoch() + offset)
                .to_jiff()
                .to_zoned(zone.clone())
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .collect();
    let file = std::fs::File::create(path).expect("create");
    let mut zip = zip::ZipWriter::new(file);
    zip.start_file("10-2025.csv", zip::write::SimpleFileOptions::default())
        .expect("entry");
    let mut out = std::io::BufWriter::with_capacity(1 << 20, &mut zip);
    writeln!(
        out,
        "\"id\";\"fecha\";\"tipo_elem\";\"intensidad\";\"ocupacion\";\"carga\";\"vmed\";\"error\";\"periodo_integracion\""
    )
    .expect("write");
    let mut rows = 0;
    for id in 1_000..1_000 + DETECTORS {
        let m30 = id.is_multiple_of(9);
        for (n, label) in labels.iter().enumerate() {
            let intensity = (id as usize * 7 + n * 13) % 1_800;
            writeln!(
                out,
                "{id};\"{label}\";\"{}\";{intensity};{};{};{};\"{}\";15",
                if m30 { "M30" } else { "URB" },
                intensity / 60,
                intensity / 25,
                if m30 { 60 + n % 30 } else { 0 },
                if (id as usize + n).is_multiple_of(97) {
                    "S"
                } else {
                    "N"
                },
            )
            .expect("write");
            rows += 1;
        }
    }
    out.flush().expect("flush");
    drop(out);
    zip.finish().expect("finish");
    rows
}

/// The child: stream, aggregate, report rows, seconds and peak RSS in kB.
fn parse(path: &str) {
    let within = (1_000..1_000 + DETECTORS)
        .map(|id| id.to_string())
        .collect();
    let mut city = CityAggregator::new(within);
    let mut rows = 0u64;
    let started = Instant::now();
    let file = std::fs::File::open(path).expect("open");
    history::stream_zip(file, |item| {
        rows += 1;
        if let Ok(reading) = item {
            city.add(&reading);
        }
    })
    .expect("stream");
    let observations = city.finish();
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        observations
            .iter()
            .all(|o| o.ts.is_aligned(Step::QUARTER_HOUR))
    );
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or("0");
    println!("{rows} {seconds:.3} {peak}");
}
