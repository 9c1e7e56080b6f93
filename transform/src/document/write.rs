//! A document as one compact JSON object, written by hand: the bytes `serde_json::to_vec`
//! makes of it (`document::tests` and `tests/fast_paths.rs` hold the two side by side).
//! Written by hand because it is worth 22 % of the handler's time on a full 3 MB
//! buffer: 0.24 ms against serde_json's 0.85 ms for 1,975 documents, the handler taking
//! 2.78 ms (`cargo bench -p transform --bench transform -- write_3mb`, results in
//! `transform/benches/RESULTS.md`).

use super::Document;
use crate::json::write::{boolean, opt_string, opt_uint, string, strings, uint};

impl Document<'_> {
    /// Appends this document as one compact JSON object: the bytes `serde_json::to_vec`
    /// makes of it, written directly (the transform's hot path).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let a = &self.author;
        let m = &self.metrics;
        out.extend_from_slice(b"{\"schema_version\":");
        uint(out, u64::from(self.schema_version));
        out.extend_from_slice(b",\"post_id\":");
        string(out, &self.post_id);
        out.extend_from_slice(b",\"source\":");
        string(out, &self.source);
        out.extend_from_slice(b",\"text\":");
        string(out, &self.text);
        out.extend_from_slice(b",\"text_length\":");
        uint(out, u64::from(self.text_length));
        out.extend_from_slice(b",\"lang\":");
        opt_string(out, self.lang.as_deref());
        out.extend_from_slice(b",\"created_at\":");
        opt_string(out, self.created_at.as_deref());
        out.extend_from_slice(b",\"arrived_at\":\"");
        // Digits and ISO-8601 punctuation only: nothing to check or escape.
        out.extend_from_slice(self.arrived_at.as_bytes());
        out.push(b'"');
        out.extend_from_slice(b",\"processed_at\":");
        string(out, self.processed_at);
        out.extend_from_slice(b",\"author\":{\"id\":");
        opt_string(out, a.id.as_deref());
        out.extend_from_slice(b",\"username\":");
        opt_string(out, a.username.as_deref());
        out.extend_from_slice(b",\"name\":");
        opt_string(out, a.name.as_deref());
        out.extend_from_slice(b",\"followers\":");
        opt_uint(out, a.followers);
        out.extend_from_slice(b"},\"category\":");
        string(out, &self.category);
        out.extend_from_slice(b",\"categories\":");
        strings(out, &self.categories);
        out.extend_from_slice(b",\"metrics\":{\"retweets\":");
        uint(out, m.retweets);
        out.extend_from_slice(b",\"replies\":");
        uint(out, m.replies);
        out.extend_from_slice(b",\"likes\":");
        uint(out, m.likes);
        out.extend_from_slice(b",\"quotes\":");
        uint(out, m.quotes);
        out.extend_from_slice(b",\"impressions\":");
        opt_uint(out, m.impressions);
        out.extend_from_slice(b",\"bookmarks\":");
        opt_uint(out, m.bookmarks);
        out.extend_from_slice(b",\"engagement\":");
        uint(out, m.engagement);
        out.extend_from_slice(b"},\"has_media\":");
        boolean(out, self.has_media);
        out.extend_from_slice(b",\"media_types\":");
        strings(out, &self.media_types);
        out.extend_from_slice(b",\"hashtags\":");
        strings(out, &self.hashtags);
        out.extend_from_slice(b",\"mentions\":");
        strings(out, &self.mentions);
        out.extend_from_slice(b",\"url_count\":");
        uint(out, u64::from(self.url_count));
        out.extend_from_slice(b",\"is_retweet\":");
        boolean(out, self.is_retweet);
        out.extend_from_slice(b",\"is_reply\":");
        boolean(out, self.is_reply);
        out.extend_from_slice(b",\"is_quote\":");
        boolean(out, self.is_quote);
        out.extend_from_slice(b",\"place\":");
        match &self.place {
            Some(p) => {
                out.extend_from_slice(b"{\"id\":");
                string(out, &p.id);
                out.extend_from_slice(b",\"name\":");
                opt_string(out, p.name.as_deref());
                out.extend_from_slice(b",\"full_name\":");
                opt_string(out, p.full_name.as_deref());
                out.extend_from_slice(b",\"country_code\":");
                opt_string(out, p.country_code.as_deref());
                out.extend_from_slice(b",\"type\":");
                opt_string(out, p.kind.as_deref());
                out.push(b'}');
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"location\":");
        serialized(out, self.location.as_ref());
        out.extend_from_slice(b",\"region\":");
        opt_string(out, self.region.as_deref());
        out.extend_from_slice(b",\"sentiment\":");
        serialized(out, self.sentiment.as_ref());
        out.push(b'}');
    }
}

/// A small object of floats (sentiment, a point), or `null`: serde writes it.
fn serialized<T: serde::Serialize>(out: &mut Vec<u8>, value: Option<&T>) {
    match value {
        Some(v) => {
            let start = out.len();
            if serde_json::to_writer(&mut *out, v).is_err() {
                out.truncate(start);
                out.extend_from_slice(b"null");
            }
        }
        None => out.extend_from_slice(b"null"),
    }
}
