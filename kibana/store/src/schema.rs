//! The tantivy schema, derived from the index template's mapping (the one source of it):
//! every mapped field becomes a tantivy field under its dotted path (`sentiment.score`,
//! `text.keyword`), indexed and columnar (tantivy's fast fields, which aggregations read),
//! so a panel can aggregate on whatever the template maps as aggregatable. Beside them:
//! `_id` (a redelivered document replaces itself), `_index` (the rotated index name) and
//! `_source` (the document as delivered, for the NDJSON export).

use std::collections::BTreeMap;

use serde_json::Value;
use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, IndexRecordOption, NumericOptions, Schema,
    TextFieldIndexing, TextOptions, STORED, STRING, TEXT,
};

use crate::StoreError;

/// What a mapped field holds, as the template says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `keyword`: one untokenized term per value, aggregatable; longer values than
    /// `ignore_above` characters are not indexed (as OpenSearch does).
    Keyword {
        /// OpenSearch's `ignore_above`.
        ignore_above: Option<usize>,
    },
    /// `text`: tokenized for search, not aggregatable.
    Text,
    /// `date` (`strict_date_optional_time` or epoch milliseconds).
    Date,
    /// `long`.
    Long,
    /// `integer` (32 bits).
    Integer,
    /// `float` / `double`.
    Float,
    /// `boolean`.
    Boolean,
    /// `geo_point`, written `{"lat": …, "lon": …}`: kept as two float fields,
    /// `PATH.lat` and `PATH.lon` (tantivy has no geo type), so a point map can read them.
    GeoPoint,
}

impl Kind {
    /// The OpenSearch type name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Keyword { .. } => "keyword",
            Kind::Text => "text",
            Kind::Date => "date",
            Kind::Long => "long",
            Kind::Integer => "integer",
            Kind::Float => "float",
            Kind::Boolean => "boolean",
            Kind::GeoPoint => "geo_point",
        }
    }
}

/// A mapping node: an object with properties, or a leaf (with its `fields` sub-fields).
#[derive(Debug, Clone)]
pub enum Node {
    /// An object (`properties`).
    Object(BTreeMap<String, Node>),
    /// A value field and its multi-fields (`text` + `text.keyword`).
    Leaf {
        /// The field itself.
        field: Field,
        /// Its type.
        kind: Kind,
        /// `fields`: the same value indexed again under `PATH.NAME`.
        subfields: Vec<(Field, Kind)>,
    },
}

/// The schema and where each mapped path is.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// The tantivy schema.
    pub schema: Schema,
    /// The mapping tree (the root object's properties).
    pub root: BTreeMap<String, Node>,
    /// Every value field by dotted path (sub-fields included), with its type.
    pub fields: BTreeMap<String, (Field, Kind)>,
    /// `_id`.
    pub id: Field,
    /// `_index`.
    pub index: Field,
    /// `_source`.
    pub source: Field,
}

impl Mapping {
    /// The mapping of an index template (`{"template": {"mappings": {...}}}`, or a bare
    /// `{"mappings": ...}` / `{"properties": ...}`).
    pub fn from_template(template: &str) -> Result<Mapping, StoreError> {
        let bad = |m: String| StoreError::Template(m);
        let t: Value = serde_json::from_str(template).map_err(|e| bad(format!("not JSON: {e}")))?;
        let mappings = t
            .pointer("/template/mappings")
            .or_else(|| t.get("mappings"))
            .unwrap_or(&t);
        let properties = mappings
            .get("properties")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("no mappings.properties".into()))?;
        let mut builder = Schema::builder();
        let mut fields = BTreeMap::new();
        let root = object(&mut builder, &mut fields, "", properties)?;
        let id = builder.add_text_field("_id", STRING);
        let index = builder.add_text_field("_index", keyword_options().set_stored());
        let source = builder.add_text_field("_source", STORED);
        Ok(Mapping {
            schema: builder.build(),
            root,
            fields,
            id,
            index,
            source,
        })
    }

    /// The field at a dotted path, if the template maps it.
    pub fn field(&self, path: &str) -> Option<(Field, Kind)> {
        self.fields.get(path).copied()
    }
}

fn keyword_options() -> TextOptions {
    TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_index_option(IndexRecordOption::Basic),
        )
        .set_fast("raw")
}

