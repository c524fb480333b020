//! The configuration documented by its own types: `facegate config example`
//! renders every option with its default value and the doc comment of its
//! field, and `facegate config check` walks a file against the same field
//! list, naming each unknown key and each value of the wrong type by its
//! path before the usual validation runs.
//!
//! The field list is read from this crate's own source (`config.rs` and
//! `ui/mod.rs`, embedded at compile time) rather than written out a second
//! time, so a new option documents itself: its doc comment is its
//! documentation, and a test fails when an option has none. The committed
//! `deploy/facegate.example.toml` is compared with [`example`] by a test.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::{Config, ConfigError, ENV_VARS, WebhookConfig};

/// The sources the option list is read from.
const SOURCES: &[&str] = &[include_str!("config.rs"), include_str!("ui/mod.rs")];

/// The root of the configuration.
const ROOT: &str = "Config";

/// Options whose default depends on the machine (a home directory, the
/// number of cores): the example shows them commented out, with what the
/// default is, so it is the same file wherever it is generated.
const MACHINE_DEFAULTS: &[(&str, &str, &str)] = &[
    (
        "data_dir",
        "\"/var/lib/facegate\"",
        "Default: $XDG_DATA_HOME/facegate, else ~/.local/share/facegate.",
    ),
    (
        "engine_concurrency",
        "4",
        "Default: twice the available cores.",
    ),
];

/// One field of a configuration struct, as its source declares it.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    /// The Rust type as written (`u64`, `Vec<String>`, `crate::ui::UiConfig`).
    pub ty: String,
    /// The doc comment, one entry per line, without `///`.
    pub doc: Vec<String>,
}

/// Every configuration struct with its fields, in declaration order.
pub fn structs() -> BTreeMap<String, Vec<Field>> {
    let mut out = BTreeMap::new();
    for source in SOURCES {
        let mut current: Option<(String, Vec<Field>)> = None;
        let mut doc = Vec::new();
        for line in source.lines() {
            let trimmed = line.trim();
            if let Some(rest) = line.strip_prefix("pub struct ") {
                let name = rest
                    .split(|c: char| !c.is_alphanumeric() && c != '_')
                    .next()
                    .unwrap_or_default();
                if rest.trim_end().ends_with('{') {
                    current = Some((name.to_string(), Vec::new()));
                }
                doc.clear();
                continue;
            }
            let Some((_, fields)) = current.as_mut() else {
                continue;
            };
            if line == "}" {
                if let Some((name, fields)) = current.take() {
                    out.insert(name, fields);
                }
                continue;
            }
            if let Some(text) = trimmed.strip_prefix("///") {
                doc.push(text.strip_prefix(' ').unwrap_or(text).to_string());
            } else if let Some(rest) = line.strip_prefix("    pub ")
                && let Some((name, ty)) = rest.split_once(": ")
            {
                fields.push(Field {
                    name: name.to_string(),
                    ty: ty.trim_end_matches(',').to_string(),
                    doc: std::mem::take(&mut doc),
                });
            } else if !trimmed.starts_with("#[") {
                doc.clear();
            }
        }
    }
    out
}

/// What a field's type says its TOML value is.
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    Bool,
    Int,
    Float,
    Str,
    List,
    Table(String),
    Tables(String),
}

fn shape(ty: &str, known: &BTreeMap<String, Vec<Field>>) -> Shape {
    let ty = ty
        .strip_prefix("Option<")
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(ty);
    let last = |t: &str| t.rsplit("::").next().unwrap_or(t).to_string();
    if let Some(inner) = ty.strip_prefix("Vec<").and_then(|t| t.strip_suffix('>')) {
        let inner = last(inner);
        return if known.contains_key(&inner) {
            Shape::Tables(inner)
        } else {
            Shape::List
        };
    }
    match last(ty).as_str() {
        "bool" => Shape::Bool,
        "u8" | "u16" | "u32" | "u64" | "usize" | "i32" | "i64" => Shape::Int,
        "f32" | "f64" => Shape::Float,
        "String" | "PathBuf" => Shape::Str,
        other if known.contains_key(other) => Shape::Table(other.to_string()),
        _ => Shape::Str,
    }
}

fn env_var(path: &str) -> Option<&'static str> {
    ENV_VARS
        .iter()
        .find(|(_, p, _)| *p == path)
        .map(|(var, _, _)| *var)
}

/// The fully commented example configuration: every option, its doc
/// comment, its environment variable and its default value.
pub fn example() -> String {
    let known = structs();
    let defaults =
        toml::Value::try_from(Config::default()).unwrap_or(toml::Value::Table(toml::Table::new()));
    let mut out = String::from(
        "# facegate configuration: every option, with its default value.\n\
         #\n\
         # Generated by `facegate config example` from the configuration types\n\
         # (crates/facegate-server/src/config.rs); a test keeps the copy in\n\
         # deploy/facegate.example.toml equal to it. Check a file with\n\
         # `facegate config check FILE`; use one with `facegate serve --config FILE`\n\
         # (or FACEGATE_CONFIG). An environment variable, where an option has one,\n\
         # wins over the file.\n",
    );
    render_struct(&known, ROOT, "", defaults.as_table(), &mut out, false);
    out
}

