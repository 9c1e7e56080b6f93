//! The setup steps, run in order by [`run`]. Each reads what the domain holds first,
//! compares it with what it wants (only the keys it sets: servers add their own), and
//! writes only when they differ, so a second run changes nothing and says so.

use std::collections::BTreeMap;
use std::time::Instant;

use reqwest::Method;
use serde_json::{json, Value};
use tracing::{info, warn};

use crate::assets::{self, SavedObject};
use crate::domain::{Call, Domain, Reply};
use crate::multipart::file_form;
use crate::report::{Change, Failure, Report, Step, StepReport};
use crate::SetupError;

/// What to set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The index Firehose writes (`social-posts`; the daily indices are `INDEX-YYYY-MM-DD`).
    pub index: String,
    /// Days an index is kept before ISM deletes it (0: no retention policy).
    pub retention_days: u32,
    /// IAM role ARNs mapped to the delivery role under fine-grained access control (the
    /// Firehose delivery role).
    pub map_roles: Vec<String>,
    /// This run's own IAM role, mapped the same way and then used to check the mapping
    /// works (a SigV4-signed request as that role).
    pub own_role: Option<String>,
}

impl Plan {
    /// The defaults: index `social-posts`, 30 days, no roles.
    pub fn new() -> Self {
        Plan {
            index: assets::DEFAULT_INDEX.to_string(),
            retention_days: 30,
            map_roles: Vec::new(),
            own_role: None,
        }
    }
}

impl Default for Plan {
    fn default() -> Self {
        Plan::new()
    }
}

/// Runs every step against `domain`, stopping at the first failure. Every request ends
/// by `deadline`.
pub async fn run(domain: &Domain, plan: &Plan, deadline: Instant) -> Result<Report, Failure> {
    let mut done: Vec<StepReport> = Vec::new();
    for step in Step::ALL {
        let outcome = match step {
            Step::Connect => connect(domain, deadline).await,
            Step::Security => security(domain, plan, deadline).await,
            Step::Retention => retention(domain, plan, deadline).await,
            Step::Template => template(domain, plan, deadline).await,
            Step::Dashboards => dashboards(domain, plan, deadline).await,
        };
        match outcome {
            Ok((change, detail)) => {
                info!(step = step.name(), change = ?change, detail = %detail, "setup step done");
                done.push(StepReport {
                    step,
                    change,
                    detail,
                });
            }
            Err(error) => {
                warn!(step = step.name(), error = %error, "setup step failed");
                return Err(Failure { step, error, done });
            }
        }
    }
    Ok(Report {
        steps: done,
        dashboard_url: dashboard_url(domain),
    })
}

/// The URL that opens the dashboard.
pub fn dashboard_url(domain: &Domain) -> String {
    format!(
        "{}/app/dashboards#/view/{}",
        domain.dashboards(),
        assets::DASHBOARD_ID
    )
}

type Outcome = Result<(Change, String), SetupError>;

async fn connect(domain: &Domain, deadline: Instant) -> Outcome {
    let call = domain.api("connect to the domain", Method::GET, "/");
    let reply = domain.send(&call, deadline).await?;
    if !reply.ok() {
        return Err(refusal(domain, &call, &reply));
    }
    let info = reply.json(call.what)?;
    let version = info["version"]["number"]
        .as_str()
        .unwrap_or("unknown version");
    let distribution = info["version"]["distribution"]
        .as_str()
        .unwrap_or("elasticsearch");
    Ok((
        Change::Checked,
        format!("{distribution} {version} at {}", domain.endpoint()),
    ))
}

/// The error for a 4xx/5xx answer: access problems get their own message.
fn refusal(domain: &Domain, call: &Call<'_>, reply: &Reply) -> SetupError {
    let body = reply.text();
    let security = body.contains("security_exception") || body.contains("Unauthorized");
    match reply.status {
        401 | 403 if security && !domain.fine_grained() => SetupError::NeedsMasterUser {
            status: reply.status,
        },
        401 if domain.fine_grained() => SetupError::Denied {
            what: call.what.to_string(),
            status: 401,
            reason: format!("the master user's name or password was refused: {body}"),
        },
        401 | 403 => SetupError::Denied {
            what: call.what.to_string(),
            status: reply.status,
            reason: format!(
                "{body} (the domain access policy must allow these credentials es:ESHttp* on the domain)"
            ),
        },
        status => SetupError::Refused {
            what: call.what.to_string(),
            status,
            body,
        },
    }
}

