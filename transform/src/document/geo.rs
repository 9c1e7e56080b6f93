//! Where a post is: its place (`geo.place_id` found in `includes.places`) and its
//! `location`, the post's own point (`geo.coordinates`, GeoJSON order: lon, lat) or else
//! the centre of the place's bounding box; and, with `REGIONS_GEOJSON`, the named region
//! containing that location ([`Regions`], `geo`'s point-in-polygon).
//!
//! A malformed `geo` never fails a post: the post is kept without what could not be read,
//! and the problem is named ([`GeoProblem`]) so the report counts it.

use std::borrow::Cow;

use geo::{BoundingRect, Contains, MultiPolygon, Point, Rect};
use serde::Serialize;
use serde_json::Value;

use crate::error::ConfigError;

/// The `place` object of a document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Place<'a> {
    /// X's place id.
    pub id: Cow<'a, str>,
    /// Short name (`Manhattan`).
    pub name: Option<Cow<'a, str>>,
    /// Full name (`Manhattan, NY`).
    pub full_name: Option<Cow<'a, str>>,
    /// ISO 3166-1 alpha-2 country code.
    pub country_code: Option<Cow<'a, str>>,
    /// `city`, `admin`, `country`, `neighborhood`, `poi`.
    #[serde(rename = "type")]
    pub kind: Option<Cow<'a, str>>,
}

/// An OpenSearch `geo_point`, written `{"lat": …, "lon": …}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GeoPoint {
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
}

/// Why a post has no `place` or no `location` though its `geo` said it had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GeoProblem {
    /// `geo.place_id` names no entry of `includes.places`.
    PlaceNotIncluded,
    /// `geo.coordinates` is not a point of two numbers in range.
    BadCoordinates,
    /// The place's `geo.bbox` is not four numbers in range.
    BadBbox,
}

impl GeoProblem {
    /// Stable snake_case name, for counters.
    pub fn as_str(self) -> &'static str {
        match self {
            GeoProblem::PlaceNotIncluded => "place_not_included",
            GeoProblem::BadCoordinates => "bad_coordinates",
            GeoProblem::BadBbox => "bad_bbox",
        }
    }
}

/// What the post's `geo` gives.
#[derive(Debug, Default, PartialEq)]
pub struct Located<'a> {
    /// Its place.
    pub place: Option<Place<'a>>,
    /// Its location.
    pub location: Option<GeoPoint>,
    /// What could not be read.
    pub problem: Option<GeoProblem>,
}

fn text(v: &Value) -> Option<Cow<'static, str>> {
    v.as_str()
        .filter(|s| !s.is_empty())
        .map(|s| Cow::Owned(s.to_string()))
}

fn in_range(lat: f64, lon: f64) -> bool {
    lat.is_finite()
        && lon.is_finite()
        && (-90.0..=90.0).contains(&lat)
        && (-180.0..=180.0).contains(&lon)
}

/// `[lon, lat]` as a point, if it is one.
fn point(v: &Value) -> Option<GeoPoint> {
    match v.as_array()?.as_slice() {
        [lon, lat] => {
            let (lat, lon) = (lat.as_f64()?, lon.as_f64()?);
            in_range(lat, lon).then_some(GeoPoint { lat, lon })
        }
        _ => None,
    }
}

/// The centre of `[west, south, east, north]` (a box across the antimeridian has
/// west > east).
fn bbox_centre(v: &Value) -> Option<GeoPoint> {
    let b: Vec<f64> = v
        .as_array()?
        .iter()
        .map(Value::as_f64)
        .collect::<Option<_>>()?;
    let [w, s, e, n] = b.as_slice() else {
        return None;
    };
    if !in_range(*s, *w) || !in_range(*n, *e) || s > n {
        return None;
    }
    let mut lon = if w <= e {
        (w + e) / 2.0
    } else {
        (w + e + 360.0) / 2.0
    };
    if lon > 180.0 {
        lon -= 360.0;
    }
    Some(GeoPoint {
        lat: (s + n) / 2.0,
        lon,
    })
}

/// Reads `data.geo` and `includes.places`.
pub fn locate(geo: Option<&Value>, places: Option<&Value>) -> Located<'static> {
    let mut out = Located::default();
    let Some(geo) = geo.filter(|g| g.is_object()) else {
        return out;
    };
    let mut bbox = None;
    if let Some(id) = geo
        .get("place_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        let found = places.and_then(Value::as_array).and_then(|all| {
            all.iter()
                .find(|p| p.get("id").and_then(Value::as_str) == Some(id))
        });
        match found {
            Some(p) => {
                out.place = Some(Place {
                    id: Cow::Owned(id.to_string()),
                    name: p.get("name").and_then(text),
                    full_name: p.get("full_name").and_then(text),
                    country_code: p.get("country_code").and_then(text),
                    kind: p.get("place_type").and_then(text),
                });
                bbox = p.pointer("/geo/bbox");
            }
            None => out.problem = Some(GeoProblem::PlaceNotIncluded),
        }
    }
    match geo.get("coordinates").filter(|c| !c.is_null()) {
        Some(c) => match c.get("coordinates").and_then(point) {
            Some(p) => out.location = Some(p),
            None => out.problem = Some(GeoProblem::BadCoordinates),
        },
        None => {
            if let Some(b) = bbox {
                match bbox_centre(b) {
                    Some(p) => out.location = Some(p),
                    None => out.problem = Some(GeoProblem::BadBbox),
                }
            }
        }
    }
    out
}

