//! The document we deliver to OpenSearch, and how a post becomes one.
//!
//! A [`StreamPost`] plus the record's arrival time come in; a [`Document`] goes out
//! (one single-line, snake_case JSON object with a `schema_version`), or the reason the
//! policy drops the post. `kibana/index-template.json` maps exactly these fields; a field
//! renamed here is renamed there in the same commit.

use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::Serialize;

use crate::config::{Config, MultiCategory};
use crate::error::RecordError;
use crate::post::{List, StreamPost};
use crate::sentiment::Sentiment;

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
    /// Sentiment of `text`, `null` when none was computed.
    pub sentiment: Option<Sentiment>,
}

impl Document<'_> {
    /// Appends this document as one compact JSON object: the bytes `serde_json::to_vec`
    /// makes of it, written directly (the transform's hot path).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        use crate::write::{boolean, opt_string, opt_uint, string, strings, uint};
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
        out.extend_from_slice(b",\"sentiment\":");
        match &self.sentiment {
            // A small object of floats: serde writes it.
            Some(s) => {
                let start = out.len();
                if serde_json::to_writer(&mut *out, s).is_err() {
                    out.truncate(start);
                    out.extend_from_slice(b"null");
                }
            }
            None => out.extend_from_slice(b"null"),
        }
        out.push(b'}');
    }
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

/// An ISO-8601 UTC time, held inline: a document's arrival time costs no allocation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IsoTime {
    len: u8,
    bytes: [u8; 32],
}

impl IsoTime {
    /// Holds `text` (at most 32 bytes: chrono's longest RFC 3339 form is 27).
    fn new(text: &str) -> Self {
        let mut bytes = [0u8; 32];
        let len = text.len().min(32);
        bytes[..len].copy_from_slice(&text.as_bytes()[..len]);
        IsoTime {
            len: len as u8,
            bytes,
        }
    }

    /// The time's bytes (ASCII).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The time as text.
    pub fn as_str(&self) -> &str {
        // Built from a `&str` cut at its end (or ASCII digits): always valid.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl std::fmt::Debug for IsoTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for IsoTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for IsoTime {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for IsoTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Formats milliseconds since the epoch as ISO-8601 UTC with milliseconds.
pub fn iso_millis(ms: i64) -> IsoTime {
    // Years 1970..=9999 by hand (every arrival time), the rest through chrono.
    const MAX_MS: i64 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
    if (0..=MAX_MS).contains(&ms) {
        let days = ms / 86_400_000;
        let in_day = ms % 86_400_000;
        let (year, month, day) = civil_from_days(days);
        let (h, m, sec, milli) = (
            in_day / 3_600_000,
            in_day / 60_000 % 60,
            in_day / 1000 % 60,
            in_day % 1000,
        );
        let mut bytes = [0u8; 32];
        let mut put = |at: usize, value: i64, width: usize| {
            let mut v = value;
            for i in (at..at + width).rev() {
                bytes[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, year, 4);
        put(5, month, 2);
        put(8, day, 2);
        put(11, h, 2);
        put(14, m, 2);
        put(17, sec, 2);
        put(20, milli, 3);
        for (at, sep) in [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'.'),
            (23, b'Z'),
        ] {
            bytes[at] = sep;
        }
        return IsoTime { len: 24, bytes };
    }
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => IsoTime::new(&t.to_rfc3339_opts(SecondsFormat::Millis, true)),
        None => IsoTime::new(&iso(DateTime::<Utc>::UNIX_EPOCH)),
    }
}

/// Year, month, day of a day count since 1970-01-01 (non-negative), proleptic Gregorian
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Formats a time as ISO-8601 UTC with milliseconds.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Formats arrival times ([`iso_millis`]) for one invocation: a time in the same second as
/// the one before it (a Firehose buffer holds tens of records per second) takes that
/// time's text and writes only its milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct ArrivalClock {
    /// The last time formatted by hand, as whole seconds since the epoch (-1: none).
    second: i64,
    time: IsoTime,
}

impl Default for ArrivalClock {
    fn default() -> Self {
        ArrivalClock {
            second: -1,
            time: IsoTime::new(""),
        }
    }
}

impl ArrivalClock {
    /// `ms` as [`iso_millis`] formats it.
    pub fn format(&mut self, ms: i64) -> IsoTime {
        if ms >= 0 && ms / 1000 == self.second {
            let mut time = self.time;
            let milli = ms % 1000;
            time.bytes[20] = b'0' + (milli / 100) as u8;
            time.bytes[21] = b'0' + (milli / 10 % 10) as u8;
            time.bytes[22] = b'0' + (milli % 10) as u8;
            return time;
        }
        let time = iso_millis(ms);
        // Only the hand-made form (years 1970..=9999, 24 bytes) has its milliseconds at 20.
        if ms >= 0 && time.len == 24 {
            self.second = ms / 1000;
            self.time = time;
        }
        time
    }
}

/// Turns a post into a document, or says why the policy drops it.
///
/// `arrival_ms` is the record's `approximateArrivalTimestamp`; `processed_at` is the
/// invocation's time, already formatted.
pub fn clean<'a>(
    mut post: StreamPost<'a>,
    arrival_ms: i64,
    processed_at: &'a str,
    config: &Config,
) -> Result<Cleaned<'a>, RecordError> {
    let mut kept = Vec::with_capacity(1);
    let dropped = clean_into(
        &mut post,
        iso_millis(arrival_ms),
        processed_at,
        config,
        &mut kept,
    )?;
    Ok(match (dropped, kept.pop()) {
        (Some(reason), _) => Cleaned::Drop(reason),
        (None, Some(doc)) => Cleaned::Keep(doc),
        (None, None) => unreachable!("clean_into pushes the document of a post it keeps"),
    })
}

