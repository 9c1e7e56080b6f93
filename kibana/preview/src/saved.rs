//! The saved objects (`kibana/dashboards.ndjson`, as exported from OpenSearch Dashboards):
//! the index pattern, the visualizations and the dashboard whose panels lay them out.
//! The page is drawn from these alone, so a panel that would not work on a real
//! Dashboards shows here first.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// The saved objects bundled in the binary.
pub const BUNDLED: &str = include_str!("../../dashboards.ndjson");

/// A panel's place on the dashboard's 48-column grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Grid {
    /// Column (0–47).
    pub x: u32,
    /// Row.
    pub y: u32,
    /// Width in columns.
    pub w: u32,
    /// Height in rows.
    pub h: u32,
}

/// A visualization.
#[derive(Debug, Clone)]
pub struct Visualization {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its `visState`, parsed.
    pub vis_state: Value,
}

/// A dashboard panel: a visualization where it is placed.
#[derive(Debug, Clone)]
pub struct DashboardPanel {
    /// The visualization's id.
    pub visualization: String,
    /// Where.
    pub grid: Grid,
}

/// What the page needs of the saved objects.
#[derive(Debug, Clone)]
pub struct SavedObjects {
    /// The index pattern's title (`social-posts*`).
    pub index_pattern: String,
    /// Its time field.
    pub time_field: String,
    /// Visualizations by id.
    pub visualizations: BTreeMap<String, Visualization>,
    /// The dashboard's title.
    pub title: String,
    /// Its panels, in order.
    pub panels: Vec<DashboardPanel>,
    /// Its saved time range (`now-24h` … `now`).
    pub time_from: String,
    /// The end of it.
    pub time_to: String,
    /// Its refresh interval, ms (0: none).
    pub refresh_ms: u64,
}

impl SavedObjects {
    /// Parses an NDJSON export holding one index pattern and one dashboard.
    pub fn parse(ndjson: &str) -> Result<SavedObjects, String> {
        let mut index_pattern = None;
        let mut visualizations = BTreeMap::new();
        let mut dashboard = None;
        for (n, line) in ndjson
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let o: Value =
                serde_json::from_str(line).map_err(|e| format!("line {}: not JSON: {e}", n + 1))?;
            let attributes = &o["attributes"];
            let id = o["id"].as_str().unwrap_or_default().to_string();
            match o["type"].as_str() {
                Some("index-pattern") => index_pattern = Some(attributes.clone()),
                Some("visualization") => {
                    let vis_state = match &attributes["visState"] {
                        Value::String(s) => serde_json::from_str(s).map_err(|e| {
                            format!("visualization {id}: visState is not JSON: {e}")
                        })?,
                        other => other.clone(),
                    };
                    let title = attributes["title"].as_str().unwrap_or(&id).to_string();
                    visualizations.insert(
                        id.clone(),
                        Visualization {
                            id,
                            title,
                            vis_state,
                        },
                    );
                }
                Some("dashboard") => dashboard = Some(o.clone()),
                _ => {}
            }
        }
        let pattern = index_pattern.ok_or("no index-pattern object")?;
        let dashboard = dashboard.ok_or("no dashboard object")?;
        let attributes = &dashboard["attributes"];
        let references: BTreeMap<&str, &str> = dashboard["references"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| Some((r["name"].as_str()?, r["id"].as_str()?)))
            .collect();
        let panels_json: Value = match &attributes["panelsJSON"] {
            Value::String(s) => {
                serde_json::from_str(s).map_err(|e| format!("panelsJSON is not JSON: {e}"))?
            }
            other => other.clone(),
        };
        let mut panels = Vec::new();
        for p in panels_json.as_array().ok_or("panelsJSON is not a list")? {
            let visualization = match p["panelRefName"].as_str() {
                Some(name) => references
                    .get(name)
                    .map(|id| id.to_string())
                    .ok_or_else(|| {
                        format!("panel reference {name} is not in the dashboard's references")
                    })?,
                None => p["id"]
                    .as_str()
                    .ok_or("a panel without panelRefName or id")?
                    .to_string(),
            };
            let g = &p["gridData"];
            let num = |k: &str| g[k].as_u64().unwrap_or(0) as u32;
            panels.push(DashboardPanel {
                visualization,
                grid: Grid {
                    x: num("x"),
                    y: num("y"),
                    w: num("w").max(1),
                    h: num("h").max(1),
                },
            });
        }
        Ok(SavedObjects {
            index_pattern: pattern["title"]
                .as_str()
                .ok_or("the index pattern has no title")?
                .to_string(),
            time_field: pattern["timeFieldName"]
                .as_str()
                .ok_or("the index pattern has no time field")?
                .to_string(),
            visualizations,
            title: attributes["title"]
                .as_str()
                .unwrap_or("Dashboard")
                .to_string(),
            panels,
            time_from: attributes["timeFrom"]
                .as_str()
                .unwrap_or("now-24h")
                .to_string(),
            time_to: attributes["timeTo"].as_str().unwrap_or("now").to_string(),
            refresh_ms: match attributes["refreshInterval"]["pause"].as_bool() {
                Some(false) => attributes["refreshInterval"]["value"].as_u64().unwrap_or(0),
                _ => 0,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_dashboard_lays_out_every_visualization() {
        let saved = SavedObjects::parse(BUNDLED).expect("bundled");
        assert_eq!(saved.index_pattern, "social-posts*");
        assert_eq!(saved.time_field, "arrived_at");
        assert_eq!(saved.panels.len(), saved.visualizations.len());
        for p in &saved.panels {
            assert!(
                saved.visualizations.contains_key(&p.visualization),
                "{}",
                p.visualization
            );
        }
        assert_eq!(
            (saved.time_from.as_str(), saved.refresh_ms),
            ("now-24h", 60_000)
        );
    }

    #[test]
    fn a_dangling_reference_is_named() {
        let broken = BUNDLED
            .replace("\"name\":\"panel_0\"", "\"name\":\"panel_x\"")
            .replace("\"name\": \"panel_0\"", "\"name\": \"panel_x\"");
        let err = SavedObjects::parse(&broken).expect_err("dangling");
        assert!(err.contains("panel_0"), "{err}");
    }
}