async fn security(domain: &Domain, plan: &Plan, deadline: Instant) -> Outcome {
    if !domain.fine_grained() {
        return Ok((
            Change::Skipped(
                "no fine-grained access control: the domain access policy decides who may write"
                    .into(),
            ),
            String::new(),
        ));
    }
    let mut roles: Vec<String> = plan.map_roles.clone();
    roles.extend(plan.own_role.clone());
    roles.dedup();
    if roles.is_empty() {
        warn!("no IAM role to map: Firehose delivers only if its role is already mapped");
        return Ok((
            Change::Skipped("no IAM role to map was given (--map-role)".into()),
            String::new(),
        ));
    }
    let name = assets::DELIVERY_ROLE;
    let role_path = format!("/_plugins/_security/api/roles/{name}");
    let role_change = put_if_different(
        domain,
        deadline,
        ("read the delivery role", "write the delivery role"),
        &role_path,
        assets::delivery_role(&plan.index),
        |have| have.get(name).cloned(),
    )
    .await?;

    let mapping_path = format!("/_plugins/_security/api/rolesmapping/{name}");
    let read = domain.api("read the delivery role mapping", Method::GET, &mapping_path);
    let reply = domain.send(&read, deadline).await?;
    let existing = match reply.status {
        404 => None,
        _ if reply.ok() => Some(reply.json(read.what)?[name].clone()),
        _ => return Err(refusal(domain, &read, &reply)),
    };
    let mut mapped: Vec<String> = existing
        .as_ref()
        .and_then(|m| m["backend_roles"].as_array())
        .map(|a| {
            a.iter()
                .filter_map(|r| r.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let missing: Vec<&String> = roles.iter().filter(|r| !mapped.contains(r)).collect();
    let mapping_change = if missing.is_empty() {
        Change::Unchanged
    } else {
        mapped.extend(missing.into_iter().cloned());
        let keep = |key: &str| existing.as_ref().map_or(json!([]), |m| m[key].clone());
        let body = json!({
            "backend_roles": mapped,
            "users": non_null(keep("users")),
            "hosts": non_null(keep("hosts")),
        });
        let write = json_call(
            domain.api("map the delivery role", Method::PUT, &mapping_path),
            &body,
        );
        let reply = domain.send(&write, deadline).await?;
        if !reply.ok() {
            return Err(refusal(domain, &write, &reply));
        }
        if existing.is_some() {
            Change::Updated
        } else {
            Change::Created
        }
    };
    if let Some(own) = &plan.own_role {
        check_mapping(domain, own, deadline).await?;
    }
    let change = combine(&[role_change, mapping_change]);
    Ok((
        change,
        format!("role {name} mapped to {}", roles.join(", ")),
    ))
}

fn non_null(v: Value) -> Value {
    if v.is_null() {
        json!([])
    } else {
        v
    }
}

/// Checks, with a SigV4-signed request as `own_role`, that the domain now gives that role
/// the delivery role (a mapping only takes effect once the security index has it).
async fn check_mapping(
    domain: &Domain,
    own_role: &str,
    deadline: Instant,
) -> Result<(), SetupError> {
    let call = domain.api(
        "check the delivery role mapping (signed, as this function's role)",
        Method::GET,
        "/_plugins/_security/authinfo",
    );
    let reply = domain.signed(&call, deadline).await?;
    let info = match reply.ok() {
        true => reply.json(call.what)?,
        false => return Err(refusal(domain, &call, &reply)),
    };
    let has = |key: &str, want: &str| {
        info[key]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(want)))
    };
    if has("roles", assets::DELIVERY_ROLE) {
        Ok(())
    } else {
        Err(SetupError::BadAnswer {
            what: call.what.to_string(),
            reason: format!(
                "the signed request as {own_role} was not given role {} (user {}, backend roles {})",
                assets::DELIVERY_ROLE,
                info["user_name"],
                info["backend_roles"]
            ),
        })
    }
}

fn combine(changes: &[Change]) -> Change {
    if changes.contains(&Change::Created) {
        Change::Created
    } else if changes.contains(&Change::Updated) {
        Change::Updated
    } else {
        Change::Unchanged
    }
}

/// Reads `path`; writes `want` there with PUT when it is absent (404) or `current` of the
/// answer does not contain it.
async fn put_if_different(
    domain: &Domain,
    deadline: Instant,
    (read_what, write_what): (&'static str, &'static str),
    path: &str,
    want: Value,
    current: impl Fn(&Value) -> Option<Value>,
) -> Result<Change, SetupError> {
    let read = domain.api(read_what, Method::GET, path);
    let reply = domain.send(&read, deadline).await?;
    let change = match reply.status {
        404 => Change::Created,
        _ if reply.ok() => match current(&reply.json(read.what)?) {
            Some(have) if contains(&want, &have) => return Ok(Change::Unchanged),
            Some(_) => Change::Updated,
            None => Change::Created,
        },
        _ => return Err(refusal(domain, &read, &reply)),
    };
    let write = json_call(domain.api(write_what, Method::PUT, path), &want);
    let reply = domain.send(&write, deadline).await?;
    if reply.ok() {
        Ok(change)
    } else {
        Err(refusal(domain, &write, &reply))
    }
}

fn json_call<'a>(mut call: Call<'a>, body: &Value) -> Call<'a> {
    call.body = body.to_string().into_bytes();
    call.headers
        .push(("content-type", "application/json".to_string()));
    call
}

