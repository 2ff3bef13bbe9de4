//! The event catalog: the named event types a tenant may send, with their owners, versioned JSON
//! Schemas (2020-12) for `data`, the envelope fields each version requires, a label template, a
//! severity, a retention class, compliance control ids, an OCSF class and activity, and the paths
//! that hold personal data or secrets.
//!
//! The catalog is read from TOML ([`Catalog::parse`]) or YAML ([`Catalog::parse_yaml`]), both with
//! line-precise errors for `sealbook catalog lint`, compiled once (schemas become validators), and then checks events on ingest
//! ([`Catalog::check`]) and renders labels on read ([`Catalog::label`]). Schema evolution is
//! additive: a later version may add optional properties, never remove, retype or newly require
//! one ([`Catalog::parse`] refuses and says which change breaks which field).
//!
//! Every type also has its normalised JSON definition ([`Catalog::definition`]): what a
//! `catalog.type_changed` event records, what [`Catalog::from_definition`] compiles back, and what
//! [`definition_hash`] fingerprints so a change can name the definition it replaces.
//!
//! A catalog in a log is the history of its changes ([`type_changed`] builds the record of one,
//! [`replay`] folds the records back into the catalog in force); reading the log is the API's job,
//! so this crate stays free of I/O.
//!
//! Ingest MUST check every event with [`Catalog::check`] before it is sequenced, and MUST refuse
//! a client's event of a reserved type ([`is_reserved`]): only Sealbook writes those, and the
//! tenant catalog is rebuilt from them. A catalog change through the API MUST NOT define one. Whoever calls [`replay`] MUST pass only the records Sealbook wrote itself,
//! in log order: replay trusts what it is given and decides races by order.
//!
//! The public interface is: [`Catalog`], [`TypeInfo`], [`Problem`], [`BUILTIN`],
//! [`RESERVED_NAMESPACES`], [`is_reserved`],
//! [`definition_hash`], and for catalogs kept in a log [`replay`], [`Replayed`], [`type_changed`],
//! [`TYPE_CHANGED`] and [`SETTINGS_CHANGED`].

mod history;
mod yaml;

pub use history::{replay, type_changed, Replayed, SETTINGS_CHANGED, TYPE_CHANGED};

use jsonschema::Validator;
use sealbook_domain::{FieldError, ValidEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The built-in catalog every tenant inherits.
pub const BUILTIN: &str = include_str!("builtin.toml");

/// The namespaces of the types Sealbook itself writes: key changes (`api_key.created`,
/// `api_key.revoked`), records of the log's use (`audit_log.exported`,
/// `audit_log.redaction_matched`), catalog changes (`catalog.*`), platform operators' access to a
/// tenant (`operator.access_started`, `_ended`), and `sealbook.*` for what comes next. A client may send no type in them, whatever the catalog or open types say, so an event
/// of these types in a log is Sealbook's own record and a look-alike cannot be sent (the tenant
/// catalog is rebuilt from `catalog.*` events: a client able to send them could change it). The
/// built-in definitions of these types stay; no catalog change through the API may add one.
pub const RESERVED_NAMESPACES: &[&str] =
    &["api_key", "audit_log", "catalog", "operator", "sealbook"];

/// Whether `event_type` is in a namespace only Sealbook writes (see [`RESERVED_NAMESPACES`]).
pub fn is_reserved(event_type: &str) -> bool {
    let namespace = event_type.split('.').next().unwrap_or_default();
    event_type.contains('.') && RESERVED_NAMESPACES.contains(&namespace)
}

/// `sha256:<hex>` of a type definition's canonical JSON (RFC 8785): what a `catalog.type_changed`
/// event names as the definition it replaces.
pub fn definition_hash(definition: &Value) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(sealbook_domain::canonical_bytes(definition));
    format!("sha256:{}", hex::encode(digest))
}

