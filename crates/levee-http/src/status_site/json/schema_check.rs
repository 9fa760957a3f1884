//! Just enough JSON Schema (draft 2020-12) to hold the documents to
//! `docs/statuspage-v2.schema.json`: `$ref` within the file, `type`,
//! `enum`, `required`, `properties`, `items`, `anyOf`, `oneOf`; `format`
//! and descriptions are ignored. Strict mode also refuses members the
//! schema does not declare, so a renamed or stray field is caught.

use serde_json::Value;

/// The schema file.
pub(super) const SCHEMA: &str = include_str!("../../../../../docs/statuspage-v2.schema.json");

/// The parsed schema.
pub(super) fn schema() -> Value {
    serde_json::from_str(SCHEMA).expect("the schema file is JSON")
}

/// Checks `doc` against `$defs/<def>`; every problem found, with its path.
pub(super) fn check(schema: &Value, def: &str, doc: &Value, strict: bool) -> Vec<String> {
    let mut errors = Vec::new();
    let node = &schema["$defs"][def];
    assert!(!node.is_null(), "no $defs/{def}");
    walk(schema, node, doc, "$", strict, &mut errors);
    errors
}

fn resolve<'a>(schema: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.strip_prefix("#/$defs/").expect("local $ref");
            let target = &schema["$defs"][name];
            assert!(!target.is_null(), "dangling $ref {r}");
            resolve(schema, target)
        }
        None => node,
    }
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        other => panic!("unknown type {other}"),
    }
}

fn walk(schema: &Value, node: &Value, v: &Value, at: &str, strict: bool, errors: &mut Vec<String>) {
    let node = resolve(schema, node);
    for key in ["anyOf", "oneOf"] {
        if let Some(alts) = node.get(key).and_then(Value::as_array) {
            let passing = alts
                .iter()
                .filter(|alt| {
                    let mut e = Vec::new();
                    walk(schema, alt, v, at, strict, &mut e);
                    e.is_empty()
                })
                .count();
            let ok = if key == "oneOf" {
                passing == 1
            } else {
                passing >= 1
            };
            if !ok {
                errors.push(format!("{at}: {passing} of {key} match {v}"));
            }
        }
    }
    match node.get("type") {
        Some(Value::String(t)) if !type_ok(t, v) => errors.push(format!("{at}: not {t}: {v}")),
        Some(Value::Array(ts)) if !ts.iter().any(|t| type_ok(t.as_str().unwrap_or(""), v)) => {
            errors.push(format!("{at}: not any of {ts:?}: {v}"))
        }
        _ => {}
    }
    if let Some(allowed) = node.get("enum").and_then(Value::as_array)
        && !allowed.contains(v)
    {
        errors.push(format!("{at}: {v} not in {allowed:?}"));
    }
    if let Some(obj) = v.as_object() {
        let props = node.get("properties").and_then(Value::as_object);
        for r in node
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = r.as_str().unwrap_or("");
            if !obj.contains_key(name) {
                errors.push(format!("{at}: missing {name}"));
            }
        }
        if let Some(props) = props {
            for (k, child) in obj {
                match props.get(k) {
                    Some(p) => walk(schema, p, child, &format!("{at}.{k}"), strict, errors),
                    None if strict => errors.push(format!("{at}: undeclared member {k}")),
                    None => {}
                }
            }
        }
    }
    if let (Some(items), Some(list)) = (node.get("items"), v.as_array()) {
        for (i, child) in list.iter().enumerate() {
            walk(schema, items, child, &format!("{at}[{i}]"), strict, errors);
        }
    }
}

/// Every string in every `enum` of the schema.
pub(super) fn enum_values(schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect(schema, &mut out);
    out
}

fn collect(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Array(values)) = m.get("enum") {
                out.extend(values.iter().filter_map(Value::as_str).map(String::from));
            }
            m.values().for_each(|c| collect(c, out));
        }
        Value::Array(a) => a.iter().for_each(|c| collect(c, out)),
        _ => {}
    }
}