fn render_struct(
    known: &BTreeMap<String, Vec<Field>>,
    name: &str,
    prefix: &str,
    defaults: Option<&toml::Table>,
    out: &mut String,
    commented: bool,
) {
    let Some(fields) = known.get(name) else {
        return;
    };
    let c = if commented { "# " } else { "" };
    // Plain values first: TOML puts every key after a [table] header into
    // that table.
    for field in fields {
        let shape = shape(&field.ty, known);
        if matches!(shape, Shape::Table(_) | Shape::Tables(_)) {
            continue;
        }
        let path = format!("{prefix}{}", field.name);
        out.push('\n');
        for line in &field.doc {
            out.push_str(format!("# {line}").trim_end());
            out.push('\n');
        }
        if let Some(var) = env_var(&path) {
            out.push_str(&format!("# Environment: {var}.\n"));
        }
        let machine = MACHINE_DEFAULTS.iter().find(|(p, _, _)| *p == path);
        match (machine, defaults.and_then(|d| d.get(&field.name))) {
            (Some((_, shown, note)), _) => {
                out.push_str(&format!("# {note}\n# {} = {shown}\n", field.name));
            }
            (None, Some(value)) => {
                out.push_str(&format!("{c}{} = {value}\n", field.name));
            }
            (None, None) => {
                // An `Option` left unset: show the key, commented out.
                let example = if shape == Shape::Bool { "true" } else { "\"\"" };
                out.push_str(&format!(
                    "# Unset by default.\n# {} = {example}\n",
                    field.name
                ));
            }
        }
    }
    for field in fields {
        let path = format!("{prefix}{}", field.name);
        match shape(&field.ty, known) {
            Shape::Table(inner) => {
                out.push('\n');
                for line in &field.doc {
                    out.push_str(format!("# {line}").trim_end());
                    out.push('\n');
                }
                out.push_str(&format!("{c}[{path}]\n"));
                let sub = defaults
                    .and_then(|d| d.get(&field.name))
                    .and_then(toml::Value::as_table);
                render_struct(known, &inner, &format!("{path}."), sub, out, commented);
            }
            Shape::Tables(inner) => {
                // Lists of tables are empty by default: one entry, commented
                // out, shows every key with the defaults a new entry gets.
                out.push('\n');
                for line in &field.doc {
                    out.push_str(format!("# {line}").trim_end());
                    out.push('\n');
                }
                out.push_str(&format!("# [[{path}]]\n"));
                let entry = if inner == "WebhookConfig" {
                    toml::Value::try_from(WebhookConfig::default()).ok()
                } else {
                    None
                };
                render_struct(
                    known,
                    &inner,
                    &format!("{path}[]."),
                    entry.as_ref().and_then(toml::Value::as_table),
                    out,
                    true,
                );
            }
            _ => {}
        }
    }
}

/// One problem `facegate config check` found, with the key it is about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// `auth.jwt_secret`, `webhooks[0].url`; empty when the problem is the
    /// file as a whole (unreadable, not TOML).
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.key, self.message)
        }
    }
}

/// Check a configuration file on its own (no environment overrides): every
/// unknown key and every value of the wrong type, each by its path, then
/// the validation `facegate serve` runs. Returns the loaded configuration
/// when there is nothing to report.
pub fn check_file(path: &Path) -> Result<Config, Vec<Finding>> {
    let whole = |message: String| {
        vec![Finding {
            key: String::new(),
            message,
        }]
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| whole(format!("cannot read {}: {e}", path.display())))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| whole(format!("not valid TOML: {e}")))?;
    let known = structs();
    let mut findings = Vec::new();
    walk(&known, ROOT, "", &table, &mut findings);
    findings.sort_by(|a, b| a.key.cmp(&b.key));
    if !findings.is_empty() {
        return Err(findings);
    }
    Config::load_from(Some(path), &[]).map_err(|e| {
        let message = match e {
            ConfigError::Invalid(m) => m,
            other => other.to_string(),
        };
        // Validation messages start with the option they are about.
        let key = message
            .split([' ', ':', '='])
            .next()
            .filter(|k| {
                !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._[]".contains(c))
            })
            .unwrap_or_default()
            .to_string();
        vec![Finding { key, message }]
    })
}

