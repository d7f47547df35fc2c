//! Builds a [`Config`] from the three layers and reports every problem at once.

use std::fmt;
use std::path::Path;

use toml::{Table, Value};

use super::{Config, sites};

const DEFAULTS: &str = include_str!("defaults.toml");
const ENV_PREFIX: &str = "ALMANAC__";

/// Keys whose values are secrets: they may come from the environment or from the file named by
/// `<key>_file`, never from the config file itself. almanac's own, then each provider's (as it
/// declares them).
fn secrets() -> Vec<String> {
    [
        "http.admin_token",
        "http.tenant_token",
        "store.url",
        "store.read_urls",
        "redis.url",
        "notify.slack_url",
        "notify.webhook_url",
    ]
    .into_iter()
    .map(String::from)
    .chain(crate::sources::providers::secret_keys())
    .collect()
}

/// Everything wrong with the configuration, one problem per line.
#[derive(Debug)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "invalid configuration ({} problem(s)):",
            self.problems.len()
        )?;
        for problem in &self.problems {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Loads the defaults, then `file` if given, then the `ALMANAC__…` pairs among `env`.
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let mut problems = Vec::new();
    let mut merged: Table = DEFAULTS
        .parse()
        .map_err(|e| single(format!("embedded defaults: {e}")))?;
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| single(format!("cannot read {}: {e}", path.display())))?;
        let layer: Table = text
            .parse()
            .map_err(|e| single(format!("{}: {e}", path.display())))?;
        for secret in &secrets() {
            if lookup(&layer, secret).is_some() {
                let env_name = format!("{ENV_PREFIX}{}", secret.replace('.', "__").to_uppercase());
                problems.push(format!(
                    "{secret} is a secret and cannot be set in {}: use {env_name} or `{secret}_file`",
                    path.display()
                ));
            }
        }
        merge(&mut merged, layer);
    }
    for (name, raw) in env {
        if let Some(path) = name.strip_prefix(ENV_PREFIX) {
            let keys: Vec<String> = path.split("__").map(str::to_lowercase).collect();
            let value = if secrets().contains(&keys.join(".")) {
                secret_env_value(&raw)
            } else {
                parse_env_value(&raw)
            };
            if let Err(problem) = set(&mut merged, &keys, value) {
                problems.push(format!("{name}: {problem}"));
            }
        }
    }
    problems.extend(resolve_secret_files(&mut merged));
    problems.extend(empty_secrets(&merged));
    let mut unknown = Vec::new();
    let parsed: Result<Config, _> = serde_ignored::deserialize(Value::Table(merged), |path| {
        unknown.push(format!("unknown key `{path}`"))
    });
    problems.extend(unknown);
    let mut config = match parsed {
        Ok(config) => config,
        Err(e) => {
            problems.push(e.to_string().trim().to_string());
            return Err(ConfigError { problems });
        }
    };
    match sites::load_all(&config.sites) {
        Ok(locations) => config.site_locations = locations,
        Err(site_problems) => problems.extend(site_problems),
    }
    config.holidays = crate::domain::calendar::Calendars::embedded();
    for path in &config.calendars.files {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                if let Err(found) = config.holidays.add(&path.display().to_string(), &text) {
                    problems.extend(found.into_iter().map(|p| format!("calendars.files: {p}")));
                }
            }
            Err(e) => problems.push(format!("calendars.files: {}: {e}", path.display())),
        }
    }
    problems.extend(config.validate());
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError { problems })
    }
}

fn single(problem: String) -> ConfigError {
    ConfigError {
        problems: vec![problem],
    }
}

/// Environment values are TOML literals when they parse as one (`false`, `12`, `["a"]`), else
/// plain strings, so `ALMANAC__HTTP__LISTEN=0.0.0.0:8080` needs no quotes.
fn parse_env_value(raw: &str) -> Value {
    format!("v = {raw}")
        .parse::<Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(raw.to_string()))
}

