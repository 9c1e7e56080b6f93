//! What setup installs, built from the files in `kibana/` (compiled in, so the deployed
//! function and the command install exactly what this checkout holds): the index template,
//! the retention policy, the delivery role, and the saved objects.

use serde_json::{json, Value};

/// `kibana/index-template.json`: every document field mapped explicitly.
pub const INDEX_TEMPLATE: &str = include_str!("../../index-template.json");

/// `kibana/dashboards.ndjson`: index pattern, visualizations, dashboard.
pub const SAVED_OBJECTS: &str = include_str!("../../dashboards.ndjson");

/// The index the pipeline writes (Firehose appends `-YYYY-MM-DD`).
pub const DEFAULT_INDEX: &str = "social-posts";

/// The id of the dashboard the URL opens.
pub const DASHBOARD_ID: &str = "cats-vs-dogs";

/// The security role the Firehose delivery role is mapped to.
pub const DELIVERY_ROLE: &str = "social_sentiment_delivery";

/// The ISM policy id for an index name.
pub fn policy_id(index: &str) -> String {
    format!("{index}-retention")
}

/// The index pattern every piece uses: `INDEX*` (the daily indices).
pub fn index_pattern(index: &str) -> String {
    format!("{index}*")
}

/// The index template for `index`: `kibana/index-template.json` with its pattern set to
/// `INDEX*`.
pub fn index_template(index: &str) -> Value {
    let mut template: Value =
        serde_json::from_str(INDEX_TEMPLATE).expect("kibana/index-template.json is JSON");
    template["index_patterns"] = json!([index_pattern(index)]);
    template
}

/// The ISM policy: indices stay in `hot` for `days` days, then are deleted. Its ISM
/// template attaches it to every new `INDEX*` index when the index is created.
pub fn retention_policy(index: &str, days: u32) -> Value {
    json!({
        "policy": {
            "description": format!("social-sentiment: delete {index} indices {days} days after creation"),
            "default_state": "hot",
            "states": [
                {
                    "name": "hot",
                    "actions": [],
                    "transitions": [
                        { "state_name": "delete", "conditions": { "min_index_age": format!("{days}d") } }
                    ]
                },
                { "name": "delete", "actions": [ { "delete": {} } ], "transitions": [] }
            ],
            "ism_template": [ { "index_patterns": [index_pattern(index)], "priority": 100 } ]
        }
    })
}

/// What Firehose needs to deliver into `INDEX*` and nothing more: `_bulk` (composite
/// operations), the health and version checks it makes (cluster monitor), and on the
/// pipeline's indices document writes and reads (`crud`) and index creation for each new
/// day (`create_index`).
pub fn delivery_role(index: &str) -> Value {
    json!({
        "description": "social-sentiment: Firehose delivery into the pipeline's indices",
        "cluster_permissions": ["cluster_composite_ops", "cluster_monitor"],
        "index_permissions": [
            {
                "index_patterns": [index_pattern(index)],
                "allowed_actions": ["crud", "create_index"]
            }
        ]
    })
}

/// One saved object of `kibana/dashboards.ndjson`.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedObject {
    /// `index-pattern`, `visualization`, `dashboard`.
    pub kind: String,
    /// The object's id.
    pub id: String,
    /// The whole object as exported.
    pub object: Value,
}

/// The saved objects for `index`: `kibana/dashboards.ndjson` with the index pattern's
/// title set to `INDEX*`.
pub fn saved_objects(index: &str) -> Vec<SavedObject> {
    SAVED_OBJECTS
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut object: Value =
                serde_json::from_str(line).expect("kibana/dashboards.ndjson is NDJSON");
            if object["type"] == "index-pattern" {
                object["attributes"]["title"] = json!(index_pattern(index));
            }
            SavedObject {
                kind: object["type"].as_str().unwrap_or_default().to_string(),
                id: object["id"].as_str().unwrap_or_default().to_string(),
                object,
            }
        })
        .collect()
}

/// The saved objects as the NDJSON file the import takes.
pub fn saved_objects_ndjson(objects: &[SavedObject]) -> String {
    let mut out = String::new();
    for o in objects {
        out.push_str(&o.object.to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_assets_follow_the_index_name() {
        let t = index_template("tweets");
        assert_eq!(t["index_patterns"], json!(["tweets*"]));
        assert_eq!(t["template"]["mappings"]["dynamic"], "strict");
        let p = retention_policy("tweets", 7);
        assert_eq!(
            p["policy"]["states"][0]["transitions"][0]["conditions"]["min_index_age"],
            "7d"
        );
        assert_eq!(
            p["policy"]["ism_template"][0]["index_patterns"],
            json!(["tweets*"])
        );
        assert_eq!(
            p["policy"]["states"][1]["actions"][0],
            json!({"delete": {}})
        );
        let objects = saved_objects("tweets");
        let pattern = objects.iter().find(|o| o.kind == "index-pattern").unwrap();
        assert_eq!(pattern.object["attributes"]["title"], "tweets*");
        assert!(objects
            .iter()
            .any(|o| o.kind == "dashboard" && o.id == DASHBOARD_ID));
        let ndjson = saved_objects_ndjson(&objects);
        assert_eq!(ndjson.lines().count(), objects.len());
        assert_eq!(
            delivery_role("tweets")["index_permissions"][0]["index_patterns"],
            json!(["tweets*"])
        );
    }
}