async fn retention(domain: &Domain, plan: &Plan, deadline: Instant) -> Outcome {
    if plan.retention_days == 0 {
        return Ok((
            Change::Skipped("retention off (0 days): indices are kept until deleted".into()),
            String::new(),
        ));
    }
    let id = assets::policy_id(&plan.index);
    let path = format!("/_plugins/_ism/policies/{id}");
    let want = assets::retention_policy(&plan.index, plan.retention_days);
    let read = domain.api("read the retention policy", Method::GET, &path);
    let reply = domain.send(&read, deadline).await?;
    let no_plugin = reply.text().contains("no handler found");
    let (change, version) = match reply.status {
        400 | 404 | 405 if no_plugin => {
            return Err(SetupError::NoIsm {
                status: reply.status,
            })
        }
        404 => (Change::Created, None),
        _ if reply.ok() => {
            let have = reply.json(read.what)?;
            if contains(&want["policy"], &have["policy"]) {
                (Change::Unchanged, None)
            } else {
                let seq = (have["_seq_no"].clone(), have["_primary_term"].clone());
                (Change::Updated, Some(seq))
            }
        }
        _ => return Err(refusal(domain, &read, &reply)),
    };
    if change != Change::Unchanged {
        let path = match &version {
            Some((seq, term)) => format!("{path}?if_seq_no={seq}&if_primary_term={term}"),
            None => path.clone(),
        };
        let write = json_call(
            domain.api("write the retention policy", Method::PUT, &path),
            &want,
        );
        let reply = domain.send(&write, deadline).await?;
        if !reply.ok() {
            return Err(refusal(domain, &write, &reply));
        }
    }
    // The ISM template only reaches indices created from now on: attach the indices that
    // already exist and have no policy, and move managed ones to a changed policy.
    let pattern = assets::index_pattern(&plan.index);
    let mut attached = ism_apply(domain, "add", &pattern, &id, deadline).await?;
    if change == Change::Updated {
        attached += ism_apply(domain, "change_policy", &pattern, &id, deadline).await?;
    }
    let change = match (change, attached) {
        (Change::Unchanged, n) if n > 0 => Change::Updated,
        (c, _) => c,
    };
    let mut detail = format!(
        "policy {id}: {pattern} deleted {} days after creation",
        plan.retention_days
    );
    if attached > 0 {
        detail.push_str(&format!("; {attached} existing indices attached"));
    }
    Ok((change, detail))
}

