//! Catalog files in YAML: the same fields as the TOML form, with `types` a list, `versions` a list,
//! and `schema`, `sample` and `rejected` written as YAML (or JSON) values rather than strings.
//!
//! Syntax and type errors carry the parser's line. Problems found while compiling a type carry the
//! line of its `name:`, or of its `version: N` when they concern one version.

use crate::{Catalog, Problem};
use serde::Serialize;
use serde_json::Value;

/// Parses and compiles a YAML catalog; every problem found is reported, with its line.
pub(crate) fn parse(text: &str) -> Result<Catalog, Vec<Problem>> {
    let one = |line: Option<usize>, message: String| vec![Problem { line, message }];
    let doc: Value = serde_norway::from_str(text)
        .map_err(|e| one(e.location().map(|l| l.line()), e.to_string()))?;
    let Some(top) = doc.as_object() else {
        return Err(one(
            Some(1),
            "a catalog is a mapping with a `types` list".into(),
        ));
    };
    if let Some(k) = top.keys().find(|k| *k != "types") {
        return Err(one(
            line_of_key(text, k, 0),
            format!("unknown field `{k}`, expected `types`"),
        ));
    }
    let types = match top.get("types") {
        None => return Ok(Catalog::empty()),
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(one(
                line_of_key(text, "types", 0),
                "`types` is a list".into(),
            ))
        }
    };
    let mut catalog = Catalog::empty();
    let mut problems = Vec::new();
    let mut from_line = 0;
    for (i, t) in types.iter().enumerate() {
        let Some(obj) = t.as_object() else {
            problems.push(Problem {
                line: None,
                message: format!("types[{i}] is not a mapping"),
            });
            continue;
        };
        let Some(name) = obj.get("name").and_then(Value::as_str) else {
            problems.push(Problem {
                line: None,
                message: format!("types[{i}] has no `name`"),
            });
            continue;
        };
        let at = line_of_name(text, name, from_line);
        if let Some(l) = at {
            from_line = l;
        }
        let mut def = obj.clone();
        def.remove("name");
        if catalog.contains(name) {
            problems.push(Problem {
                line: at,
                message: format!("{name}: defined twice"),
            });
            continue;
        }
        match Catalog::from_definition(name, &Value::Object(def)) {
            Ok(c) => catalog.extend(c),
            Err(ps) => problems.extend(ps.into_iter().map(|p| {
                let line = version_of(&p.message, name)
                    .and_then(|v| at.and_then(|l| line_of_version(text, v, l)))
                    .or(at);
                let message = if p.message.starts_with(name) {
                    p.message
                } else {
                    format!("{name}: {}", p.message)
                };
                Problem { line, message }
            })),
        }
    }
    if problems.is_empty() {
        Ok(catalog)
    } else {
        Err(problems)
    }
}

/// `{name} version {n}: …` → n.
fn version_of(message: &str, name: &str) -> Option<u64> {
    message
        .strip_prefix(name)?
        .strip_prefix(" version ")?
        .split(':')
        .next()?
        .parse()
        .ok()
}

/// The value of a `key: value` line, list dash and quotes removed, if the line holds that key.
fn value_of<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let l = line.trim_start();
    let l = l.strip_prefix("- ").unwrap_or(l).trim_start();
    let v = l.strip_prefix(key)?.trim_start().strip_prefix(':')?.trim();
    let v = v.split(" #").next().unwrap_or(v).trim();
    Some(v.trim_matches(|c| c == '"' || c == '\''))
}

/// 1-based line of the first `name: <name>` at or after line `from` (1-based; 0 = start).
fn line_of_name(text: &str, name: &str, from: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .skip(from)
        .find(|(_, l)| value_of(l, "name") == Some(name))
        .map(|(i, _)| i + 1)
}

fn line_of_version(text: &str, version: u64, from: usize) -> Option<usize> {
    let v = version.to_string();
    text.lines()
        .enumerate()
        .skip(from)
        .find(|(_, l)| value_of(l, "version") == Some(v.as_str()))
        .map(|(i, _)| i + 1)
}

fn line_of_key(text: &str, key: &str, from: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .skip(from)
        .find(|(_, l)| value_of(l, key).is_some())
        .map(|(i, _)| i + 1)
}

#[derive(Serialize)]
struct File<'a> {
    types: Vec<Type<'a>>,
}

/// A type with its fields in the order a reader expects.
#[derive(Serialize)]
struct Type<'a> {
    name: &'a str,
    description: &'a Value,
    owner: &'a Value,
    severity: &'a Value,
    retention: &'a Value,
    label: &'a Value,
    controls: &'a Value,
    ocsf: &'a Value,
    personal: &'a Value,
    secrets: &'a Value,
    versions: Vec<Version<'a>>,
}

#[derive(Serialize)]
struct Version<'a> {
    version: &'a Value,
    requires: &'a Value,
    schema: &'a Value,
    sample: &'a Value,
    rejected: &'a Value,
}

/// The catalog as a YAML file that [`parse`] reads back to the same definitions.
pub(crate) fn write(catalog: &Catalog) -> String {
    let types = catalog
        .types
        .iter()
        .map(|(name, t)| {
            let d = &t.definition;
            Type {
                name,
                description: &d["description"],
                owner: &d["owner"],
                severity: &d["severity"],
                retention: &d["retention"],
                label: &d["label"],
                controls: &d["controls"],
                ocsf: &d["ocsf"],
                personal: &d["personal"],
                secrets: &d["secrets"],
                versions: d["versions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|v| Version {
                        version: &v["version"],
                        requires: &v["requires"],
                        schema: &v["schema"],
                        sample: &v["sample"],
                        rejected: &v["rejected"],
                    })
                    .collect(),
            }
        })
        .collect();
    serde_norway::to_string(&File { types }).expect("JSON values serialize to YAML")
}