/// A problem in a catalog file, with its line (1-based) when known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct Problem {
    /// Line of the file.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(rename = "type", default)]
    types: Vec<TypeFile>,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct Ocsf {
    class_uid: u32,
    class_name: String,
    activity_id: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TypeFile {
    name: toml::Spanned<String>,
    description: String,
    owner: String,
    severity: String,
    retention: String,
    label: String,
    #[serde(default)]
    controls: Vec<String>,
    ocsf: Ocsf,
    #[serde(default)]
    personal: Vec<String>,
    #[serde(default)]
    secrets: Vec<String>,
    #[serde(rename = "version")]
    versions: Vec<VersionFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionFile {
    version: toml::Spanned<u32>,
    #[serde(default)]
    requires: Vec<String>,
    schema: toml::Spanned<String>,
    /// A `data` the schema accepts (tests send it).
    sample: String,
    /// A `data` the schema refuses (tests send it).
    rejected: String,
}

/// One version of a type, compiled (the validator shared by clones of the catalog).
#[derive(Clone)]
struct Version {
    version: u32,
    requires: Vec<String>,
    schema: Value,
    validator: std::sync::Arc<Validator>,
    sample: Value,
    rejected: Value,
}

/// What the catalog says about one type (for `GET /v1/catalog` and for tests).
#[derive(Debug, Clone, Serialize)]
pub struct TypeInfo {
    /// e.g. `order.status_changed`.
    pub name: String,
    /// What it records.
    pub description: String,
    /// The team that owns it.
    pub owner: String,
    /// `info`, `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// Retention class name.
    pub retention: String,
    /// Label template, e.g. `{actor.name} signed in`.
    pub label: String,
    /// Compliance control ids, e.g. `SOC2:CC6.1`.
    pub controls: Vec<String>,
    /// OCSF class and activity.
    pub ocsf: serde_json::Value,
    /// JSON pointers that hold personal data.
    pub personal: Vec<String>,
    /// JSON pointers that hold secrets (redacted on ingest).
    pub secrets: Vec<String>,
    /// Versions: `{version, requires, schema}`.
    pub versions: Vec<serde_json::Value>,
    /// Only Sealbook writes events of this type (see [`is_reserved`]).
    pub reserved: bool,
}

#[derive(Clone)]
struct Type {
    info: TypeInfo,
    versions: Vec<Version>,
    /// The normalised definition (the form [`Catalog::from_definition`] takes).
    definition: Value,
}

/// A compiled catalog. Clones share the compiled schemas.
#[derive(Clone)]
pub struct Catalog {
    types: BTreeMap<String, Type>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("types", &self.types.len())
            .finish()
    }
}

const SEVERITIES: &[&str] = &["info", "low", "medium", "high", "critical"];

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn type_name_ok(n: &str) -> bool {
    let parts: Vec<&str> = n.split('.').collect();
    parts.len() >= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

/// Why `new` is not an additive evolution of `old`, if it is not.
fn breaking(old: &Value, new: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let props = |s: &Value| {
        s.get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let required = |s: &Value| -> Vec<String> {
        s.get("required")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (po, pn) = (props(old), props(new));
    for (k, v) in &po {
        match pn.get(k) {
            None => out.push(format!("removes property {k:?}")),
            Some(nv) if nv.get("type") != v.get("type") => out.push(format!(
                "changes the type of {k:?} from {} to {}",
                v.get("type").unwrap_or(&Value::Null),
                nv.get("type").unwrap_or(&Value::Null)
            )),
            Some(_) => {}
        }
    }
    let ro = required(old);
    for r in required(new) {
        if !ro.contains(&r) {
            out.push(format!("makes {r:?} required"));
        }
    }
    if old.get("additionalProperties") != Some(&Value::Bool(false))
        && new.get("additionalProperties") == Some(&Value::Bool(false))
    {
        out.push("forbids additional properties".into());
    }
    out
}

impl Catalog {
    /// A catalog with no types.
    pub fn empty() -> Catalog {
        Catalog {
            types: BTreeMap::new(),
        }
    }

    /// The built-in catalog.
    pub fn builtin() -> Catalog {
        Catalog::parse(BUILTIN).expect("the built-in catalog is valid (tested)")
    }

    /// Parses and compiles a catalog file; every problem found is reported, with its line.
    pub fn parse(text: &str) -> Result<Catalog, Vec<Problem>> {
        let file: File = toml::from_str(text).map_err(|e| {
            vec![Problem {
                line: e.span().map(|s| line_of(text, s.start)),
                message: e.message().to_owned(),
            }]
        })?;
        let mut problems = Vec::new();
        let mut types = BTreeMap::new();
        for t in file.types {
            let at = Some(line_of(text, t.name.span().start));
            let name = t.name.get_ref().clone();
            let mut err = |m: String| {
                problems.push(Problem {
                    line: at,
                    message: format!("{name}: {m}"),
                })
            };
            if !type_name_ok(&name) {
                err("a type name is two or more lower_snake segments separated by dots".into());
            }
            if types.contains_key(&name) {
                err("defined twice".into());
            }
            if !SEVERITIES.contains(&t.severity.as_str()) {
                err(format!("severity must be one of {}", SEVERITIES.join(", ")));
            }
            for p in t.personal.iter().chain(&t.secrets) {
                if !p.starts_with('/') {
                    err(format!("{p:?} is not a JSON pointer"));
                }
            }
            if t.versions.is_empty() {
                err("needs at least one version".into());
            }
            let mut versions: Vec<Version> = Vec::new();
            for v in &t.versions {
                let vline = Some(line_of(text, v.schema.span().start));
                let mut verr = |m: String| {
                    problems.push(Problem {
                        line: vline,
                        message: format!("{name} version {}: {m}", v.version.get_ref()),
                    })
                };
                let expected = versions.len() as u32 + 1;
                if *v.version.get_ref() != expected {
                    verr(format!(
                        "versions are numbered 1, 2, …; expected {expected}"
                    ));
                }
                if name.ends_with(".updated") && !v.requires.iter().any(|r| r == "changes") {
                    verr("an *.updated type records what changed: its versions require \"changes\" (before/after objects satisfy it)".into());
                }
                let schema: Value = match serde_json::from_str(v.schema.get_ref()) {
                    Ok(s) => s,
                    Err(e) => {
                        verr(format!("schema is not JSON: {e}"));
                        continue;
                    }
                };
                // Tenants supply schemas and ingest runs them: `pattern` uses the linear-time
                // `regex` engine, so no pattern can backtrack catastrophically (look-around and
                // back-references are refused when the type is defined).
                let validator = match jsonschema::draft202012::options()
                    .with_pattern_options(jsonschema::PatternOptions::regex())
                    .build(&schema)
                {
                    Ok(val) => val,
                    Err(e) => {
                        verr(format!("schema is not a valid JSON Schema 2020-12: {e}"));
                        continue;
                    }
                };
                if let Some(prev) = versions.last() {
                    for b in breaking(&prev.schema, &schema) {
                        verr(format!("breaking change against version {}: {b}; a new version may only add optional properties", prev.version));
                    }
                }
                let parse = |s: &str, what: &str, verr: &mut dyn FnMut(String)| {
                    match serde_json::from_str::<Value>(s) {
                        Ok(v) => Some(v),
                        Err(e) => {
                            verr(format!("{what} is not JSON: {e}"));
                            None
                        }
                    }
                };
                let (Some(sample), Some(rejected)) = (
                    parse(&v.sample, "sample", &mut verr),
                    parse(&v.rejected, "rejected", &mut verr),
                ) else {
                    continue;
                };
                if let Some(e) = validator.iter_errors(&sample).next() {
                    verr(format!("the sample does not pass its own schema: {e}"));
                }
                if validator.is_valid(&rejected) {
                    verr("the rejected sample passes the schema".into());
                }
                versions.push(Version {
                    version: *v.version.get_ref(),
                    requires: v.requires.clone(),
                    schema,
                    validator: std::sync::Arc::new(validator),
                    sample,
                    rejected,
                });
            }
            let definition = serde_json::json!({
                "description": t.description,
                "owner": t.owner,
                "severity": t.severity,
                "retention": t.retention,
                "label": t.label,
                "controls": t.controls,
                "ocsf": t.ocsf,
                "personal": t.personal,
                "secrets": t.secrets,
                "versions": versions.iter().map(|v| serde_json::json!({
                    "version": v.version, "requires": v.requires, "schema": v.schema,
                    "sample": v.sample, "rejected": v.rejected,
                })).collect::<Vec<_>>(),
            });
            let info = TypeInfo {
                reserved: is_reserved(&name),
                name: name.clone(),
                description: t.description,
                owner: t.owner,
                severity: t.severity,
                retention: t.retention,
                label: t.label,
                controls: t.controls,
                ocsf: serde_json::to_value(&t.ocsf).expect("serializes"),
                personal: t.personal,
                secrets: t.secrets,
                versions: versions
                    .iter()
                    .map(|v| serde_json::json!({"version": v.version, "requires": v.requires, "schema": v.schema}))
                    .collect(),
            };
            types.insert(
                name,
                Type {
                    info,
                    versions,
                    definition,
                },
            );
        }
        if problems.is_empty() {
            Ok(Catalog { types })
        } else {
            Err(problems)
        }
    }

    /// Parses and compiles a YAML catalog (see the `yaml` module for the layout).
    pub fn parse_yaml(text: &str) -> Result<Catalog, Vec<Problem>> {
        yaml::parse(text)
    }

    /// Parses a catalog file, YAML if its name ends in `.yaml` or `.yml`, else TOML.
    pub fn parse_file(path: &std::path::Path, text: &str) -> Result<Catalog, Vec<Problem>> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => Catalog::parse_yaml(text),
            _ => Catalog::parse(text),
        }
    }

    /// The catalog as a YAML file ([`Catalog::parse_yaml`] reads it back to the same types).
    pub fn to_yaml(&self) -> String {
        yaml::write(self)
    }

    /// Adds the types of `other`, replacing types of the same name (a deployment's own catalog
    /// file on top of the built-in one).
    pub fn extend(&mut self, other: Catalog) {
        self.types.extend(other.types);
    }

    /// One type from its JSON definition (the fields of a `[[type]]` table; `schema`, `sample`
    /// and `rejected` of each version as JSON values), checked like a catalog file.
    pub fn from_definition(name: &str, def: &Value) -> Result<Catalog, Vec<Problem>> {
        let problem = |m: &str| {
            vec![Problem {
                line: None,
                message: m.to_owned(),
            }]
        };
        let Some(obj) = def.as_object() else {
            return Err(problem("a type definition is a JSON object"));
        };
        let mut t = toml::Table::new();
        t.insert("name".into(), toml::Value::String(name.to_owned()));
        for (k, v) in obj {
            if k == "name" {
                // The name comes apart (the URL, the event's `data.type`); one here would replace it.
                return Err(problem("name: a definition does not hold its type's name"));
            }
            if k == "versions" {
                let Some(vs) = v.as_array() else {
                    return Err(problem("versions must be an array"));
                };
                let mut out = Vec::new();
                for ver in vs {
                    let Some(vo) = ver.as_object() else {
                        return Err(problem("each version is an object"));
                    };
                    let mut vt = toml::Table::new();
                    for (vk, vv) in vo {
                        let tv = match vk.as_str() {
                            "schema" | "sample" | "rejected" => toml::Value::String(vv.to_string()),
                            _ => json_to_toml(vv)
                                .ok_or_else(|| problem(&format!("{vk}: no nulls")))?,
                        };
                        vt.insert(vk.clone(), tv);
                    }
                    out.push(toml::Value::Table(vt));
                }
                t.insert("version".into(), toml::Value::Array(out));
            } else {
                t.insert(
                    k.clone(),
                    json_to_toml(v).ok_or_else(|| problem(&format!("{k}: no nulls")))?,
                );
            }
        }
        let mut file = toml::Table::new();
        file.insert(
            "type".into(),
            toml::Value::Array(vec![toml::Value::Table(t)]),
        );
        let text = toml::to_string(&file).map_err(|e| problem(&e.to_string()))?;
        Catalog::parse(&text).map_err(|ps| {
            ps.into_iter()
                .map(|p| Problem {
                    line: None,
                    message: p.message,
                })
                .collect()
        })
    }

    /// Why `new` cannot replace the current definition of `name` in this catalog: published
    /// versions never change; only new versions may follow (and they must be additive, which
    /// parsing already checked).
    pub fn replacement_problems(&self, name: &str, new: &Catalog) -> Vec<String> {
        let (Some(old), Some(n)) = (self.types.get(name), new.types.get(name)) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if n.versions.len() < old.versions.len() {
            out.push(format!(
                "the new definition has {} versions; {} are published and stay",
                n.versions.len(),
                old.versions.len()
            ));
        }
        for (o, v) in old.versions.iter().zip(&n.versions) {
            if o.schema != v.schema || o.requires != v.requires {
                out.push(format!(
                    "version {} is published and cannot change; add version {} instead",
                    o.version,
                    old.versions.len() + 1
                ));
            }
        }
        out
    }

    /// The normalised JSON definition of a type: every field present, schemas and samples as JSON.
    /// `from_definition(name, definition(name))` compiles to the same type.
    pub fn definition(&self, name: &str) -> Option<&Value> {
        self.types.get(name).map(|t| &t.definition)
    }

    /// True when this catalog defines `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.types.contains_key(name)
    }

    /// The types, by name.
    pub fn types(&self) -> impl Iterator<Item = &TypeInfo> {
        self.types.values().map(|t| &t.info)
    }

    /// One type.
    pub fn get(&self, name: &str) -> Option<&TypeInfo> {
        self.types.get(name).map(|t| &t.info)
    }

    /// The valid and the rejected sample `data` of a type's latest version (for tests and docs).
    pub fn samples(&self, name: &str) -> Option<(&Value, &Value)> {
        let v = self.types.get(name)?.versions.last()?;
        Some((&v.sample, &v.rejected))
    }

    /// Checks a validated event against its type: the type exists, the version named by
    /// `schema_version` exists (validation makes it 1 when the event names none, so a client opts
    /// into a newer version by naming it), the envelope fields it requires are present,
    /// and `data` passes its schema. Problems name the event's position and the JSON pointer.
    /// Returns `Ok(false)` for an unknown type (the caller decides: 422, or stored as
    /// uncatalogued when the tenant allows open types).
    pub fn check(&self, ev: &ValidEvent) -> Result<bool, Vec<FieldError>> {
        let Some(t) = self.types.get(&ev.event_type) else {
            return Ok(false);
        };
        let mut errors = Vec::new();
        let fe = |path: &str, problem: String| FieldError {
            event: Some(ev.position),
            path: path.to_owned(),
            problem,
        };
        let version = match ev.body.get("schema_version") {
            None => t.versions.last(),
            Some(v) => v
                .as_u64()
                .and_then(|n| t.versions.iter().find(|x| u64::from(x.version) == n)),
        };
        let Some(version) = version else {
            return Err(vec![fe(
                "/schema_version",
                format!("{} has versions 1 to {}", ev.event_type, t.versions.len()),
            )]);
        };
        let body = Value::Object(ev.body.clone());
        for r in &version.requires {
            let pointer = format!("/{}", r.replace('.', "/"));
            if body.pointer(&pointer).is_none_or(Value::is_null) {
                errors.push(fe(&pointer, format!("is required for {}", ev.event_type)));
            }
        }
        let data = body
            .get("data")
            .cloned()
            .unwrap_or(Value::Object(Default::default()));
        for e in version.validator.iter_errors(&data) {
            errors.push(fe(&format!("/data{}", e.instance_path()), e.to_string()));
        }
        if errors.is_empty() {
            Ok(true)
        } else {
            Err(errors)
        }
    }

    /// The catalog's personal paths for a type (committed like the envelope's personal fields).
    pub fn personal_paths(&self, event_type: &str) -> &[String] {
        self.types
            .get(event_type)
            .map_or(&[], |t| t.info.personal.as_slice())
    }

    /// The catalog's secret paths for a type (passed to redaction).
    pub fn secret_paths(&self, event_type: &str) -> &[String] {
        self.types
            .get(event_type)
            .map_or(&[], |t| t.info.secrets.as_slice())
    }

    /// The human label of an event as a reader sees it, from its type's template: `{actor.name}`
    /// takes a field, `{changes.status.before}` the before-value of the change to `status`. A
    /// missing value shows as `?`, a redacted one as `[redacted]`, a personal value the reader may
    /// not see (or one erased) as `[masked]`, like every other place a value is shown; a label never
    /// shows a secret.
    pub fn label(&self, view: &Value) -> Option<String> {
        let t = self.types.get(view.get("type")?.as_str()?)?;
        let template = &t.info.label;
        let mut out = String::with_capacity(template.len() + 32);
        let mut rest = template.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let Some(close) = rest[open..].find('}') else {
                out.push_str(&rest[open..]);
                rest = "";
                break;
            };
            let path = &rest[open + 1..open + close];
            out.push_str(&render(view, path));
            rest = &rest[open + close + 1..];
        }
        out.push_str(rest);
        Some(out)
    }
}

