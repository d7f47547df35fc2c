//! The code's layout rules that a reader should not have to trust: data flows one way, and
//! `http` only parses, calls the query wing (or an op) and answers — it never reaches the store.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Lines of `src/<module>` that name the store (its types or a handle's `store` field).
fn store_uses(module: &str) -> Vec<String> {
    lines_naming(module, &["crate::store", ".store."])
}

/// Lines of `src/<module>` whose code (not comments) holds any of `needles`.
fn lines_naming(module: &str, needles: &[&str]) -> Vec<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(module);
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if needles.iter().any(|n| code.contains(n)) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn http_never_reaches_the_store() {
    let found = store_uses("http");
    assert!(
        found.is_empty(),
        "src/http must go through crate::query (or an op), not the store:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_rule_finds_what_it_should() {
    // The store is used where it belongs, so the scan does see such lines.
    assert!(!store_uses("query").is_empty());
}

#[test]
fn sources_never_read_the_configuration_module() {
    // Providers declare themselves (`sources::providers`) and own their config types; `config`
    // reads them, never the other way round.
    let found = lines_naming("sources", &["crate::config"]);
    assert!(
        found.is_empty(),
        "src/sources must not import crate::config:\n{}",
        found.join("\n")
    );
    assert!(!lines_naming("config", &["crate::sources"]).is_empty());
}
