//! A batch's buffers: its decoded payloads in one buffer its documents borrow from
//! ([`Payloads`]), its documents as JSON lines and base64 in one shared string
//! ([`DocumentLines`]); and the per-record bookkeeping between the stages.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::ResponseTooLarge;
use crate::document::Document;
use crate::error::RecordError;
use crate::firehose::{wire_len, FirehoseRecord, RecordResult, ResponseRecord};
use crate::post::StreamPost;

/// A batch's documents as JSON lines, then as base64 in one string that the batch's `Ok`
/// records share: one allocation per batch, where a string per record cost an allocation
/// and a free each (7 % of the handler's time on the bench event).
#[derive(Default)]
pub(super) struct DocumentLines {
    /// The JSON lines, one after another (reused from batch to batch).
    pub(super) json: Vec<u8>,
    /// Where each document's line ends in `json`.
    pub(super) ends: Vec<usize>,
    /// Each document's base64 in the shared string.
    pub(super) base64: Vec<std::ops::Range<usize>>,
}

impl DocumentLines {
    /// Writes `docs` (each line ending in `\n`) and returns the string of their base64.
    pub(super) fn write(&mut self, docs: &[Document<'_>]) -> Arc<String> {
        self.json.clear();
        self.ends.clear();
        self.base64.clear();
        let mut size = 0;
        for doc in docs {
            let from = self.json.len();
            doc.write_json(&mut self.json);
            self.json.push(b'\n');
            self.ends.push(self.json.len());
            size += (self.json.len() - from).div_ceil(3) * 4;
        }
        let mut text = String::with_capacity(size);
        let mut from = 0;
        for &end in &self.ends {
            let at = text.len();
            base64_simd::STANDARD.encode_append(&self.json[from..end], &mut text);
            self.base64.push(at..text.len());
            from = end;
        }
        Arc::new(text)
    }
}

/// Where one record stands between decoding and encoding.
pub(super) enum Stage {
    /// Kept: the index of its document in the batch's documents.
    Keep(usize),
    Dropped(&'static str),
    Failed(RecordError),
}

/// A batch's decoded payloads in one buffer, so its documents can borrow from it.
pub(super) struct Payloads {
    pub(super) bytes: Vec<u8>,
    /// Per record: the payload's range in `bytes`, or why `data` is not base64.
    pub(super) ranges: Vec<Result<std::ops::Range<usize>, RecordError>>,
}

impl Payloads {
    pub(super) fn with_capacity(records: usize) -> Self {
        Payloads {
            bytes: Vec::new(),
            ranges: Vec::with_capacity(records),
        }
    }

    /// Decodes a batch in place of the previous one (the buffers are reused).
    pub(super) fn refill(&mut self, records: &[FirehoseRecord]) {
        self.bytes.clear();
        self.ranges.clear();
        self.bytes
            .reserve(records.iter().map(|r| r.data.len() / 4 * 3).sum());
        for record in records {
            let start = self.bytes.len();
            let range = match base64_simd::STANDARD
                .decode_append(record.data.as_bytes(), &mut self.bytes)
            {
                Ok(()) => Ok(start..self.bytes.len()),
                Err(_) => {
                    self.bytes.truncate(start);
                    // The SIMD decoder does not say where; the scalar one does (error path only).
                    let detail = STANDARD
                        .decode(record.data.as_bytes())
                        .err()
                        .map_or_else(|| "not canonical".to_string(), |e| e.to_string());
                    Err(RecordError::NotBase64(detail))
                }
            };
            self.ranges.push(range);
        }
    }
}

/// Parses one post: the one-pass [`scan`](crate::json::scan) reader first; when it declines,
/// `serde_json` decides, so the outcome and the error message (position only, never the
/// text) are serde_json's.
pub(super) fn parse_post<'a>(text: &'a str, post: &mut StreamPost<'a>) -> Result<(), RecordError> {
    if !crate::json::scan::post_into(text, post) {
        *post = serde_json::from_str(text).map_err(|err| RecordError::from_json(&err))?;
    }
    Ok(())
}

/// Brings the response under `limit` by returning `Ok` records as `ProcessingFailed`
/// with their original data, most bytes saved first; `size` is the response's size as it
/// stands. Returns the indexes changed and the response's final size.
pub(super) fn fit_to_limit(
    input: &[FirehoseRecord],
    records: &mut [ResponseRecord],
    mut size: usize,
    limit: usize,
) -> Result<(Vec<usize>, usize), ResponseTooLarge> {
    if size <= limit {
        return Ok((Vec::new(), size));
    }
    let mut savings: Vec<(usize, usize)> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.result == RecordResult::Ok)
        .filter_map(|(i, r)| {
            let as_failed = wire_len(&r.record_id, RecordResult::ProcessingFailed, &input[i].data);
            r.wire_len().checked_sub(as_failed).map(|saved| (i, saved))
        })
        .filter(|&(_, saved)| saved > 0)
        .collect();
    // Most bytes saved first; ties by position, so the choice is deterministic.
    savings.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut changed = Vec::new();
    for (i, saved) in savings {
        if size <= limit {
            break;
        }
        records[i].result = RecordResult::ProcessingFailed;
        records[i].data = input[i].data.clone().into();
        size -= saved;
        changed.push(i);
    }
    if size > limit {
        return Err(ResponseTooLarge { size, limit });
    }
    changed.sort_unstable();
    Ok((changed, size))
}

