//! The API reference (`docs/api.md`) lists every error code the API can answer with: codes are found in the HTTP
//! layer's source (`bad_request("…"`, `not_found("…"`, `code: "…"`, and the answers the
//! connection layer writes for requests it cannot parse).

use std::collections::BTreeSet;
use std::path::PathBuf;

/// The string literal starting right after `at` in `text` (after whitespace), if any.
fn literal_after(text: &str, at: usize) -> Option<&str> {
    let rest = text[at..].trim_start().strip_prefix('"')?;
    let end = rest.find('"')?;
    let code = &rest[..end];
    code.chars()
        .all(|c| c.is_ascii_lowercase() || c == '_')
        .then_some(code)
}

fn codes_in(text: &str) -> BTreeSet<String> {
    let mut codes = BTreeSet::new();
    for marker in [
        "bad_request(",
        "not_found(",
        "code: ",
        "Request\",",
        "Long\",",
        "Large\",",
    ] {
        for (at, _) in text.match_indices(marker) {
            if let Some(code) = literal_after(text, at + marker.len()) {
                codes.insert(code.to_owned());
            }
        }
    }
    codes
}

#[test]
fn every_error_code_is_in_the_api_reference() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut codes = BTreeSet::new();
    for entry in std::fs::read_dir(root.join("src/http")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            codes.extend(codes_in(&std::fs::read_to_string(&path).unwrap()));
        }
    }
    for expected in [
        "invalid_date",
        "store_unavailable",
        "uri_too_long",
        "headers_too_large",
    ] {
        assert!(
            codes.contains(expected),
            "the scan missed {expected}: {codes:?}"
        );
    }
    let readme = std::fs::read_to_string(root.join("docs/api.md")).unwrap();
    let missing: Vec<_> = codes
        .iter()
        .filter(|c| !readme.contains(&format!("`{c}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "error codes missing from docs/api.md: {missing:?}"
    );
}