/// `POST _plugins/_ism/{action}/{pattern}` with the policy id: how many indices it
/// updated. Indices that already have the policy are not failures.
async fn ism_apply(
    domain: &Domain,
    action: &str,
    pattern: &str,
    id: &str,
    deadline: Instant,
) -> Result<u64, SetupError> {
    let call = json_call(
        domain.api(
            "attach existing indices to the retention policy",
            Method::POST,
            &format!("/_plugins/_ism/{action}/{pattern}"),
        ),
        &json!({ "policy_id": id }),
    );
    let reply = domain.send(&call, deadline).await?;
    if !reply.ok() {
        return Err(refusal(domain, &call, &reply));
    }
    let answer = reply.json(call.what)?;
    let failed: Vec<String> = answer["failed_indices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| {
            !f["reason"]
                .as_str()
                .is_some_and(|r| r.contains("already has a policy"))
        })
        .map(|f| format!("{}: {}", f["index_name"], f["reason"]))
        .collect();
    if !failed.is_empty() {
        return Err(SetupError::BadAnswer {
            what: call.what.to_string(),
            reason: failed.join("; "),
        });
    }
    Ok(answer["updated_indices"].as_u64().unwrap_or(0))
}

async fn template(domain: &Domain, plan: &Plan, deadline: Instant) -> Outcome {
    let name = &plan.index;
    let path = format!("/_index_template/{name}");
    let want = assets::index_template(name);
    let change = put_if_different(
        domain,
        deadline,
        ("read the index template", "put the index template"),
        &path,
        want,
        |have| {
            let found = have["index_templates"]
                .as_array()?
                .iter()
                .find(|t| t["name"] == json!(name))?;
            Some(comparable_template(&found["index_template"]))
        },
    )
    .await?;
    let mut detail = format!("{name} for {}", assets::index_pattern(name));
    let early = indices_mapped_before_the_template(domain, plan, deadline).await?;
    if !early.is_empty() {
        warn!(indices = %early.join(", "), "indices created before the template have dynamic mappings");
        detail.push_str(&format!(
            "; WARNING: {} created before the template (dynamic mapping): delete or reindex them",
            early.join(", ")
        ));
    }
    Ok((change, detail))
}

/// An index template as the API returns it, with its settings in the form they are
/// written in `kibana/index-template.json` (the API nests them under `index` and returns
/// every value as a string).
fn comparable_template(have: &Value) -> Value {
    let mut have = have.clone();
    if let Some(settings) = have["template"].get("settings") {
        let flat = flatten_settings(settings);
        have["template"]["settings"] = Value::Object(
            flat.into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        );
    }
    have
}

/// Settings flattened to `key -> string value` without the `index.` prefix.
fn flatten_settings(settings: &Value) -> BTreeMap<String, String> {
    fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            Value::String(s) => {
                out.insert(prefix.to_string(), s.clone());
            }
            other => {
                out.insert(prefix.to_string(), other.to_string());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", settings, &mut out);
    out.into_iter()
        .map(|(k, v)| (k.strip_prefix("index.").map(String::from).unwrap_or(k), v))
        .collect()
}

/// Existing `INDEX*` indices whose mapping is not the template's (`dynamic: strict`):
/// they were created before the template, by a record that arrived first.
async fn indices_mapped_before_the_template(
    domain: &Domain,
    plan: &Plan,
    deadline: Instant,
) -> Result<Vec<String>, SetupError> {
    let call = domain.api(
        "read the mappings of existing indices",
        Method::GET,
        &format!("/{}/_mapping", assets::index_pattern(&plan.index)),
    );
    let reply = domain.send(&call, deadline).await?;
    if reply.status == 404 {
        return Ok(Vec::new());
    }
    if !reply.ok() {
        return Err(refusal(domain, &call, &reply));
    }
    let answer = reply.json(call.what)?;
    Ok(answer
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, m)| m["mappings"]["dynamic"] != json!("strict"))
        .map(|(name, _)| name.clone())
        .collect())
}

