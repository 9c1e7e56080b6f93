//! The local pipeline's embedded search index: documents on disk in a
//! [tantivy](https://docs.rs/tantivy) index whose schema comes from
//! `kibana/index-template.json`, answering the OpenSearch search requests the dashboards
//! send (`size: 0`, a query, aggregations) with OpenSearch's response shape. Tantivy is a
//! search library built for this: its aggregation requests and results follow the
//! Elasticsearch / OpenSearch JSON (terms, date_histogram with fixed intervals, histogram,
//! range, avg, sum, min, max, stats, extended_stats, cardinality, percentiles), so nothing
//! here aggregates by hand; this crate adds the mapping, OpenSearch's indexing rules
//! (`document.rs`), the query DSL the panels use (`query.rs`), index patterns, and
//! `geohash_grid` / `geo_centroid` rewritten into tantivy's aggregations (`geo.rs`).
//!
//! One writer at a time: a second one on the same directory is refused (tantivy's lock, a
//! file lock the system releases when a process dies). Readers need no lock and see each
//! commit. A document is visible once [`Store::commit`] returns, and durable then.

#![warn(missing_docs)]

mod document;
mod error;
mod geo;
mod query;
mod schema;
pub mod verdict;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{json, Value};
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::{AggContextParams, AggregationCollector, AggregationLimitsGuard};
use tantivy::collector::{Count, DocSetCollector};
use tantivy::directory::error::LockError;
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, RegexQuery};
use tantivy::schema::document::Value as _;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, TantivyError, Term};

pub use document::{parse_date, Refused};
pub use error::StoreError;
pub use schema::{Kind, Mapping};

/// The index template the schema is derived from.
pub const INDEX_TEMPLATE: &str = include_str!("../../index-template.json");

/// Memory for the writer's indexing buffer (one indexing thread: the other core is the
/// transform's).
const WRITER_HEAP: usize = 64 * 1024 * 1024;

/// How a store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The one writer (created when missing).
    Write,
    /// A reader of an existing store, seeing its writer's commits.
    Read,
}

/// An embedded store.
pub struct Store {
    path: PathBuf,
    index: Index,
    mapping: Arc<Mapping>,
    writer: Option<Mutex<IndexWriter>>,
    reader: IndexReader,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the store at `path` under the bundled index template.
    pub fn open(path: &Path, mode: Mode) -> Result<Store, StoreError> {
        Self::open_with(path, mode, INDEX_TEMPLATE)
    }

    /// Opens the store at `path` with the mapping of `template`.
    pub fn open_with(path: &Path, mode: Mode, template: &str) -> Result<Store, StoreError> {
        let mapping = Mapping::from_template(template)?;
        let open_err = |reason: String| StoreError::Open {
            path: path.to_path_buf(),
            reason,
        };
        let exists = path.join("meta.json").exists();
        let index =
            match (exists, mode) {
                (true, _) => Index::open_in_dir(path).map_err(|e| open_err(e.to_string()))?,
                (false, Mode::Read) => return Err(open_err(
                    "no store here (no meta.json): run the local stream first, or name its --out"
                        .into(),
                )),
                (false, Mode::Write) => {
                    std::fs::create_dir_all(path).map_err(|e| open_err(e.to_string()))?;
                    Index::create_in_dir(path, mapping.schema.clone())
                        .map_err(|e| open_err(e.to_string()))?
                }
            };
        if index.schema() != mapping.schema {
            return Err(StoreError::Schema {
                path: path.to_path_buf(),
            });
        }
        let writer = match mode {
            Mode::Read => None,
            Mode::Write => Some(Mutex::new(
                index
                    .writer_with_num_threads(1, WRITER_HEAP)
                    .map_err(|e| match e {
                        TantivyError::LockFailure(LockError::LockBusy, _) => StoreError::Locked {
                            path: path.to_path_buf(),
                        },
                        other => open_err(other.to_string()),
                    })?,
            )),
        };
        let policy = match mode {
            Mode::Write => ReloadPolicy::Manual,
            Mode::Read => ReloadPolicy::OnCommitWithDelay,
        };
        let reader = index
            .reader_builder()
            .reload_policy(policy)
            .try_into()
            .map_err(|e: TantivyError| open_err(e.to_string()))?;
        Ok(Store {
            path: path.to_path_buf(),
            index,
            mapping: Arc::new(mapping),
            writer,
            reader,
        })
    }

