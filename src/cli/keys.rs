//! `almanac api-key NAME`: a new API key for the read API and the line that configures it.

use std::io::Read;
use std::process::ExitCode;

use crate::secret::{hex, sha256};

pub(super) fn api_key(name: &str) -> anyhow::Result<ExitCode> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    anyhow::ensure!(
        valid,
        "a key's name is lowercase ASCII letters, digits, `_` and `-`; got `{name}`"
    );
    let mut random = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut random))
        .map_err(|e| anyhow::anyhow!("cannot read the system's randomness (/dev/urandom): {e}"))?;
    let key = format!("alm_{}", hex(&random));
    println!("key (give it to the client; almanac keeps only its digest):\n  {key}");
    println!("configuration ([http.api_keys] in the config file, or the environment):");
    println!("  {name} = \"{}\"", hex(&sha256(&key)));
    if !name.contains('-') {
        // Environment names cannot hold `-`.
        println!(
            "  ALMANAC__HTTP__API_KEYS__{}={}",
            name.to_uppercase(),
            hex(&sha256(&key))
        );
    }
    Ok(ExitCode::SUCCESS)
}