fn add(builder: &mut tantivy::schema::SchemaBuilder, path: &str, kind: Kind) -> Field {
    let numeric = NumericOptions::default().set_indexed().set_fast();
    match kind {
        Kind::Keyword { .. } => builder.add_text_field(path, keyword_options()),
        Kind::Text => builder.add_text_field(path, TEXT),
        Kind::Date => builder.add_date_field(
            path,
            DateOptions::default()
                .set_indexed()
                .set_fast()
                .set_precision(DateTimePrecision::Milliseconds),
        ),
        Kind::Long | Kind::Integer => builder.add_i64_field(path, numeric),
        Kind::Float | Kind::GeoPoint => builder.add_f64_field(path, numeric),
        Kind::Boolean => builder.add_bool_field(path, numeric),
    }
}

fn kind_of(path: &str, spec: &Value) -> Result<Kind, StoreError> {
    let ty = spec.get("type").and_then(Value::as_str).unwrap_or("object");
    Ok(match ty {
        "keyword" => Kind::Keyword {
            ignore_above: spec
                .get("ignore_above")
                .and_then(Value::as_u64)
                .map(|n| n as usize),
        },
        "text" => Kind::Text,
        "date" => Kind::Date,
        "long" => Kind::Long,
        "integer" | "short" | "byte" => Kind::Integer,
        "float" | "double" | "half_float" => Kind::Float,
        "boolean" => Kind::Boolean,
        "geo_point" => Kind::GeoPoint,
        other => {
            return Err(StoreError::Template(format!(
                "field [{path}] has type [{other}], which the embedded store does not map"
            )))
        }
    })
}

fn object(
    builder: &mut tantivy::schema::SchemaBuilder,
    fields: &mut BTreeMap<String, (Field, Kind)>,
    prefix: &str,
    properties: &serde_json::Map<String, Value>,
) -> Result<BTreeMap<String, Node>, StoreError> {
    let mut nodes = BTreeMap::new();
    for (name, spec) in properties {
        let path = format!("{prefix}{name}");
        let node = match spec.get("properties").and_then(Value::as_object) {
            Some(children) => Node::Object(object(builder, fields, &format!("{path}."), children)?),
            None if kind_of(&path, spec)? == Kind::GeoPoint => {
                // The point's field is its latitude; its one sub-field the longitude.
                let lat = add(builder, &format!("{path}.lat"), Kind::GeoPoint);
                let lon = add(builder, &format!("{path}.lon"), Kind::Float);
                fields.insert(path.clone(), (lat, Kind::GeoPoint));
                fields.insert(format!("{path}.lat"), (lat, Kind::Float));
                fields.insert(format!("{path}.lon"), (lon, Kind::Float));
                Node::Leaf {
                    field: lat,
                    kind: Kind::GeoPoint,
                    subfields: vec![(lon, Kind::Float)],
                }
            }
            None => {
                let kind = kind_of(&path, spec)?;
                let field = add(builder, &path, kind);
                fields.insert(path.clone(), (field, kind));
                let mut subfields = Vec::new();
                if let Some(multi) = spec.get("fields").and_then(Value::as_object) {
                    for (sub, sub_spec) in multi {
                        let sub_path = format!("{path}.{sub}");
                        let sub_kind = kind_of(&sub_path, sub_spec)?;
                        let sub_field = add(builder, &sub_path, sub_kind);
                        fields.insert(sub_path, (sub_field, sub_kind));
                        subfields.push((sub_field, sub_kind));
                    }
                }
                Node::Leaf {
                    field,
                    kind,
                    subfields,
                }
            }
        };
        nodes.insert(name.clone(), node);
    }
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_of_the_template_is_mapped_under_its_dotted_path() {
        let m = Mapping::from_template(crate::INDEX_TEMPLATE).expect("template");
        assert_eq!(m.field("sentiment.score").map(|f| f.1), Some(Kind::Float));
        assert_eq!(
            m.field("categories").map(|f| f.1),
            Some(Kind::Keyword { ignore_above: None })
        );
        assert_eq!(
            m.field("text.keyword").map(|f| f.1),
            Some(Kind::Keyword {
                ignore_above: Some(512)
            })
        );
        assert_eq!(m.field("created_at").map(|f| f.1), Some(Kind::Date));
        assert_eq!(m.field("metrics.engagement").map(|f| f.1), Some(Kind::Long));
        assert!(
            m.field("sentiment").is_none(),
            "objects are not value fields"
        );
    }

    #[test]
    fn a_type_the_store_cannot_map_is_named() {
        let err =
            Mapping::from_template(r#"{"mappings": {"properties": {"p": {"type": "geo_shape"}}}}"#)
                .expect_err("geo_shape");
        assert!(
            err.to_string().contains("[p] has type [geo_shape]"),
            "{err}"
        );
    }
}