    /// Where the store is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The mapping.
    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    /// Adds documents `(id, index, json)` to the next commit, each replacing any document
    /// with its id (as OpenSearch's `index` action does); returns, per document, why it
    /// was refused, if it was. Not visible before [`Store::commit`].
    pub fn add<'a>(
        &self,
        docs: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    ) -> Result<Vec<Option<Refused>>, StoreError> {
        let writer = self.writer()?;
        let writer = writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut outcomes = Vec::new();
        for (id, index, json) in docs {
            match document::build(&self.mapping, id, index, json) {
                Ok(doc) => {
                    writer.delete_term(Term::from_field_text(self.mapping.id, id));
                    writer.add_document(doc).map_err(|e| self.write_err(e))?;
                    outcomes.push(None);
                }
                Err(refused) => outcomes.push(Some(refused)),
            }
        }
        Ok(outcomes)
    }

    /// Makes what was added durable and visible to searches.
    pub fn commit(&self) -> Result<(), StoreError> {
        let writer = self.writer()?;
        let mut writer = writer.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = writer.commit() {
            // What was added since the last commit is dropped with the failure; the caller
            // still holds those documents and decides what becomes of them.
            let _ = writer.rollback();
            return Err(self.write_err(e));
        }
        self.reader.reload().map_err(|e| self.write_err(e))
    }

    fn writer(&self) -> Result<&Mutex<IndexWriter>, StoreError> {
        self.writer.as_ref().ok_or_else(|| StoreError::Write {
            path: self.path.clone(),
            reason: "the store is open for reading".into(),
        })
    }

    fn write_err(&self, e: TantivyError) -> StoreError {
        StoreError::Write {
            path: self.path.clone(),
            reason: e.to_string(),
        }
    }

    /// Documents searchable now.
    pub fn count(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Answers an OpenSearch search request on the indices matching `pattern`
    /// (comma-separated, with `*`; `_all` or `*` for every index): `size: 0`, `query`,
    /// `aggs` / `aggregations`, `track_total_hits`. The response has OpenSearch's shape.
    pub fn search(&self, pattern: &str, body: &Value) -> Result<Value, StoreError> {
        let started = Instant::now();
        let empty = serde_json::Map::new();
        let request = body.as_object().unwrap_or(&empty);
        for (key, value) in request {
            match key.as_str() {
                "query" | "aggs" | "aggregations" | "track_total_hits" | "timeout" => {}
                "size" if value.as_u64() == Some(0) => {}
                other => {
                    return Err(StoreError::Unsupported(format!(
                        "search option [{other}] = {value} (the embedded store answers size 0, query and aggregations)"
                    )))
                }
            }
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if let Some(q) = request.get("query") {
            clauses.push((Occur::Must, query::translate(&self.mapping, q)?));
        }
        if let Some(regex) = pattern_regex(pattern) {
            let q = RegexQuery::from_pattern(&regex, self.mapping.index)
                .map_err(|e| StoreError::Unsupported(format!("index pattern {pattern}: {e}")))?;
            clauses.push((Occur::Must, Box::new(q)));
        }
        let query: Box<dyn Query> = match clauses.len() {
            0 => Box::new(AllQuery),
            _ => Box::new(BooleanQuery::new(clauses)),
        };
        let aggs_json = request
            .get("aggs")
            .or_else(|| request.get("aggregations"))
            .cloned();
        let searcher = self.reader.searcher();
        let search_err = |e: TantivyError| StoreError::Search(e.to_string());
        let (total, aggregations) = match aggs_json {
            None => (
                searcher.search(&*query, &Count).map_err(search_err)?,
                Value::Null,
            ),
            Some(asked) => {
                let aggs: Aggregations =
                    serde_json::from_value(geo::rewrite(&asked, &self.mapping)?)
                        .map_err(|e| StoreError::Unsupported(format!("aggregations: {e}")))?;
                let context = AggContextParams::new(
                    AggregationLimitsGuard::default(),
                    self.index.tokenizers().clone(),
                );
                let collector = AggregationCollector::from_aggs(aggs, context);
                let (total, result) = searcher
                    .search(&*query, &(Count, collector))
                    .map_err(search_err)?;
                let mut result =
                    serde_json::to_value(result).map_err(|e| StoreError::Search(e.to_string()))?;
                geo::restore(&asked, &mut result)?;
                (total, result)
            }
        };
        let mut response = json!({
            "took": started.elapsed().as_millis() as u64,
            "timed_out": false,
            "hits": {"total": {"value": total, "relation": "eq"}, "max_score": null, "hits": []},
        });
        if !aggregations.is_null() {
            response["aggregations"] = aggregations;
        }
        Ok(response)
    }

    /// Writes every document as NDJSON, one file per index (`DIR/INDEX.ndjson`); returns
    /// the files' names and documents.
    pub fn export(&self, dir: &Path) -> Result<Vec<(String, u64)>, StoreError> {
        use std::collections::BTreeMap;
        use std::io::Write;
        let export_err = |reason: String| StoreError::Write {
            path: dir.to_path_buf(),
            reason,
        };
        std::fs::create_dir_all(dir).map_err(|e| export_err(e.to_string()))?;
        let searcher = self.reader.searcher();
        let addresses = searcher
            .search(&AllQuery, &DocSetCollector)
            .map_err(|e| StoreError::Search(e.to_string()))?;
        let mut addresses: Vec<_> = addresses.into_iter().collect();
        addresses.sort();
        let mut files: BTreeMap<String, (std::io::BufWriter<std::fs::File>, u64)> = BTreeMap::new();
        for address in addresses {
            let doc: TantivyDocument = searcher
                .doc(address)
                .map_err(|e| StoreError::Search(e.to_string()))?;
            let source = doc
                .get_first(self.mapping.source)
                .and_then(|v| v.as_str())
                .unwrap_or("{}");
            let index = doc
                .get_first(self.mapping.index)
                .and_then(|v| v.as_str())
                .unwrap_or("unknown");
            let entry = match files.get_mut(index) {
                Some(entry) => entry,
                None => {
                    let file = std::fs::File::create(dir.join(format!("{index}.ndjson")))
                        .map_err(|e| export_err(e.to_string()))?;
                    files
                        .entry(index.to_string())
                        .or_insert((std::io::BufWriter::new(file), 0))
                }
            };
            writeln!(entry.0, "{source}").map_err(|e| export_err(e.to_string()))?;
            entry.1 += 1;
        }
        let mut written = Vec::new();
        for (index, (mut file, n)) in files {
            file.flush().map_err(|e| export_err(e.to_string()))?;
            written.push((format!("{index}.ndjson"), n));
        }
        Ok(written)
    }
}

/// The regular expression on `_index` for an index pattern; `None` for every index.
fn pattern_regex(pattern: &str) -> Option<String> {
    let parts: Vec<&str> = pattern
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() || parts.iter().any(|p| *p == "*" || *p == "_all") {
        return None;
    }
    let alternatives: Vec<String> = parts
        .iter()
        .map(|p| {
            p.split('*')
                .map(regex::escape)
                .collect::<Vec<_>>()
                .join(".*")
        })
        .collect();
    Some(format!("({})", alternatives.join("|")))
}

#[cfg(test)]
mod tests;