/// [`clean`] for the handler: the arrival time already formatted (see [`ArrivalClock`]),
/// what it uses taken out of `post` (read in place, not moved), and a kept post's
/// document pushed onto `docs` (built in its place there). `Ok(None)`: kept;
/// `Ok(Some(reason))`: dropped on purpose.
pub fn clean_into<'a>(
    post: &mut StreamPost<'a>,
    arrived_at: IsoTime,
    processed_at: &'a str,
    config: &Config,
    docs: &mut Vec<Document<'a>>,
) -> Result<Option<DropReason>, RecordError> {
    use std::mem::take;
    let StreamPost {
        data,
        includes,
        matching_rules,
        source,
    } = post;
    if data.id.is_empty() {
        return Err(RecordError::EmptyField("data.id"));
    }
    let (has_entities, chars) = crate::scan::amp_and_chars(&data.text);
    let (text, text_length) = if has_entities {
        let text = decode_entities(take(&mut data.text));
        let chars = text.chars().count();
        (text, chars)
    } else {
        (take(&mut data.text), chars)
    };
    let is_retweet =
        data.referenced_tweets.iter().any(|r| r.kind == "retweeted") || text.starts_with("RT @");
    if is_retweet && config.drop_retweets {
        return Ok(Some(DropReason::Retweet));
    }
    let lang = data.lang.take().map(ascii_lower);
    if let Some(allowed) = &config.languages {
        if !lang
            .as_deref()
            .is_some_and(|l| allowed.iter().any(|a| a == l))
        {
            return Ok(Some(DropReason::Language));
        }
    }
    if text_length < config.min_text_length {
        return Ok(Some(DropReason::TooShort));
    }

    let categories = unique(
        matching_rules.drain(..).filter_map(|r| r.tag).collect(),
        |tag| tag,
    );
    let category = match (categories.as_slice(), config.multi_category) {
        ([], _) => Cow::Borrowed(UNCATEGORIZED),
        ([one], _) => one.clone(),
        ([first, ..], MultiCategory::First) => first.clone(),
        (_, MultiCategory::Multiple) => Cow::Borrowed(MULTIPLE),
    };

    let mut author = Author {
        id: data.author_id.take(),
        ..Author::default()
    };
    if let Some(user) = author
        .id
        .as_ref()
        .and_then(|id| includes.users.iter_mut().find(|u| &u.id == id))
    {
        author.username = user.username.take();
        author.name = user.name.take();
        author.followers = user.public_metrics.as_ref().and_then(|m| m.followers_count);
    }

    let m = data.public_metrics.take().unwrap_or_default();
    let metrics = Metrics {
        retweets: m.retweet_count,
        replies: m.reply_count,
        likes: m.like_count,
        quotes: m.quote_count,
        impressions: m.impression_count,
        bookmarks: m.bookmark_count,
        engagement: m
            .retweet_count
            .saturating_add(m.reply_count)
            .saturating_add(m.like_count)
            .saturating_add(m.quote_count)
            .saturating_add(m.bookmark_count.unwrap_or(0)),
    };

    let media_keys = data
        .attachments
        .as_ref()
        .map_or(&[][..], |a| &a.media_keys[..]);
    let mut media_types: List<Cow<'a, str>, 2> = List::new();
    for key in media_keys {
        if let Some(media) = includes.media.iter().find(|m| &m.media_key == key) {
            if !media_types.contains(&media.kind) {
                media_types.push(media.kind.clone());
            }
        }
    }

    let mut entities = data.entities.take().unwrap_or_default();
    let hashtags = unique(entities.hashtags.drain(..).map(|h| h.tag).collect(), lower);
    let mentions = unique(
        entities.mentions.drain(..).map(|m| m.username).collect(),
        lower,
    );

    docs.push(Document {
        schema_version: SCHEMA_VERSION,
        post_id: take(&mut data.id),
        source: source
            .take()
            .filter(|s| !s.is_empty())
            .unwrap_or(Cow::Borrowed("x")),
        text_length: u32::try_from(text_length).unwrap_or(u32::MAX),
        text,
        lang,
        created_at: data.created_at.take().map(normalise_time),
        arrived_at,
        processed_at,
        author,
        category,
        categories,
        metrics,
        has_media: !media_keys.is_empty(),
        media_types,
        hashtags,
        mentions,
        url_count: u32::try_from(entities.urls.len()).unwrap_or(u32::MAX),
        is_retweet,
        is_reply: data.in_reply_to_user_id.is_some()
            || data
                .referenced_tweets
                .iter()
                .any(|r| r.kind == "replied_to"),
        is_quote: data.referenced_tweets.iter().any(|r| r.kind == "quoted"),
        sentiment: None,
    });
    Ok(None)
}

