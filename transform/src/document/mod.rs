//! The document we deliver to OpenSearch, and how a post becomes one.
//!
//! A [`StreamPost`] plus the record's arrival time come in; a [`Document`] goes out
//! (one single-line, snake_case JSON object with a `schema_version`), or the reason the
//! policy drops the post. `kibana/index-template.json` maps exactly these fields; a field
//! renamed here is renamed there in the same commit.

//!
//! Modules: [`clean`] (the policy, and a post's fields to a document's), [`geo`] (place,
//! location and region), [`write`] (the
//! document as one JSON line, by hand), [`time`] (ISO-8601 times), [`text`] (text and
//! list normalisation).

use std::borrow::Cow;

use serde::Serialize;

use crate::post::List;
use crate::sentiment::Sentiment;

mod clean;
pub mod geo;
mod text;
mod time;
mod write;

pub use clean::{clean, clean_into};

pub use time::{iso, ArrivalClock, IsoTime};

/// Version of the document schema; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// `category` of a post that matched no tagged rule.
pub const UNCATEGORIZED: &str = "uncategorized";
/// `category` of a post that matched rules with different tags (with `MULTI_CATEGORY=multiple`).
pub const MULTIPLE: &str = "multiple";

/// One cleaned post, as indexed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Document<'a> {
    /// Schema version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Post id at the source.
    pub post_id: Cow<'a, str>,
    /// `x` or `bluesky`.
    pub source: Cow<'a, str>,
    /// Text with HTML entities decoded.
    pub text: Cow<'a, str>,
    /// Length of `text` in Unicode characters.
    pub text_length: u32,
    /// Language code from the source.
    pub lang: Option<Cow<'a, str>>,
    /// When the post was created (ISO-8601 UTC, milliseconds).
    pub created_at: Option<Cow<'a, str>>,
    /// When the record reached Firehose.
    pub arrived_at: IsoTime,
    /// When this Lambda invocation processed it.
    pub processed_at: &'a str,
    /// The author.
    pub author: Author<'a>,
    /// Primary category.
    pub category: Cow<'a, str>,
    /// Every matching rule tag, de-duplicated, in rule order.
    pub categories: List<Cow<'a, str>, 2>,
    /// Public metrics.
    pub metrics: Metrics,
    /// Whether media is attached.
    pub has_media: bool,
    /// Types of the attached media (`photo`, `video`, `animated_gif`), de-duplicated.
    pub media_types: List<Cow<'a, str>, 2>,
    /// Hashtags, lower-cased, de-duplicated, without `#`.
    pub hashtags: List<Cow<'a, str>, 2>,
    /// Mentioned usernames, lower-cased, de-duplicated, without `@`.
    pub mentions: List<Cow<'a, str>, 2>,
    /// Number of links in the text.
    pub url_count: u32,
    /// A retweet (`referenced_tweets` type `retweeted`, or text starting `RT @`).
    pub is_retweet: bool,
    /// A reply.
    pub is_reply: bool,
    /// A quote post.
    pub is_quote: bool,
    /// Where it was posted from (`geo.place_id` in `includes.places`).
    pub place: Option<geo::Place<'a>>,
    /// The post's point, or its place's centre.
    pub location: Option<geo::GeoPoint>,
    /// The `REGIONS_GEOJSON` region containing `location`.
    pub region: Option<Cow<'a, str>>,
    /// What of its `geo` could not be read (counted, not written).
    #[serde(skip)]
    pub geo_problem: Option<geo::GeoProblem>,
    /// Sentiment of `text`, `null` when none was computed.
    pub sentiment: Option<Sentiment>,
}

/// The `author` object of a document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Author<'a> {
    /// User id.
    pub id: Option<Cow<'a, str>>,
    /// Handle, from `includes.users`.
    pub username: Option<Cow<'a, str>>,
    /// Display name, from `includes.users`.
    pub name: Option<Cow<'a, str>>,
    /// Followers, from `includes.users`.
    pub followers: Option<u64>,
}

/// The `metrics` object of a document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Metrics {
    /// Retweets.
    pub retweets: u64,
    /// Replies.
    pub replies: u64,
    /// Likes.
    pub likes: u64,
    /// Quote posts.
    pub quotes: u64,
    /// Impressions, when the source reports them.
    pub impressions: Option<u64>,
    /// Bookmarks, when the source reports them.
    pub bookmarks: Option<u64>,
    /// retweets + replies + likes + quotes (+ bookmarks when present).
    pub engagement: u64,
}

/// Why the policy drops a post on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// A retweet, with `DROP_RETWEETS` on.
    Retweet,
    /// A language outside `LANGUAGES`.
    Language,
    /// Text shorter than `MIN_TEXT_LENGTH`.
    TooShort,
}

impl DropReason {
    /// Stable snake_case name, for counters and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Retweet => "retweet",
            DropReason::Language => "language",
            DropReason::TooShort => "too_short",
        }
    }
}

/// What cleaning made of a post.
#[derive(Debug, Clone, PartialEq)]
// Not boxed: the handler uses `clean_into` (documents built in their batch's vector);
// this is what `clean`, the one-post form, returns.
#[allow(clippy::large_enum_variant)]
pub enum Cleaned<'a> {
    /// Keep: the document, with `sentiment` still to fill.
    Keep(Document<'a>),
    /// Filtered on purpose.
    Drop(DropReason),
}

#[cfg(test)]
mod tests;