async fn dashboards(domain: &Domain, plan: &Plan, deadline: Instant) -> Outcome {
    let status = domain.dashboards_call("check OpenSearch Dashboards", Method::GET, "/api/status");
    let reply = domain.send(&status, deadline).await?;
    match reply.status {
        s if (200..300).contains(&s) => {}
        401 | 403 => return Err(refusal(domain, &status, &reply)),
        s => {
            return Err(SetupError::NoDashboards {
                url: domain.dashboards().to_string(),
                status: s,
            })
        }
    }
    let objects = assets::saved_objects(&plan.index);
    let before = read_objects(domain, &objects, deadline).await?;
    let differ = |found: &[Option<Value>]| -> Vec<String> {
        objects
            .iter()
            .zip(found)
            .filter(|(o, f)| !f.as_ref().is_some_and(|f| same_object(&o.object, f)))
            .map(|(o, _)| format!("{}/{}", o.kind, o.id))
            .collect()
    };
    let summary = describe_objects(&objects);
    if differ(&before).is_empty() {
        return Ok((Change::Unchanged, summary));
    }
    import(domain, &objects, deadline).await?;
    let after = read_objects(domain, &objects, deadline).await?;
    let absent = differ(&after);
    if !absent.is_empty() {
        return Err(SetupError::ImportIncomplete {
            count: absent.len(),
            total: objects.len(),
            names: absent.join(", "),
        });
    }
    let change = match before.iter().all(Option::is_none) {
        true => Change::Created,
        false => Change::Updated,
    };
    Ok((change, summary))
}

fn describe_objects(objects: &[SavedObject]) -> String {
    let count = |kind: &str| objects.iter().filter(|o| o.kind == kind).count();
    format!(
        "{} saved objects: {} index pattern, {} visualizations, {} dashboard",
        objects.len(),
        count("index-pattern"),
        count("visualization"),
        count("dashboard")
    )
}

/// `_bulk_get` of `objects`: each one as stored, or `None` when it is not there.
async fn read_objects(
    domain: &Domain,
    objects: &[SavedObject],
    deadline: Instant,
) -> Result<Vec<Option<Value>>, SetupError> {
    let wanted: Vec<Value> = objects
        .iter()
        .map(|o| json!({ "type": o.kind, "id": o.id }))
        .collect();
    let call = json_call(
        domain.dashboards_call(
            "read the saved objects",
            Method::POST,
            "/api/saved_objects/_bulk_get",
        ),
        &Value::Array(wanted),
    );
    let reply = domain.send(&call, deadline).await?;
    if !reply.ok() {
        return Err(refusal(domain, &call, &reply));
    }
    let answer = reply.json(call.what)?;
    let found = answer["saved_objects"]
        .as_array()
        .ok_or_else(|| SetupError::BadAnswer {
            what: call.what.to_string(),
            reason: format!("no saved_objects list: {}", reply.text()),
        })?;
    Ok(objects
        .iter()
        .map(|o| {
            found
                .iter()
                .find(|f| f["id"] == json!(o.id) && f["type"] == json!(o.kind))
                .filter(|f| f.get("error").is_none() && f.get("attributes").is_some())
                .cloned()
        })
        .collect())
}

async fn import(
    domain: &Domain,
    objects: &[SavedObject],
    deadline: Instant,
) -> Result<(), SetupError> {
    let ndjson = assets::saved_objects_ndjson(objects);
    let form = file_form(
        "file",
        "dashboards.ndjson",
        "application/ndjson",
        ndjson.as_bytes(),
    );
    let mut call = domain.dashboards_call(
        "import the saved objects",
        Method::POST,
        "/api/saved_objects/_import?overwrite=true",
    );
    call.headers.push(("content-type", form.content_type));
    call.body = form.body;
    let reply = domain.send(&call, deadline).await?;
    if !reply.ok() {
        return Err(refusal(domain, &call, &reply));
    }
    let answer = reply.json(call.what)?;
    let errors: Vec<String> = answer["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            format!(
                "{}/{}: {}",
                e["type"].as_str().unwrap_or("?"),
                e["id"].as_str().unwrap_or("?"),
                e["error"]
            )
        })
        .collect();
    if answer["success"] != json!(true) || !errors.is_empty() {
        return Err(SetupError::ImportFailed(if errors.is_empty() {
            reply.text()
        } else {
            errors.join("; ")
        }));
    }
    Ok(())
}

/// The attributes of a saved object whose values are JSON held in strings.
const JSON_STRINGS: [&str; 6] = [
    "visState",
    "uiStateJSON",
    "panelsJSON",
    "optionsJSON",
    "fields",
    "fieldFormatMap",
];

