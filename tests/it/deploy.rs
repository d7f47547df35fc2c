//! The Kubernetes manifests agree with what the code needs: a container whose root filesystem is
//! read-only still has a writable `/tmp` (Madrid's history months are downloaded to a temporary
//! file, `std::env::temp_dir()`), large enough for the biggest download, and the probes set
//! timeouts longer than what `/health/ready` allows itself.

use std::path::PathBuf;

fn manifests() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/k8s");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// `sizeLimit: 512Mi` → bytes.
fn size_limit(text: &str) -> Option<u64> {
    let at = text.find("sizeLimit:")? + "sizeLimit:".len();
    let value = text[at..].trim_start();
    let digits: String = value.chars().take_while(char::is_ascii_digit).collect();
    let n: u64 = digits.parse().ok()?;
    let unit = &value[digits.len()..];
    let scale = if unit.starts_with("Gi") {
        1 << 30
    } else if unit.starts_with("Mi") {
        1 << 20
    } else {
        return None;
    };
    Some(n * scale)
}

#[test]
fn read_only_containers_have_a_tmp_large_enough_for_downloads() {
    let config = almanac::config::load(None, []).unwrap();
    let limits = &config.sources.madrid_traffic.limits;
    let largest = limits.max_body_bytes * u64::from(limits.max_in_flight);
    let mut checked = 0;
    for (name, text) in manifests() {
        if !text.contains("readOnlyRootFilesystem: true") {
            continue;
        }
        checked += 1;
        assert!(
            text.contains("mountPath: /tmp") && text.contains("emptyDir:"),
            "{name}: a read-only root filesystem without a writable /tmp breaks history downloads"
        );
        let size = size_limit(&text).unwrap_or_else(|| panic!("{name}: /tmp has no sizeLimit"));
        assert!(
            size >= largest,
            "{name}: /tmp holds {size} bytes, a download may take {largest}"
        );
    }
    assert!(
        checked >= 3,
        "deployment, init job and rotate job are all read-only"
    );
}

#[test]
fn probes_wait_longer_than_readiness_takes() {
    let (_, deployment) = manifests()
        .into_iter()
        .find(|(name, _)| name == "deployment.yaml")
        .unwrap();
    for probe in ["readinessProbe:", "livenessProbe:"] {
        let at = deployment.find(probe).unwrap();
        let block: String = deployment[at..]
            .lines()
            .take(8)
            .collect::<Vec<_>>()
            .join("\n");
        let timeout = block
            .lines()
            .find_map(|l| l.trim().strip_prefix("timeoutSeconds:"))
            .unwrap_or_else(|| panic!("{probe} sets no timeoutSeconds:\n{block}"));
        let seconds: u64 = timeout.trim().parse().unwrap();
        assert!(seconds >= 2, "{probe} timeoutSeconds {seconds} < 2");
    }
}