/// Named regions (`REGIONS_GEOJSON`): a GeoJSON FeatureCollection of Polygon and
/// MultiPolygon features, each with a `name` property, read once at cold start.
#[derive(Debug, Clone, PartialEq)]
pub struct Regions {
    regions: Vec<(String, MultiPolygon<f64>, Rect<f64>)>,
}

const REGIONS_EXPECTED: &str =
    "a readable GeoJSON FeatureCollection of Polygon or MultiPolygon features, each with a \"name\" property";

impl Regions {
    /// Reads the file `path` names.
    pub fn load(path: &str) -> Result<Regions, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| regions_error(path, &e.to_string()))?;
        Regions::parse(&text).map_err(|why| regions_error(path, &why))
    }

    /// Parses a FeatureCollection; the error says which feature is wrong and how.
    pub fn parse(text: &str) -> Result<Regions, String> {
        let collection: geojson::FeatureCollection = text
            .parse()
            .map_err(|e: geojson::Error| format!("not a GeoJSON FeatureCollection: {e}"))?;
        let mut regions = Vec::new();
        for (i, feature) in collection.features.into_iter().enumerate() {
            let name = feature
                .property("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| format!("feature {i} has no \"name\" property"))?
                .to_string();
            let geometry = feature
                .geometry
                .ok_or_else(|| format!("feature {i} ({name}) has no geometry"))?;
            let shape: geo::Geometry<f64> = geometry
                .try_into()
                .map_err(|e: geojson::Error| format!("feature {i} ({name}): {e}"))?;
            let polygons = match shape {
                geo::Geometry::Polygon(p) => MultiPolygon(vec![p]),
                geo::Geometry::MultiPolygon(m) => m,
                other => {
                    return Err(format!(
                        "feature {i} ({name}) is a {}, not a Polygon or MultiPolygon",
                        kind_name(&other)
                    ))
                }
            };
            let bounds = polygons
                .bounding_rect()
                .ok_or_else(|| format!("feature {i} ({name}) has no points"))?;
            regions.push((name, polygons, bounds));
        }
        if regions.is_empty() {
            return Err("the collection has no features".into());
        }
        Ok(Regions { regions })
    }

    /// The first region containing `p`, in file order.
    pub fn find(&self, p: GeoPoint) -> Option<&str> {
        let point = Point::new(p.lon, p.lat);
        self.regions
            .iter()
            .find(|(_, shape, bounds)| bounds.contains(&point) && shape.contains(&point))
            .map(|(name, _, _)| name.as_str())
    }

    /// How many regions there are.
    pub fn len(&self) -> usize {
        self.regions.len()
    }

    /// Whether there are none (never, once loaded).
    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }
}

fn kind_name(g: &geo::Geometry<f64>) -> &'static str {
    match g {
        geo::Geometry::Point(_) => "Point",
        geo::Geometry::Line(_) | geo::Geometry::LineString(_) => "LineString",
        geo::Geometry::MultiPoint(_) => "MultiPoint",
        geo::Geometry::MultiLineString(_) => "MultiLineString",
        geo::Geometry::GeometryCollection(_) => "GeometryCollection",
        _ => "geometry",
    }
}

