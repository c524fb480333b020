//! The served OpenAPI document: every operation describes its 2xx body and
//! its errors, every reference resolves, and real responses match the
//! schemas the document gives for them.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::common::*;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Follow `#/components/schemas/...` references.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    let mut s = schema;
    for _ in 0..16 {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r
                    .strip_prefix("#/components/schemas/")
                    .unwrap_or_else(|| panic!("unexpected $ref {r}"));
                s = &doc["components"]["schemas"][name];
                assert!(!s.is_null(), "$ref {r} does not resolve");
            }
            None => return s,
        }
    }
    panic!("reference cycle at {schema}");
}

/// Every `$ref` anywhere in the document names a component.
fn check_refs(doc: &Value, v: &Value, problems: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                let name = r.trim_start_matches("#/components/schemas/");
                if doc["components"]["schemas"][name].is_null() {
                    problems.push(format!("dangling $ref {r}"));
                }
            }
            m.values().for_each(|x| check_refs(doc, x, problems));
        }
        Value::Array(a) => a.iter().for_each(|x| check_refs(doc, x, problems)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_documents_its_bodies_and_errors() {
    let Some(srv) = TestServer::start(Db::Sqlite, false, |_| {}).await else {
        return;
    };
    let (s, doc) = srv.get("/api/v1/openapi.json", &Auth::None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        doc["components"]["schemas"]["ErrorBody"].is_object(),
        "ErrorBody is a component"
    );
    let mut problems = Vec::new();
    check_refs(&doc, &doc, &mut problems);
    let mut operations = 0;
    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let template: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        for method in METHODS {
            let Some(op) = item.get(method) else {
                continue;
            };
            operations += 1;
            let at = format!("{} {path}", method.to_uppercase());
            match op["operationId"].as_str() {
                Some(id) if operation_ids.insert(id.to_string()) => {}
                other => problems.push(format!("{at}: operationId {other:?} missing or repeated")),
            }
            let declared: BTreeSet<&str> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            if declared != template {
                problems.push(format!(
                    "{at}: path parameters {declared:?}, template has {template:?}"
                ));
            }
            let responses = op["responses"].as_object().unwrap();
            let mut success = 0;
            for (code, r) in responses {
                let content = r["content"].as_object();
                if code.starts_with('2') {
                    success += 1;
                    if code == "204" {
                        continue;
                    }
                    match content {
                        None => problems.push(format!("{at}: {code} has no content")),
                        Some(c) => {
                            if let Some(j) = c.get("application/json")
                                && j["schema"].is_null()
                            {
                                problems.push(format!("{at}: {code} JSON without a schema"));
                            }
                        }
                    }
                } else if code == "default" || code.starts_with('4') || code.starts_with('5') {
                    let schema = &r["content"]["application/json"]["schema"]["$ref"];
                    if schema != "#/components/schemas/ErrorBody" {
                        problems.push(format!("{at}: {code} is not an ErrorBody ({r})"));
                    }
                }
            }
            if success == 0 {
                problems.push(format!("{at}: no 2xx response"));
            }
            let public = op["security"] == json!([{}]);
            if !public && !responses.contains_key("401") {
                problems.push(format!("{at}: authenticated but no 401"));
            }
        }
    }
    assert!(operations > 40, "only {operations} operations");
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    // The routes added with this document are in it.
    assert!(doc["paths"]["/api/v1/schedules/{id}"]["patch"].is_object());
    assert!(doc["paths"]["/api/v1/organisations/{id}"]["delete"].is_object());
    assert_eq!(
        doc["paths"]["/api/v1/auth/login"]["post"]["security"],
        json!([{}])
    );
    srv.stop().await;
}