fn json_to_toml(v: &Value) -> Option<toml::Value> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64()?),
        },
        Value::String(s) => toml::Value::String(s.clone()),
        Value::Array(a) => toml::Value::Array(a.iter().map(json_to_toml).collect::<Option<_>>()?),
        Value::Object(o) => toml::Value::Table(
            o.iter()
                .map(|(k, v)| Some((k.clone(), json_to_toml(v)?)))
                .collect::<Option<_>>()?,
        ),
    })
}

fn render(view: &Value, path: &str) -> String {
    let value = if let Some(rest) = path.strip_prefix("changes.") {
        rest.rsplit_once('.').and_then(|(field, side)| {
            view.get("changes")?
                .as_array()?
                .iter()
                .find(|c| c.get("field").and_then(Value::as_str) == Some(field))?
                .get(side)
        })
    } else {
        view.pointer(&format!("/{}", path.replace('.', "/")))
    };
    match value {
        None | Some(Value::Null) => "?".into(),
        Some(Value::String(s)) => s.clone(),
        Some(v) if v.get(sealbook_domain::redact::REDACTED_KEY).is_some() => "[redacted]".into(),
        Some(v) if v.get("$commitment").is_some() => "[masked]".into(),
        Some(Value::Object(_)) | Some(Value::Array(_)) => "…".into(),
        Some(v) => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealbooks_namespaces_are_reserved_and_only_they() {
        for t in [
            "api_key.created",
            "api_key.anything_else",
            "audit_log.exported",
            "catalog.type_changed",
            "operator.access_started",
            "sealbook.future",
        ] {
            assert!(is_reserved(t), "{t}");
        }
        for t in [
            "order.created",
            "api_keys.created",
            "my.api_key",
            "catalog",
            "apikey.x",
        ] {
            assert!(!is_reserved(t), "{t}");
        }
        let builtin = Catalog::builtin();
        assert!(
            builtin.definition("api_key.created").is_some(),
            "built-in definitions stay"
        );
    }
}