/// Where the response's record ids come from.
pub(super) enum Ids<'e> {
    /// Copied from a borrowed event.
    Copy(&'e [FirehoseRecord]),
    /// Moved out of the event (left empty).
    Take(&'e mut [FirehoseRecord]),
}

impl Ids<'_> {
    pub(super) fn records(&self) -> &[FirehoseRecord] {
        match self {
            Ids::Copy(records) => records,
            Ids::Take(records) => records,
        }
    }

    /// The record id of record `i`, for its response record.
    pub(super) fn id(&mut self, i: usize) -> String {
        match self {
            Ids::Copy(records) => records[i].record_id.clone(),
            Ids::Take(records) => std::mem::take(&mut records[i].record_id),
        }
    }
}

/// An empty vector of another element type with the same layout, on the same allocation
/// (the standard library collects in place): a batch's vector serves the next batch, whose
/// elements borrow from another buffer.
pub(super) fn recycle<T, U>(items: Vec<T>) -> Vec<U> {
    items.into_iter().filter_map(|_| None).collect()
}

/// The record ids answered so far, by hash: for each hash the index of the first response
/// record with it (ids are compared in the response, where they were moved); the rare
/// records whose id is new but whose hash is not are kept apart and searched in full.
pub(super) struct SeenIds<H = IdHasher> {
    pub(super) first: HashMap<u64, usize, BuildHasherDefault<IdHasher>>,
    pub(super) apart: Vec<usize>,
    pub(super) repeats: u64,
    pub(super) hasher: std::marker::PhantomData<H>,
}

impl<H: Hasher + Default> SeenIds<H> {
    pub(super) fn with_capacity(records: usize) -> Self {
        SeenIds {
            first: HashMap::with_capacity_and_hasher(records, BuildHasherDefault::default()),
            apart: Vec::new(),
            repeats: 0,
            hasher: std::marker::PhantomData,
        }
    }

    /// Counts `id` (of record `i`) as a repeat when one of `answered` has it.
    pub(super) fn check(&mut self, id: &str, i: usize, answered: &[ResponseRecord]) {
        let mut hasher = H::default();
        hasher.write(id.as_bytes());
        let same = |j: &usize| answered[*j].record_id == id;
        match self.first.entry(hasher.finish()) {
            Entry::Vacant(slot) => {
                slot.insert(i);
            }
            Entry::Occupied(first) if same(first.get()) => self.repeats += 1,
            Entry::Occupied(_) => {
                if self.apart.iter().any(same) {
                    self.repeats += 1;
                } else {
                    self.apart.push(i);
                }
            }
        }
    }
}

/// A fast multiply-rotate hash for record ids (Firehose makes them; nobody can choose
/// them to collide), in place of the standard library's SipHash.
#[derive(Default)]
pub(super) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