/// Whether the stored object `have` holds every attribute and reference of `want`.
fn same_object(want: &Value, have: &Value) -> bool {
    let refs = |o: &Value| {
        let mut r: Vec<String> = o["references"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| format!("{}|{}|{}", r["name"], r["type"], r["id"]))
            .collect();
        r.sort();
        r
    };
    contains(
        &comparable_attributes(&want["attributes"]),
        &comparable_attributes(&have["attributes"]),
    ) && refs(want) == refs(have)
}

fn comparable_attributes(attributes: &Value) -> Value {
    let mut a = attributes.clone();
    let parse = |v: &mut Value| {
        if let Some(parsed) = v
            .as_str()
            .and_then(|s| serde_json::from_str::<Value>(s).ok())
        {
            *v = parsed;
        }
    };
    for key in JSON_STRINGS {
        if let Some(v) = a.get_mut(key) {
            parse(v);
        }
    }
    if let Some(v) = a
        .get_mut("kibanaSavedObjectMeta")
        .and_then(|m| m.get_mut("searchSourceJSON"))
    {
        parse(v);
    }
    a
}

/// Whether `have` contains `want`: every key of every object of `want` is in `have` with
/// a value that contains it; arrays pairwise; numbers by value.
fn contains(want: &Value, have: &Value) -> bool {
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => w
            .iter()
            .all(|(k, v)| h.get(k).is_some_and(|hv| contains(v, hv))),
        (Value::Array(w), Value::Array(h)) => {
            w.len() == h.len() && w.iter().zip(h).all(|(a, b)| contains(a, b))
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        // Settings come back as strings.
        (Value::Number(n), Value::String(s)) => s.parse::<f64>().ok() == n.as_f64(),
        (Value::Bool(b), Value::String(s)) => s == if *b { "true" } else { "false" },
        _ => want == have,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containment_ignores_what_servers_add() {
        let want = json!({"a": 1, "b": {"c": [1, {"d": "x"}]}});
        let have = json!({"a": 1.0, "z": true, "b": {"c": [1, {"d": "x", "e": 2}], "y": null}});
        assert!(contains(&want, &have));
        assert!(!contains(&json!({"a": 2}), &have));
        assert!(!contains(&json!({"b": {"c": [1]}}), &have));
        assert!(!contains(&json!({"q": 1}), &have));
        assert!(contains(
            &json!({"n": 1, "t": true}),
            &json!({"n": "1", "t": "true"})
        ));
    }

    #[test]
    fn template_settings_compare_as_written() {
        let have = json!({
            "index_patterns": ["social-posts*"],
            "template": {"settings": {"index": {"number_of_shards": "1", "auto_expand_replicas": "0-1"}}}
        });
        let want = json!({
            "index_patterns": ["social-posts*"],
            "template": {"settings": {"number_of_shards": 1, "auto_expand_replicas": "0-1"}}
        });
        assert!(contains(&want, &comparable_template(&have)));
        let other = json!({"template": {"settings": {"number_of_shards": 2}}});
        assert!(!contains(&other, &comparable_template(&have)));
    }

    #[test]
    fn saved_objects_compare_through_their_json_strings() {
        let objects = assets::saved_objects("social-posts");
        let vis = objects.iter().find(|o| o.kind == "visualization").unwrap();
        let mut stored = vis.object.clone();
        // Dashboards re-serialises visState with other spacing and adds fields.
        let state: Value =
            serde_json::from_str(stored["attributes"]["visState"].as_str().unwrap()).unwrap();
        stored["attributes"]["visState"] = json!(serde_json::to_string_pretty(&state).unwrap());
        stored["updated_at"] = json!("2026-12-01T00:00:00Z");
        stored["migrationVersion"] = json!({"visualization": "7.10.0"});
        assert!(same_object(&vis.object, &stored));
        stored["attributes"]["title"] = json!("renamed");
        assert!(!same_object(&vis.object, &stored));
        let mut unreferenced = vis.object.clone();
        unreferenced["references"] = json!([]);
        assert!(!same_object(&vis.object, &unreferenced));
    }
}