/// A secret from the environment is always a string, whatever it looks like (`12345` is the
/// five characters, not a number); a value written as a quoted TOML string loses its quotes, and
/// surrounding white space (a stray newline from `$(cat file)`) is dropped, as from a file.
fn secret_env_value(raw: &str) -> Value {
    match parse_env_value(raw) {
        Value::String(s) => Value::String(s.trim().to_owned()),
        _ => Value::String(raw.trim().to_string()),
    }
}

/// A secret set to nothing (an empty variable, `""`, an empty file, only whitespace) is a
/// mistake, never "no secret": an empty admin token would match a request without one.
fn empty_secrets(merged: &Table) -> Vec<String> {
    secrets()
        .iter()
        .filter(|secret| {
            lookup(merged, secret)
                .and_then(Value::as_str)
                .is_some_and(|v| v.trim().is_empty())
        })
        .map(|secret| {
            let env_name = format!("{ENV_PREFIX}{}", secret.replace('.', "__").to_uppercase());
            format!(
                "{secret} is set but empty: give it a value or leave {env_name} (and `{secret}_file`) unset"
            )
        })
        .collect()
}

fn merge(base: &mut Table, layer: Table) {
    for (key, value) in layer {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(existing)), Value::Table(incoming)) => merge(existing, incoming),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn set(table: &mut Table, keys: &[String], value: Value) -> Result<(), String> {
    let (last, parents) = keys.split_last().ok_or("empty key")?;
    let mut current = table;
    for key in parents {
        let entry = current
            .entry(key.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        current = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{key}` is not a section"))?;
    }
    current.insert(last.clone(), value);
    Ok(())
}

fn lookup<'a>(table: &'a Table, dotted: &str) -> Option<&'a Value> {
    let mut parts = dotted.split('.');
    let mut value = table.get(parts.next()?)?;
    for part in parts {
        value = value.as_table()?.get(part)?;
    }
    Some(value)
}

/// Replaces each `<secret>_file` key by the trimmed contents of the file it names.
fn resolve_secret_files(merged: &mut Table) -> Vec<String> {
    let mut problems = Vec::new();
    for secret in &secrets() {
        let file_key = format!("{secret}_file");
        let Some(path) = lookup(merged, &file_key).cloned() else {
            continue;
        };
        let keys: Vec<String> = file_key.split('.').map(String::from).collect();
        if let Some(parent) = keys[..keys.len() - 1]
            .iter()
            .try_fold(&mut *merged, |t, k| t.get_mut(k)?.as_table_mut())
        {
            parent.remove(&keys[keys.len() - 1]);
        }
        let Some(path) = path.as_str() else {
            problems.push(format!("{file_key} must be a path"));
            continue;
        };
        match std::fs::read_to_string(path) {
            Ok(value) => {
                let keys: Vec<String> = secret.split('.').map(String::from).collect();
                let _ = set(merged, &keys, Value::String(value.trim_end().to_string()));
            }
            Err(e) => problems.push(format!("{file_key}: cannot read {path}: {e}")),
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn defaults_alone_are_valid_and_hold_the_seed_cities() {
        let config = load(None, []).unwrap();
        let registry = config.registry();
        let ids: Vec<_> = registry.all().iter().map(|l| l.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "barcelona",
                "bilbao",
                "es_peninsular",
                "madrid",
                "sevilla",
                "valencia"
            ]
        );
        let enabled: Vec<_> = registry.enabled().map(|l| l.id.as_str()).collect();
        assert_eq!(enabled, ["es_peninsular", "madrid"]);
        let places: Vec<_> = registry.places().map(|l| l.id.as_str()).collect();
        assert_eq!(places, ["madrid"], "a price zone is never a point's answer");
        assert_eq!(config.init.months, 24);
    }

    #[test]
    fn file_then_environment_override_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            &dir,
            "a.toml",
            "[init]\nmonths = 6\n[locations.valencia]\nenabled = true\n",
        );
        let config = load(
            Some(&file),
            env(&[
                ("ALMANAC__INIT__MONTHS", "3"),
                ("ALMANAC__HTTP__LISTEN", "0.0.0.0:9000"),
                ("OTHER", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(config.init.months, 3);
        assert_eq!(config.http.listen.port(), 9000);
        assert!(config.locations["valencia"].enabled);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            &dir,
            "bad.toml",
            "[init]\nmonth = 6\n[htp]\nlisten = 1\n[locations.madrid]\nlatitude = 95.0\ntimezone = \"Mars/Olympus\"\n",
        );
        let err = load(
            Some(&file),
            env(&[
                ("ALMANAC__SOURCES__OPEN_METEO__ARCHIVE_URLL", "x"),
                ("ALMANAC__REDIS__TIMEOUT_MS", "0"),
            ]),
        )
        .unwrap_err();
        let text = err.to_string();
        for expected in [
            "init.month",
            "htp",
            "archive_urll",
            "latitude must be",
            "Mars/Olympus",
            "redis.timeout_ms must be 1..=10000, got 0",
        ] {
            assert!(text.contains(expected), "{expected} missing from:\n{text}");
        }
    }

    #[test]
    fn secrets_are_refused_in_the_file_but_read_from_env_or_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(&dir, "s.toml", "[sources.open_meteo]\napi_key = \"abc\"\n");
        let err = load(Some(&file), []).unwrap_err();
        assert!(
            err.to_string()
                .contains("ALMANAC__SOURCES__OPEN_METEO__API_KEY"),
            "{err}"
        );

        let from_env = load(
            None,
            env(&[("ALMANAC__SOURCES__OPEN_METEO__API_KEY", "k1")]),
        )
        .unwrap();
        assert_eq!(
            from_env
                .sources
                .open_meteo
                .api_key
                .as_ref()
                .unwrap()
                .expose(),
            "k1"
        );

        let key_file = write(&dir, "key", "k2\n");
        let pointer = write(
            &dir,
            "p.toml",
            &format!("[sources.open_meteo]\napi_key_file = {:?}\n", key_file),
        );
        let from_file = load(Some(&pointer), []).unwrap();
        assert_eq!(
            from_file
                .sources
                .open_meteo
                .api_key
                .as_ref()
                .unwrap()
                .expose(),
            "k2"
        );
        let printed = toml::to_string(&from_file).unwrap();
        assert!(
            printed.contains("[redacted]") && !printed.contains("k2"),
            "{printed}"
        );
    }

    #[test]
    fn an_empty_secret_is_refused_and_a_numeric_one_is_a_string() {
        let dir = tempfile::tempdir().unwrap();
        let empty_file = write(&dir, "empty", " \n");
        let pointer = write(
            &dir,
            "p.toml",
            &format!("[http]\nadmin_token_file = {:?}\n", empty_file),
        );
        for (file, value) in [
            (None, Some("")),
            (None, Some("\"\"")),
            (None, Some("   ")),
            (None, Some("''")),
            (Some(pointer.as_path()), None),
        ] {
            let pairs: Vec<(&str, &str)> = value
                .map(|v| ("ALMANAC__HTTP__ADMIN_TOKEN", v))
                .into_iter()
                .collect();
            let err = load(file, env(&pairs)).unwrap_err().to_string();
            assert!(
                err.contains("http.admin_token is set but empty"),
                "{value:?}: {err}"
            );
        }
        for (raw, expected) in [
            ("12345", "12345"),
            ("1e3", "1e3"),
            ("\"a b\"", "a b"),
            ("true", "true"),
        ] {
            let config = load(None, env(&[("ALMANAC__HTTP__ADMIN_TOKEN", raw)])).unwrap();
            assert_eq!(config.http.admin_token.unwrap().expose(), expected);
        }
    }

    #[test]
    fn enabling_a_location_without_sources_is_refused() {
        let err = load(
            None,
            env(&[
                ("ALMANAC__LOCATIONS__BILBAO__ENABLED", "true"),
                ("ALMANAC__LOCATIONS__BILBAO__SOURCES", "{}"),
            ]),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("no source feeds any dataset"),
            "{err}"
        );
    }
}