/// The properties and required names of an object schema, through `$ref`
/// and `allOf` (serde's `flatten`).
fn object_shape(
    doc: &Value,
    schema: &Value,
) -> Option<(BTreeMap<String, Value>, BTreeSet<String>)> {
    let s = resolve(doc, schema);
    let mut props = BTreeMap::new();
    let mut required = BTreeSet::new();
    if let Some(all) = s["allOf"].as_array() {
        for part in all {
            let (p, r) = object_shape(doc, part)?;
            props.extend(p);
            required.extend(r);
        }
        return Some((props, required));
    }
    let m = s["properties"].as_object()?;
    props.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
    required.extend(
        s["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str().map(str::to_string)),
    );
    Some((props, required))
}

fn types_of(s: &Value) -> Vec<&str> {
    match &s["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
}

/// Check `value` against `schema`; problems are pushed with a JSON path.
fn conform(doc: &Value, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    let s = resolve(doc, schema);
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = s[key].as_array() {
            let fits = alts.iter().any(|alt| {
                let mut p = Vec::new();
                conform(doc, alt, value, at, &mut p);
                p.is_empty()
            });
            if !fits {
                problems.push(format!("{at}: {value} fits none of {key}"));
            }
            return;
        }
    }
    if s["allOf"].is_array() || s["properties"].is_object() {
        let Some(obj) = value.as_object() else {
            problems.push(format!("{at}: expected an object, got {value}"));
            return;
        };
        let Some((props, required)) = object_shape(doc, s) else {
            return;
        };
        for k in obj.keys() {
            if !props.contains_key(k) {
                problems.push(format!("{at}: `{k}` is not in the schema"));
            }
        }
        for r in &required {
            if !obj.contains_key(r) {
                problems.push(format!("{at}: required `{r}` missing"));
            }
        }
        for (k, v) in obj {
            if let Some(ps) = props.get(k) {
                conform(doc, ps, v, &format!("{at}.{k}"), problems);
            }
        }
        return;
    }
    let types = types_of(s);
    if types.is_empty() {
        return; // a free-form value
    }
    let ok = types.iter().any(|t| match *t {
        "null" => value.is_null(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    });
    if !ok {
        problems.push(format!("{at}: {value} is not {types:?}"));
        return;
    }
    if let (Some(items), Some(arr)) = (s.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            conform(doc, items, v, &format!("{at}[{i}]"), problems);
        }
    }
    if let (Some(allowed), false) = (s["enum"].as_array(), value.is_null())
        && !allowed.contains(value)
    {
        problems.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
}

/// How a real response differs from what the document says `method path`
/// answers with that status (empty when it matches).
pub(crate) fn mismatches(
    doc: &Value,
    method: &str,
    path: &str,
    status: StatusCode,
    body: &Value,
) -> Vec<String> {
    let r = &doc["paths"][path][method]["responses"][status.as_str()];
    let r = if r.is_null() && !status.is_success() {
        &doc["paths"][path][method]["responses"]["default"]
    } else {
        r
    };
    let schema = &r["content"]["application/json"]["schema"];
    if schema.is_null() {
        return vec![format!(
            "{method} {path} {status}: not documented (body {body})"
        )];
    }
    let mut p = Vec::new();
    conform(doc, schema, body, "$", &mut p);
    p.into_iter()
        .map(|e| format!("{} {path} {status}: {e}", method.to_uppercase()))
        .collect()
}

struct Checker {
    doc: Value,
    checked: usize,
    problems: Vec<String>,
}

impl Checker {
    /// Compare a real response with what the document says `method path`
    /// answers with that status.
    fn check(&mut self, method: &str, path: &str, status: StatusCode, body: &Value) {
        let p = mismatches(&self.doc, method, path, status, body);
        if p.is_empty() {
            self.checked += 1;
        }
        self.problems.extend(p);
    }
}

/// Real responses (those that need no face engine) against their schemas.
async fn responses_match_schemas(db: Db) {
    let Some(srv) = TestServer::start(db, false, |_| {}).await else {
        return;
    };
    let (_, doc) = srv.get("/api/v1/openapi.json", &Auth::None).await;
    let mut c = Checker {
        doc,
        checked: 0,
        problems: Vec::new(),
    };
    let org = srv.init_org("Acme", "owner@acme.test").await;
    let o = &org.owner;

    let (s, b) = srv.try_login("owner@acme.test", PASSWORD).await;
    c.check("post", "/api/v1/auth/login", s, &b);
    let (s, b) = srv.try_login("owner@acme.test", "wrong password").await;
    c.check("post", "/api/v1/auth/login", s, &b);
    let (s, b) = srv.get("/api/v1/auth/me", o).await;
    c.check("get", "/api/v1/auth/me", s, &b);
    let (s, b) = srv.get("/api/v1/organisations", o).await;
    c.check("get", "/api/v1/organisations", s, &b);
    let (s, b) = srv
        .call(
            Method::PATCH,
            "/api/v1/organisations/current",
            o,
            Some(json!({"settings": {"require_face": false, "match_threshold": 0.4}})),
        )
        .await;
    c.check("patch", "/api/v1/organisations/current", s, &b);
    let (s, b) = srv.get("/api/v1/organisations/current", o).await;
    c.check("get", "/api/v1/organisations/current", s, &b);

    let (s, person) = srv
        .post(
            "/api/v1/people",
            o,
            json!({"external_id": "E-1", "name": "Ada", "rfid_code": "CARD-1"}),
        )
        .await;
    c.check("post", "/api/v1/people", s, &person);
    let pid = person["id"].as_str().unwrap().to_string();
    let (s, b) = srv.get("/api/v1/people?q=ada", o).await;
    c.check("get", "/api/v1/people", s, &b);
    let (s, b) = srv.get(&format!("/api/v1/people/{pid}"), o).await;
    c.check("get", "/api/v1/people/{id}", s, &b);
    let (s, b) = srv
        .call(
            Method::PATCH,
            &format!("/api/v1/people/{pid}"),
            o,
            Some(json!({"department": "R&D"})),
        )
        .await;
    c.check("patch", "/api/v1/people/{id}", s, &b);
    let (s, b) = srv
        .get("/api/v1/people/00000000-0000-4000-8000-000000000000", o)
        .await;
    c.check("get", "/api/v1/people/{id}", s, &b);
    let (s, b) = srv.get(&format!("/api/v1/people/{pid}/templates"), o).await;
    c.check("get", "/api/v1/people/{id}/templates", s, &b);
    let (s, b) = srv
        .call(
            Method::DELETE,
            &format!("/api/v1/people/{pid}/templates"),
            o,
            None,
        )
        .await;
    c.check("delete", "/api/v1/people/{id}/templates", s, &b);
    let (s, b) = srv
        .post(
            &format!("/api/v1/people/{pid}/templates/archive"),
            o,
            json!({}),
        )
        .await;
    c.check("post", "/api/v1/people/{id}/templates/archive", s, &b);

    let (s, device) = srv
        .post(
            "/api/v1/devices",
            o,
            json!({"name": "Door", "kind": "door"}),
        )
        .await;
    c.check("post", "/api/v1/devices", s, &device);
    let did = device["id"].as_str().unwrap().to_string();
    let (s, b) = srv.get("/api/v1/devices", o).await;
    c.check("get", "/api/v1/devices", s, &b);
    let (s, b) = srv
        .call(
            Method::PATCH,
            &format!("/api/v1/devices/{did}"),
            o,
            Some(json!({"location": "lobby"})),
        )
        .await;
    c.check("patch", "/api/v1/devices/{id}", s, &b);

    let (s, sched) = srv
        .post(
            "/api/v1/schedules",
            o,
            json!({"name": "office", "person_id": pid, "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                   "start": "00:00", "end": "24:00"}),
        )
        .await;
    c.check("post", "/api/v1/schedules", s, &sched);
    let sid = sched["id"].as_str().unwrap().to_string();
    let (s, b) = srv
        .call(
            Method::PATCH,
            &format!("/api/v1/schedules/{sid}"),
            o,
            Some(json!({"device_id": did})),
        )
        .await;
    c.check("patch", "/api/v1/schedules/{id}", s, &b);
    let (s, b) = srv
        .call(
            Method::PATCH,
            &format!("/api/v1/schedules/{sid}"),
            o,
            Some(json!({"start": "8am"})),
        )
        .await;
    c.check("patch", "/api/v1/schedules/{id}", s, &b);
    let (s, b) = srv.get("/api/v1/schedules", o).await;
    c.check("get", "/api/v1/schedules", s, &b);
    let (s, b) = srv.get(&format!("/api/v1/schedules/{sid}"), o).await;
    c.check("get", "/api/v1/schedules/{id}", s, &b);

    let (s, key) = srv
        .post(
            "/api/v1/api-keys",
            o,
            json!({"name": "kiosk", "role": "operator", "scopes": ["attendance", "access", "read"]}),
        )
        .await;
    c.check("post", "/api/v1/api-keys", s, &key);
    let kid = key["id"].as_str().unwrap().to_string();
    let kiosk = Auth::Key(key["key"].as_str().unwrap().to_string());
    let (s, b) = srv.get("/api/v1/auth/me", &kiosk).await;
    c.check("get", "/api/v1/auth/me", s, &b);
    let (s, b) = srv.get("/api/v1/organisations", &kiosk).await;
    c.check("get", "/api/v1/organisations", s, &b);
    let (s, b) = srv.get("/api/v1/api-keys", o).await;
    c.check("get", "/api/v1/api-keys", s, &b);
    let (s, b) = srv.get(&format!("/api/v1/api-keys/{kid}"), o).await;
    c.check("get", "/api/v1/api-keys/{id}", s, &b);

    let (s, b) = srv
        .post(
            "/api/v1/accounts",
            o,
            json!({"email": "op@acme.test", "password": PASSWORD, "role": "operator", "name": "Op"}),
        )
        .await;
    c.check("post", "/api/v1/accounts", s, &b);
    let (s, b) = srv.get("/api/v1/accounts", o).await;
    c.check("get", "/api/v1/accounts", s, &b);

    // Credential flows run without the engine.
    let (s, b) = srv
        .post(
            "/api/v1/attendance/mark",
            &kiosk,
            json!({"credential": "CARD-1", "device_id": did}),
        )
        .await;
    assert_eq!(b["recorded"], true, "{b}");
    c.check("post", "/api/v1/attendance/mark", s, &b);
    let (s, b) = srv
        .post(
            "/api/v1/attendance/mark",
            &kiosk,
            json!({"credential": "CARD-1"}),
        )
        .await;
    assert_eq!(b["recorded"], false, "{b}");
    c.check("post", "/api/v1/attendance/mark", s, &b);
    let (s, b) = srv
        .post(
            "/api/v1/attendance/mark",
            &kiosk,
            json!({"credential": "NOBODY"}),
        )
        .await;
    c.check("post", "/api/v1/attendance/mark", s, &b);
    let (s, b) = srv.get("/api/v1/attendance", o).await;
    c.check("get", "/api/v1/attendance", s, &b);
    let (s, b) = srv.get("/api/v1/attendance/summary", o).await;
    c.check("get", "/api/v1/attendance/summary", s, &b);
    let (s, b) = srv
        .post(
            "/api/v1/access/decide",
            &kiosk,
            json!({"credential": "CARD-1", "device_id": did}),
        )
        .await;
    assert_eq!(b["decision"], "granted", "{b}");
    c.check("post", "/api/v1/access/decide", s, &b);
    let (s, b) = srv
        .post(
            "/api/v1/access/decide",
            &kiosk,
            json!({"credential": "NOBODY"}),
        )
        .await;
    c.check("post", "/api/v1/access/decide", s, &b);
    let (s, b) = srv.get("/api/v1/access-log?per_page=2", o).await;
    c.check("get", "/api/v1/access-log", s, &b);
    let (s, b) = srv.get("/api/v1/access-log/verify", o).await;
    c.check("get", "/api/v1/access-log/verify", s, &b);
    let (s, b) = srv.get("/api/v1/liveness/events", o).await;
    c.check("get", "/api/v1/liveness/events", s, &b);
    let (s, b) = srv.get("/api/v1/access-log", &kiosk).await;
    c.check("get", "/api/v1/access-log", s, &b);
    let (s, b) = srv
        .call(Method::DELETE, &format!("/api/v1/api-keys/{kid}"), o, None)
        .await;
    c.check("delete", "/api/v1/api-keys/{id}", s, &b);
    let (s, b) = srv.get("/api/v1/people", &Auth::None).await;
    c.check("get", "/api/v1/people", s, &b);

    assert!(c.checked >= 40, "only {} responses checked", c.checked);
    assert!(
        c.problems.is_empty(),
        "{} mismatches:\n{}",
        c.problems.len(),
        c.problems.join("\n")
    );
    srv.stop().await;
}

both_backends!(responses_match_schemas_tests, responses_match_schemas);

/// The checker itself: it must see extra, missing and mistyped fields.
#[test]
fn conform_catches_mismatches() {
    let doc = json!({"components": {"schemas": {
        "Thing": {"type": "object", "required": ["id", "n"], "properties": {
            "id": {"type": "string"},
            "n": {"type": "integer"},
            "tag": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Tag"}]},
        }},
        "Tag": {"type": "string", "enum": ["a", "b"]},
        "Wrapped": {"allOf": [{"$ref": "#/components/schemas/Thing"},
            {"type": "object", "required": ["extra"], "properties": {"extra": {"type": "boolean"}}}]},
    }}});
    let thing = json!({"$ref": "#/components/schemas/Thing"});
    let wrapped = json!({"$ref": "#/components/schemas/Wrapped"});
    let run = |schema: &Value, v: Value| {
        let mut p = Vec::new();
        conform(&doc, schema, &v, "$", &mut p);
        p
    };
    assert!(run(&thing, json!({"id": "x", "n": 1, "tag": null})).is_empty());
    assert!(run(&thing, json!({"id": "x", "n": 1, "tag": "a"})).is_empty());
    assert!(run(&wrapped, json!({"id": "x", "n": 1, "extra": true})).is_empty());
    assert_eq!(run(&thing, json!({"id": "x", "n": 1, "more": 1})).len(), 1);
    assert_eq!(run(&thing, json!({"id": "x"})).len(), 1);
    assert_eq!(run(&thing, json!({"id": 5, "n": 1.5})).len(), 2);
    assert_eq!(run(&thing, json!({"id": "x", "n": 1, "tag": "c"})).len(), 1);
    assert_eq!(run(&wrapped, json!({"id": "x", "n": 1})).len(), 1);
    assert_eq!(run(&thing, json!([1])).len(), 1);
}