fn regions_error(path: &str, why: &str) -> ConfigError {
    ConfigError {
        variable: "REGIONS_GEOJSON",
        value: format!("{path}: {why}"),
        expected: REGIONS_EXPECTED,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn located(post: Value) -> Located<'static> {
        locate(post.pointer("/data/geo"), post.pointer("/includes/places"))
    }

    fn place(bbox: Value) -> Value {
        json!([{"id": "p1", "name": "Manhattan", "full_name": "Manhattan, NY", "country_code": "US",
                "place_type": "city", "geo": {"type": "Feature", "bbox": bbox}}])
    }

    #[test]
    fn the_posts_own_point_comes_first_in_geojson_order() {
        let l = located(
            json!({"data": {"geo": {"place_id": "p1", "coordinates": {"type": "Point", "coordinates": [-73.99, 40.73]}}},
                               "includes": {"places": place(json!([-74.03, 40.68, -73.91, 40.88]))}}),
        );
        assert_eq!(
            l.location,
            Some(GeoPoint {
                lat: 40.73,
                lon: -73.99
            })
        );
        let p = l.place.unwrap();
        assert_eq!(
            (p.id.as_ref(), p.kind.as_deref(), p.full_name.as_deref()),
            ("p1", Some("city"), Some("Manhattan, NY"))
        );
        assert_eq!(l.problem, None);
    }

    #[test]
    fn a_place_alone_is_located_at_its_boxs_centre() {
        let l = located(
            json!({"data": {"geo": {"place_id": "p1"}}, "includes": {"places": place(json!([-74.0, 40.0, -73.0, 41.0]))}}),
        );
        assert_eq!(
            l.location,
            Some(GeoPoint {
                lat: 40.5,
                lon: -73.5
            })
        );
        // Across the antimeridian (Fiji: west 177, east -178).
        let l = located(
            json!({"data": {"geo": {"place_id": "p1"}}, "includes": {"places": place(json!([177.0, -19.0, -178.0, -16.0]))}}),
        );
        assert_eq!(
            l.location,
            Some(GeoPoint {
                lat: -17.5,
                lon: 179.5
            })
        );
    }

    #[test]
    fn neither_place_nor_point_is_no_location_and_no_problem() {
        assert_eq!(located(json!({"data": {}})), Located::default());
        assert_eq!(located(json!({"data": {"geo": {}}})), Located::default());
    }

    #[test]
    fn bad_input_loses_only_what_cannot_be_read_and_is_named() {
        let cases = [
            (
                json!({"data": {"geo": {"place_id": "nope"}}, "includes": {"places": place(json!([0, 0, 1, 1]))}}),
                GeoProblem::PlaceNotIncluded,
                false,
            ),
            (
                json!({"data": {"geo": {"place_id": "p1"}}, "includes": {"places": place(json!([0, 0, 1]))}}),
                GeoProblem::BadBbox,
                true,
            ),
            (
                json!({"data": {"geo": {"place_id": "p1"}}, "includes": {"places": place(json!(["a", 0, 1, 1]))}}),
                GeoProblem::BadBbox,
                true,
            ),
            (
                json!({"data": {"geo": {"place_id": "p1"}}, "includes": {"places": place(json!([0, 10, 1, 5]))}}),
                GeoProblem::BadBbox,
                true,
            ),
            (
                json!({"data": {"geo": {"coordinates": {"type": "Point", "coordinates": [10.0, 95.0]}}}}),
                GeoProblem::BadCoordinates,
                false,
            ),
            (
                json!({"data": {"geo": {"coordinates": {"type": "Point", "coordinates": [200.0, 5.0]}}}}),
                GeoProblem::BadCoordinates,
                false,
            ),
            (
                json!({"data": {"geo": {"coordinates": "40.7,-74"}}}),
                GeoProblem::BadCoordinates,
                false,
            ),
            (
                json!({"data": {"geo": {"place_id": "p1"}}, "includes": {"places": 7}}),
                GeoProblem::PlaceNotIncluded,
                false,
            ),
        ];
        for (post, problem, has_place) in cases {
            let l = located(post.clone());
            assert_eq!(l.problem, Some(problem), "{post}");
            assert_eq!(l.location, None, "{post}");
            assert_eq!(l.place.is_some(), has_place, "{post}");
        }
    }

    const REGIONS: &str = r#"{"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "west"},
         "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}},
        {"type": "Feature", "properties": {"name": "east"},
         "geometry": {"type": "MultiPolygon", "coordinates": [[[[1, 0], [2, 0], [2, 1], [1, 1], [1, 0]]], [[[5, 5], [6, 5], [6, 6], [5, 5]]]]}}]}"#;

    #[test]
    fn a_location_gets_the_region_containing_it() {
        let r = Regions::parse(REGIONS).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r.find(GeoPoint { lat: 0.5, lon: 0.5 }), Some("west"));
        assert_eq!(r.find(GeoPoint { lat: 0.5, lon: 1.5 }), Some("east"));
        assert_eq!(r.find(GeoPoint { lat: 5.2, lon: 5.8 }), Some("east"));
        assert_eq!(
            r.find(GeoPoint { lat: 5.8, lon: 5.2 }),
            None,
            "outside the triangle, inside its box"
        );
        assert_eq!(
            r.find(GeoPoint {
                lat: 40.0,
                lon: -74.0
            }),
            None
        );
    }

    #[test]
    fn a_bad_regions_file_names_the_variable_and_the_problem() {
        for (text, want) in [
            ("{}", "not a GeoJSON FeatureCollection"),
            (
                r#"{"type": "FeatureCollection", "features": []}"#,
                "no features",
            ),
            (
                r#"{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [0, 0]}}]}"#,
                "feature 0 has no \"name\" property",
            ),
            (
                r#"{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "x"}, "geometry": {"type": "Point", "coordinates": [0, 0]}}]}"#,
                "feature 0 (x) is a Point, not a Polygon or MultiPolygon",
            ),
        ] {
            let err = Regions::parse(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
        let err = Regions::load("/nonexistent/regions.geojson")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("REGIONS_GEOJSON=\"/nonexistent/regions.geojson: "),
            "{err}"
        );
    }
}