/// Re-formats an RFC 3339 time as UTC with milliseconds (kept as it came when it already
/// is); other text is kept as it came (the index template then rejects it, and Firehose
/// backs the document up).
fn normalise_time(value: Cow<'_, str>) -> Cow<'_, str> {
    // Already `YYYY-MM-DDTHH:MM:SS.mmmZ` (the X API's form): kept as it came whether or
    // not the date is valid, so there is nothing to parse.
    if has_canonical_shape(&value) {
        return value;
    }
    match DateTime::parse_from_rfc3339(&value) {
        Ok(t) => {
            let canonical =
                value.len() == 24 && value.ends_with('Z') && t.offset().local_minus_utc() == 0;
            if canonical {
                value
            } else {
                Cow::Owned(iso(t.with_timezone(&Utc)))
            }
        }
        Err(_) => value,
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` by shape (digits and separators where they belong), eight
/// bytes at a time: XOR with the shape (`0` in digit places) leaves each byte under 10 in
/// a digit place and 0 in a separator's, checked per byte without carries between bytes
/// (every byte below 0x80, and byte + 0x80 - bound below 0x80).
fn has_canonical_shape(value: &str) -> bool {
    const SHAPE: &[u8; 24] = b"0000-00-00T00:00:00.000Z";
    const HIGH: u64 = 0x8080_8080_8080_8080;
    /// Per byte, 0x80 - bound: 0x76 (bound 10) in digit places, 0x7F (bound 1) elsewhere.
    const fn adds() -> [u64; 3] {
        let mut out = [0u64; 3];
        let mut i = 0;
        while i < 24 {
            let add: u64 = if SHAPE[i] == b'0' { 0x76 } else { 0x7F };
            out[i / 8] |= add << (8 * (i % 8));
            i += 1;
        }
        out
    }
    const ADDS: [u64; 3] = adds();
    let Ok(bytes) = <&[u8; 24]>::try_from(value.as_bytes()) else {
        return false;
    };
    let word = |of: &[u8; 24], i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&of[i * 8..i * 8 + 8]);
        u64::from_le_bytes(w)
    };
    let mut bad = 0;
    for (i, add) in ADDS.iter().enumerate() {
        let x = word(bytes, i) ^ word(SHAPE, i);
        bad |= (x | x.wrapping_add(*add)) & HIGH;
    }
    bad == 0
}

/// Lower-cases ASCII letters, borrowing when there are none to change.
fn ascii_lower(value: Cow<'_, str>) -> Cow<'_, str> {
    if value.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(value.to_ascii_lowercase())
    } else {
        value
    }
}

/// Lower-cases (Unicode), borrowing when nothing changes.
fn lower(value: Cow<'_, str>) -> Cow<'_, str> {
    if value.chars().any(char::is_uppercase) {
        Cow::Owned(value.to_lowercase())
    } else {
        value
    }
}

/// `items` after `normalise`, without empty ones and later repeats, in first-seen order,
/// in the list they came in.
fn unique<'a>(
    mut items: List<Cow<'a, str>, 2>,
    normalise: impl Fn(Cow<'a, str>) -> Cow<'a, str>,
) -> List<Cow<'a, str>, 2> {
    if let [one] = items.as_mut_slice() {
        // One item (the usual rule tag, a lone hashtag): nothing to compare.
        *one = normalise(std::mem::take(one));
        if one.is_empty() {
            items.clear();
        }
        return items;
    }
    let mut kept = 0;
    for i in 0..items.len() {
        let item = normalise(std::mem::take(&mut items[i]));
        if !item.is_empty() && !items[..kept].contains(&item) {
            items[kept] = item;
            kept += 1;
        }
    }
    items.truncate(kept);
    items
}

/// Decodes the HTML entities the X API puts in post text (`&amp;`, `&lt;`, `&gt;`, and
/// for robustness `&quot;`, `&apos;`, `&#NN;`, `&#xHH;`). Anything else is kept as is.
pub fn decode_entities(text: Cow<'_, str>) -> Cow<'_, str> {
    if !text.contains('&') {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest: &str = &text;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos..];
        match decode_one(rest) {
            Some((ch, used)) => {
                out.push(ch);
                rest = &rest[used..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Decodes the entity at the start of `s` (which starts with `&`): the character and the
/// bytes it used.
fn decode_one(s: &str) -> Option<(char, usize)> {
    // The longest entity we decode is `&#x10FFFF;` (10 bytes).
    let semi = s.bytes().take(11).position(|b| b == b';')?;
    let name = &s[1..semi];
    let ch = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let num = name.strip_prefix('#')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse::<u32>().ok()?,
            };
            char::from_u32(code).filter(|c| *c != '\0')?
        }
    };
    Some((ch, semi + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(json: &str) -> StreamPost<'_> {
        serde_json::from_str(json).unwrap()
    }

    fn keep<'a>(json: &'a str, config: &Config) -> Document<'a> {
        match clean(
            post(json),
            1_700_000_000_123,
            "2026-01-01T00:00:00.000Z",
            config,
        )
        .unwrap()
        {
            Cleaned::Keep(doc) => doc,
            Cleaned::Drop(r) => panic!("dropped: {r:?}"),
        }
    }

    #[test]
    fn canonical_shape_is_digits_and_separators_where_they_belong() {
        let by_bytes = |v: &str| {
            let shape = b"dddd-dd-ddTdd:dd:dd.dddZ";
            v.len() == 24
                && v.bytes().zip(shape).all(|(b, &want)| {
                    if want == b'd' {
                        b.is_ascii_digit()
                    } else {
                        b == want
                    }
                })
        };
        let good = "2023-03-14T15:09:26.195Z";
        assert!(has_canonical_shape(good));
        // Every byte of a good time replaced by every byte value.
        for at in 0..24 {
            for b in 0..=255u8 {
                let mut bytes = good.as_bytes().to_vec();
                bytes[at] = b;
                if let Ok(v) = std::str::from_utf8(&bytes) {
                    assert_eq!(has_canonical_shape(v), by_bytes(v), "{v:?}");
                }
            }
        }
        for v in [
            "",
            "2023-03-14T15:09:26Z",
            "2023-03-14T15:09:26.195Z ",
            "2023-03-14 15:09:26.195Z",
        ] {
            assert_eq!(has_canonical_shape(v), by_bytes(v), "{v:?}");
        }
    }

    #[test]
    fn the_arrival_clock_formats_as_iso_millis_does() {
        let mut clock = ArrivalClock::default();
        let mut ms = 1_678_806_565_990;
        // Steps within a second, across seconds, minutes, a day, a year; then back in
        // time, the epoch, and times outside the hand-made range.
        for step in [
            0,
            3,
            7,
            1,
            999,
            1000,
            17,
            60_000,
            86_400_000,
            31_536_000_000,
        ] {
            ms += step;
            assert_eq!(clock.format(ms), iso_millis(ms), "{ms}");
            assert_eq!(clock.format(ms + 1), iso_millis(ms + 1), "{}", ms + 1);
        }
        for ms in [
            ms - 86_400_000,
            0,
            999,
            1000,
            -1,
            -1001,
            253_402_300_799_999,
            253_402_300_800_000,
            5,
        ] {
            assert_eq!(clock.format(ms), iso_millis(ms), "{ms}");
        }
    }

    #[test]
    fn entities_are_decoded() {
        assert_eq!(
            decode_entities("cats &amp; dogs &lt;3 &gt;_&lt;".into()),
            "cats & dogs <3 >_<"
        );
        assert_eq!(decode_entities("&#39;hi&#x1F431;&quot;".into()), "'hi🐱\"");
        assert_eq!(
            decode_entities("AT&T & &bogus; &#xZZ; &".into()),
            "AT&T & &bogus; &#xZZ; &"
        );
        assert_eq!(decode_entities("&amp;amp;".into()), "&amp;");
        assert_eq!(decode_entities("&#0; &#1114112;".into()), "&#0; &#1114112;");
        assert_eq!(decode_entities("é&amp".into()), "é&amp");
    }

    #[test]
    fn a_full_post_becomes_the_documented_fields() {
        let doc = keep(
            r#"{"data":{"id":"42","text":"Cats &amp; dogs #Caturday #caturday @Bob https://t.co/x",
            "created_at":"2023-03-14T15:09:26.000Z","lang":"EN","author_id":"7",
            "public_metrics":{"retweet_count":1,"reply_count":2,"like_count":3,"quote_count":4,"bookmark_count":5,"impression_count":100},
            "entities":{"hashtags":[{"tag":"Caturday"},{"tag":"caturday"}],"mentions":[{"username":"Bob"}],"urls":[{"url":"https://t.co/x"}]},
            "attachments":{"media_keys":["3_1","3_2","7_1"]},
            "referenced_tweets":[{"type":"quoted","id":"9"}]},
            "includes":{"users":[{"id":"7","username":"kitty","name":"Kit","public_metrics":{"followers_count":12}}],
                        "media":[{"media_key":"3_1","type":"photo"},{"media_key":"3_2","type":"photo"},{"media_key":"7_1","type":"video"}]},
            "matching_rules":[{"id":"1","tag":"cats"},{"id":"2","tag":"dogs"},{"id":"3","tag":"cats"}]}"#,
            &Config::default(),
        );
        assert_eq!(
            doc.text,
            "Cats & dogs #Caturday #caturday @Bob https://t.co/x"
        );
        assert_eq!(doc.text_length, 51);
        assert_eq!(doc.lang.as_deref(), Some("en"));
        assert_eq!(doc.created_at.as_deref(), Some("2023-03-14T15:09:26.000Z"));
        assert_eq!(doc.arrived_at, "2023-11-14T22:13:20.123Z");
        assert_eq!(doc.categories.as_slice(), ["cats", "dogs"]);
        assert_eq!(doc.category, "multiple");
        assert_eq!(doc.author.username.as_deref(), Some("kitty"));
        assert_eq!(doc.author.followers, Some(12));
        assert_eq!(doc.metrics.engagement, 15);
        assert_eq!(doc.metrics.impressions, Some(100));
        assert_eq!(doc.media_types.as_slice(), ["photo", "video"]);
        assert!(doc.has_media);
        assert_eq!(doc.hashtags.as_slice(), ["caturday"]);
        assert_eq!(doc.mentions.as_slice(), ["bob"]);
        assert_eq!(doc.url_count, 1);
        assert!(doc.is_quote && !doc.is_reply && !doc.is_retweet);
        assert_eq!(doc.source, "x");
    }

    #[test]
    fn primary_category_policy() {
        let both =
            r#"{"data":{"id":"1","text":"t"},"matching_rules":[{"tag":"dogs"},{"tag":"cats"}]}"#;
        let first = Config {
            multi_category: MultiCategory::First,
            ..Config::default()
        };
        assert_eq!(keep(both, &first).category, "dogs");
        assert_eq!(keep(both, &Config::default()).category, "multiple");
        let none = r#"{"data":{"id":"1","text":"t"},"matching_rules":[{"id":"5"}]}"#;
        assert_eq!(keep(none, &Config::default()).category, "uncategorized");
        assert!(keep(none, &Config::default()).categories.is_empty());
    }

    #[test]
    fn policy_drops_on_purpose() {
        let rt = r#"{"data":{"id":"1","text":"RT @a: hi","lang":"en"}}"#;
        let es = r#"{"data":{"id":"1","text":"hola mundo","lang":"es"}}"#;
        let no_lang = r#"{"data":{"id":"1","text":"hello"}}"#;
        let drop = |json: &str, config: &Config| match clean(post(json), 0, "", config).unwrap() {
            Cleaned::Drop(r) => Some(r),
            Cleaned::Keep(_) => None,
        };
        let default = Config::default();
        assert_eq!(drop(rt, &default), Some(DropReason::Retweet));
        let keep_rt = Config {
            drop_retweets: false,
            ..Config::default()
        };
        assert_eq!(drop(rt, &keep_rt), None);
        let en_only = Config {
            languages: Some(vec!["en".into()]),
            ..Config::default()
        };
        assert_eq!(drop(es, &en_only), Some(DropReason::Language));
        assert_eq!(drop(no_lang, &en_only), Some(DropReason::Language));
        let min = Config {
            min_text_length: 6,
            ..Config::default()
        };
        assert_eq!(drop(no_lang, &min), Some(DropReason::TooShort));
        assert_eq!(drop(es, &min), None);
    }

    #[test]
    fn lists_keep_first_occurrences_in_order_without_empty_items() {
        let doc = keep(
            r#"{"data":{"id":"1","text":"hi",
            "entities":{"hashtags":[{"tag":"Dogs"},{"tag":""},{"tag":"DOGS"},{"tag":"Ärger"},{"tag":"cats"}],
                        "mentions":[{"username":"Bob"},{"username":"bob"},{"username":""}]}},
            "matching_rules":[{"tag":""},{"tag":"Dogs"},{"id":"9"},{"tag":"cats"},{"tag":"Dogs"},{"tag":null}]}"#,
            &Config::default(),
        );
        // Rule tags are kept as written (only repeats and empty tags go); hashtags and
        // mentions are lower-cased first, so `Dogs` and `DOGS` are one.
        assert_eq!(doc.categories.as_slice(), ["Dogs", "cats"]);
        assert_eq!(doc.hashtags.as_slice(), ["dogs", "ärger", "cats"]);
        assert_eq!(doc.mentions.as_slice(), ["bob"]);
        assert_eq!(doc.arrived_at.to_string(), "2023-11-14T22:13:20.123Z");
        assert_eq!(
            format!("{:?}", doc.arrived_at),
            "\"2023-11-14T22:13:20.123Z\""
        );
    }

    #[test]
    fn arrival_times_are_formatted_as_chrono_formats_them() {
        let chrono = |ms: i64| {
            Utc.timestamp_millis_opt(ms)
                .single()
                .unwrap()
                .to_rfc3339_opts(SecondsFormat::Millis, true)
        };
        // Every 97th day from 1970 to 9999 (leap days and century years included), at a
        // time of day that moves through the day.
        for day in (0..2_932_897_i64).step_by(97) {
            let ms = day * 86_400_000 + (day * 7_919_993) % 86_400_000;
            assert_eq!(iso_millis(ms).as_str(), chrono(ms), "{ms}");
        }
        for ms in [
            0,
            951_782_400_000,
            4_107_542_399_999,
            253_402_300_799_999,
            253_402_300_800_000,
            -1,
            -62_135_596_800_000,
        ] {
            assert_eq!(iso_millis(ms).as_str(), chrono(ms), "{ms}");
        }
    }

    #[test]
    fn created_at_is_normalised_to_utc_millis() {
        assert_eq!(
            normalise_time("2023-03-14T17:09:26+02:00".into()),
            "2023-03-14T15:09:26.000Z"
        );
        assert_eq!(normalise_time("yesterday".into()), "yesterday");
        assert_eq!(
            normalise_time("2023-03-14T15:09:26.195Z".into()),
            "2023-03-14T15:09:26.195Z"
        );
        assert_eq!(
            normalise_time("2023-03-14T15:09:26.19Z".into()),
            "2023-03-14T15:09:26.190Z"
        );
        assert_eq!(
            normalise_time("2023-13-45T15:09:26.195Z".into()),
            "2023-13-45T15:09:26.195Z"
        );
    }

    #[test]
    fn empty_id_is_an_error() {
        let err = clean(
            post(r#"{"data":{"id":"","text":"x"}}"#),
            0,
            "",
            &Config::default(),
        )
        .unwrap_err();
        assert_eq!(err.reason(), "empty_field");
    }
}