fn walk(
    known: &BTreeMap<String, Vec<Field>>,
    name: &str,
    prefix: &str,
    table: &toml::Table,
    findings: &mut Vec<Finding>,
) {
    let fields = known.get(name).map(Vec::as_slice).unwrap_or_default();
    for (key, value) in table {
        let path = format!("{prefix}{key}");
        let Some(field) = fields.iter().find(|f| f.name == *key) else {
            let mut names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
            names.sort_unstable();
            let near = names
                .iter()
                .find(|n| edit_distance(n, key) <= 2)
                .map(|n| format!(" (did you mean {prefix}{n}?)"))
                .unwrap_or_default();
            findings.push(Finding {
                key: path,
                message: format!("unknown option{near}"),
            });
            continue;
        };
        let expected = shape(&field.ty, known);
        let fits = match (&expected, value) {
            (Shape::Bool, toml::Value::Boolean(_))
            | (Shape::Int, toml::Value::Integer(_))
            | (Shape::Float, toml::Value::Float(_) | toml::Value::Integer(_))
            | (Shape::Str, toml::Value::String(_)) => true,
            (Shape::List, toml::Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    if !item.is_str() {
                        findings.push(Finding {
                            key: format!("{path}[{i}]"),
                            message: format!("expected a string, found {}", item.type_str()),
                        });
                    }
                }
                true
            }
            (Shape::Table(inner), toml::Value::Table(t)) => {
                walk(known, inner, &format!("{path}."), t, findings);
                true
            }
            (Shape::Tables(inner), toml::Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    match item.as_table() {
                        Some(t) => walk(known, inner, &format!("{path}[{i}]."), t, findings),
                        None => findings.push(Finding {
                            key: format!("{path}[{i}]"),
                            message: format!("expected a table, found {}", item.type_str()),
                        }),
                    }
                }
                true
            }
            _ => false,
        };
        if !fits {
            let want = match &expected {
                Shape::Bool => "true or false".to_string(),
                Shape::Int => "an integer".to_string(),
                Shape::Float => "a number".to_string(),
                Shape::Str => "a string".to_string(),
                Shape::List => "a list of strings".to_string(),
                Shape::Table(_) => format!("a table ([{path}])"),
                Shape::Tables(_) => format!("a list of tables ([[{path}]])"),
            };
            findings.push(Finding {
                key: path,
                message: format!("expected {want}, found {}", value.type_str()),
            });
        }
    }
}

/// Levenshtein distance, for "did you mean" on short option names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every option that a file can set, found by serialising the defaults.
    fn paths(value: &toml::Value, prefix: &str, out: &mut Vec<String>) {
        if let Some(t) = value.as_table() {
            for (k, v) in t {
                let path = format!("{prefix}{k}");
                if v.is_table() {
                    paths(v, &format!("{path}."), out);
                } else {
                    out.push(path);
                }
            }
        }
    }

    #[test]
    fn every_option_is_found_in_the_source_and_documented() {
        let known = structs();
        let mut all = Vec::new();
        paths(
            &toml::Value::try_from(Config::default()).unwrap(),
            "",
            &mut all,
        );
        for path in &all {
            let mut name = ROOT.to_string();
            let parts: Vec<&str> = path.split('.').collect();
            for (i, part) in parts.iter().enumerate() {
                let field = known[&name]
                    .iter()
                    .find(|f| f.name == *part)
                    .unwrap_or_else(|| panic!("{path}: field {part} not found in {name}"));
                assert!(!field.doc.is_empty(), "{path} has no doc comment");
                if i + 1 < parts.len() {
                    match shape(&field.ty, &known) {
                        Shape::Table(inner) => name = inner,
                        other => panic!("{path}: {part} is {other:?}"),
                    }
                }
            }
        }
        for field in &known["WebhookConfig"] {
            assert!(!field.doc.is_empty(), "webhooks.{} has no doc", field.name);
        }
        assert!(all.len() > 50, "{all:?}");
    }

    #[test]
    fn the_example_loads_as_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("example.toml");
        std::fs::write(&file, example()).unwrap();
        let loaded = check_file(&file).unwrap_or_else(|f| panic!("{f:?}"));
        let as_toml = |c: &Config| {
            let mut v = toml::Value::try_from(c).unwrap();
            let t = v.as_table_mut().unwrap();
            for (key, _, _) in MACHINE_DEFAULTS {
                t.remove(*key);
            }
            v
        };
        assert_eq!(as_toml(&loaded), as_toml(&Config::default()));
    }

    #[test]
    fn check_names_unknown_keys_and_wrong_types_by_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "lisen = \"x\"\nengine_threads = \"two\"\n[auth]\njwt_secert = \"x\"\n\
             [[webhooks]]\nurl = 5\nsecret = \"0123456789abcdef\"\n[streams]\ndetection_fps = 5\n",
        )
        .unwrap();
        let findings = check_file(&file).unwrap_err();
        let keys: Vec<&str> = findings.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "auth.jwt_secert",
                "engine_threads",
                "lisen",
                "webhooks[0].url"
            ],
            "{findings:?}"
        );
        assert!(
            findings[0].message.contains("auth.jwt_secret"),
            "{findings:?}"
        );
        assert!(findings[1].message.contains("integer"), "{findings:?}");

        std::fs::write(&file, "[auth]\naccess_token_ttl_secs = 1\n").unwrap();
        let findings = check_file(&file).unwrap_err();
        assert_eq!(
            findings[0].key, "auth.access_token_ttl_secs",
            "{findings:?}"
        );
    }
}
