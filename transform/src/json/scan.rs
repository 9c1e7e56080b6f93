//! A fast, conservative reader for the post payload: one pass over the bytes, reading the
//! fields [`StreamPost`] has and validating (without building) everything else.
//!
//! It answers `Some(post)` only where `serde_json` would answer `Ok` with the same post,
//! and `None` ("let `serde_json` decide") for anything unusual: every syntax error,
//! `null` where the model has no `Option`, a repeated known field, an escaped key, a
//! number that is not a plain `u64`, a lone surrogate, nesting deeper than 64, a
//! top-level array, a post with `geo` or `includes.places`. [`crate::handler`] then parses with `serde_json`, whose outcome and
//! error message are the reference. `tests` below and the proptest in
//! `tests/fast_paths.rs` check that agreement on generated and mutated payloads.
//!
//! The input is already valid UTF-8 (checked before), so strings without escapes are
//! borrowed from it; strings with escapes are unescaped into an owned `String`.

use std::borrow::Cow;

use super::escape::next_special;
use super::keys::*;
use crate::post::{
    Attachments, Entities, Hashtag, Includes, List, MatchingRule, Media, Mention, PostData,
    PublicMetrics, ReferencedTweet, StreamPost, User, UserMetrics,
};

/// A list of the model, filled one item at a time.
trait Push {
    type Item;
    fn push_item(&mut self, item: Self::Item);
}

impl<T> Push for Vec<T> {
    type Item = T;
    fn push_item(&mut self, item: T) {
        self.push(item);
    }
}

impl<T, const N: usize> Push for List<T, N> {
    type Item = T;
    fn push_item(&mut self, item: T) {
        self.push(item);
    }
}

/// Deepest nesting of skipped values read here (`serde_json` allows 128).
const MAX_DEPTH: u32 = 64;

/// `None`: not decided here.
type Scan<T> = Option<T>;

/// Reads one post, or `None` when `serde_json` must decide.
pub fn post(text: &str) -> Option<StreamPost<'_>> {
    let mut post = StreamPost::default();
    post_into(text, &mut post).then_some(post)
}

/// Reads one post into `post`, which must be empty (`StreamPost::default()`): the post is
/// built where it will be used, not moved there. `false`: `serde_json` must decide, and
/// `post` holds part of a read, to be replaced.
pub fn post_into<'a>(text: &'a str, post: &mut StreamPost<'a>) -> bool {
    let mut s = Scanner { src: text, pos: 0 };
    s.ws();
    if s.stream_post(post).is_none() {
        return false;
    }
    s.ws();
    s.pos == s.src.len()
}

struct Scanner<'a> {
    /// The payload; its bytes are always taken from it, so the compiler sees that a byte
    /// just checked to be `"` is a char boundary when a string is cut there.
    src: &'a str,
    pos: usize,
}

/// Marks the fields of one object already read, so a repeated one is left to serde
/// (its derive refuses duplicates).
struct Seen(u32);

impl Seen {
    fn has(&self, field: usize) -> bool {
        self.0 & (1 << field) != 0
    }

    fn first(&mut self, field: usize) -> Scan<()> {
        let bit = 1 << field;
        if self.0 & bit != 0 {
            return None;
        }
        self.0 |= bit;
        Some(())
    }
}

impl<'a> Scanner<'a> {
    #[inline]
    fn peek(&self) -> Scan<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.src.as_bytes().get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next byte after whitespace (none in compact JSON: one comparison then).
    #[inline(always)]
    fn token(&mut self) -> Scan<u8> {
        let b = *self.src.as_bytes().get(self.pos)?;
        if b > b' ' {
            return Some(b);
        }
        self.ws();
        self.peek()
    }

    #[inline]
    fn eat(&mut self, b: u8) -> Scan<()> {
        if self.token()? == b {
            self.pos += 1;
            Some(())
        } else {
            None
        }
    }

    fn literal(&mut self, word: &[u8]) -> Scan<()> {
        let end = self.pos + word.len();
        if self.src.as_bytes().get(self.pos..end)? == word {
            self.pos = end;
            Some(())
        } else {
            None
        }
    }

    /// `null` (consumed) or not (nothing consumed), after whitespace.
    #[inline]
    fn null(&mut self) -> Scan<bool> {
        if self.token()? == b'n' {
            self.literal(b"null")?;
            Some(true)
        } else {
            Some(false)
        }
    }

    /// Position of the next `"`, `\` or control byte at or after `self.pos`.
    #[inline(always)]
    fn next_special(&self) -> Scan<usize> {
        next_special(self.src.as_bytes(), self.pos)
    }

    /// A string value (after whitespace), borrowed when it has no escapes (inline: most
    /// strings end at the first special byte).
    #[inline(always)]
    fn string(&mut self) -> Scan<Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.pos;
        let end = self.next_special()?;
        if self.src.as_bytes()[end] == b'"' {
            self.pos = end + 1;
            return Some(Cow::Borrowed(self.src.get(start..end)?));
        }
        self.escaped_string(start, end)
    }

    /// The rest of a string from `start` whose first special byte is at `end`: unescaped
    /// into an owned `String`.
    #[inline(never)]
    fn escaped_string(&mut self, start: usize, end: usize) -> Scan<Cow<'a, str>> {
        if self.src.as_bytes()[end] != b'\\' {
            return None; // control byte
        }
        let mut out = String::with_capacity(end - start + 16);
        out.push_str(self.src.get(start..end)?);
        self.pos = end;
        loop {
            match self.src.as_bytes()[self.pos] {
                b'"' => {
                    self.pos += 1;
                    return Some(Cow::Owned(out));
                }
                b'\\' => {
                    self.pos += 1;
                    out.push(self.escape()?);
                }
                _ => return None, // control byte
            }
            let from = self.pos;
            let to = self.next_special()?;
            out.push_str(self.src.get(from..to)?);
            self.pos = to;
        }
    }

    /// A string value or `null`, into `slot` (written in place, not returned through
    /// memory and copied).
    fn opt_string_into(&mut self, slot: &mut Option<Cow<'a, str>>) -> Scan<()> {
        *slot = if self.null()? {
            None
        } else {
            Some(self.string()?)
        };
        Some(())
    }

    /// One escape after its `\`; lone surrogates are left to serde.
    fn escape(&mut self) -> Scan<char> {
        let b = self.peek()?;
        self.pos += 1;
        Some(match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex4()?;
                match first {
                    0xD800..=0xDBFF => {
                        self.literal(b"\\u")?;
                        let second = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&second) {
                            return None;
                        }
                        let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                        char::from_u32(code)?
                    }
                    0xDC00..=0xDFFF => return None,
                    _ => char::from_u32(first)?,
                }
            }
            _ => return None,
        })
    }

    fn hex4(&mut self) -> Scan<u32> {
        let digits = self.src.as_bytes().get(self.pos..self.pos + 4)?;
        let mut value = 0;
        for &d in digits {
            value = value * 16 + char::from(d).to_digit(16)?;
        }
        self.pos += 4;
        Some(value)
    }

    /// The rest of an object key without escapes (after its opening quote), and its `:`.
    #[inline(always)]
    fn key_rest(&mut self) -> Scan<&'a [u8]> {
        let start = self.pos;
        let end = self.next_special()?;
        if self.src.as_bytes()[end] != b'"' {
            return None;
        }
        self.pos = end + 1;
        if self.src.as_bytes().get(self.pos) == Some(&b':') {
            self.pos += 1;
        } else {
            self.eat(b':')?;
        }
        Some(&self.src.as_bytes()[start..end])
    }

    /// An object of a kind the model knows, whose values are `depth` levels down. `field`
    /// reads the value of a known key and says `true`, or says `false` for a key read
    /// past (then the value is validated and skipped, as it is for a key not in `F`); it
    /// returns `None` to give up. A key with an escape is left to serde.
    ///
    /// Sources write an object's keys in one order, `F`'s; each key is first compared
    /// whole (with its closing quote and colon) with the one after the last key found, a
    /// few instructions when the guess is right. Any other order reads the key and looks
    /// it up, the same outcome at the cost of a search.
    fn fields<F: Fields>(
        &mut self,
        depth: u32,
        mut field: impl FnMut(&mut Self, F) -> Scan<bool>,
    ) -> Scan<()> {
        self.eat(b'{')?;
        if self.token()? == b'}' {
            self.pos += 1;
            return Some(());
        }
        let mut next = 0;
        loop {
            if self.token()? != b'"' {
                return None;
            }
            self.pos += 1;
            let guessed = F::ALL
                .get(next)
                .and_then(|&f| Some((f, f.named_at(&self.src.as_bytes()[self.pos..])?)));
            let known = match guessed {
                Some((f, len)) => {
                    self.pos += len;
                    Some(f)
                }
                None => F::find(self.key_rest()?),
            };
            let read = match known {
                Some(f) => {
                    next = f.index() + 1;
                    field(self, f)?
                }
                None => false,
            };
            if !read {
                self.skip_value(depth)?;
            }
            match self.token()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An array: `item` reads each element.
    fn array(&mut self, mut item: impl FnMut(&mut Self) -> Scan<()>) -> Scan<()> {
        self.eat(b'[')?;
        if self.token()? == b']' {
            self.pos += 1;
            return Some(());
        }
        loop {
            item(self)?;
            match self.token()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An array's items appended to `out` (`null` is left to serde: the model's lists are
    /// not optional).
    fn fill<L: Push>(
        &mut self,
        out: &mut L,
        mut item: impl FnMut(&mut Self) -> Scan<L::Item>,
    ) -> Scan<()> {
        self.array(|s| {
            out.push_item(item(s)?);
            Some(())
        })
    }

    /// An array of objects, each read into a new default item at the end of `out`.
    fn fill_each<T: Default, const N: usize>(
        &mut self,
        out: &mut List<T, N>,
        mut read: impl FnMut(&mut Self, &mut T) -> Scan<()>,
    ) -> Scan<()> {
        self.array(|s| {
            out.push(T::default());
            let item = out.last_mut()?;
            read(s, item)
        })
    }

    /// `null` as `None`, anything else read into a default value in `slot`.
    fn opt_into<T: Default>(
        &mut self,
        slot: &mut Option<T>,
        read: impl FnOnce(&mut Self, &mut T) -> Scan<()>,
    ) -> Scan<()> {
        if self.null()? {
            *slot = None;
            Some(())
        } else {
            read(self, slot.insert(T::default()))
        }
    }

    /// `null` as `None`, anything else read by `read`.
    fn opt<T>(&mut self, read: impl FnOnce(&mut Self) -> Scan<T>) -> Scan<Option<T>> {
        if self.null()? {
            Some(None)
        } else {
            read(self).map(Some)
        }
    }

    /// A plain non-negative integer that fits in `u64`.
    #[inline(always)]
    fn u64(&mut self) -> Scan<u64> {
        self.token()?;
        let start = self.pos;
        let digits = self.src.as_bytes()[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let end = start + digits;
        let value = match digits {
            0 => return None,
            1 => u64::from(self.src.as_bytes()[start] - b'0'),
            // Up to 19 digits cannot overflow: no checks in the loop.
            2..=19 if self.src.as_bytes()[start] != b'0' => self.src.as_bytes()[start..end]
                .iter()
                .fold(0, |v, &d| v * 10 + u64::from(d - b'0')),
            20 if self.src.as_bytes()[start] != b'0' => self.src.as_bytes()[start..end]
                .iter()
                .try_fold(0u64, |v, &d| {
                    v.checked_mul(10)?.checked_add(u64::from(d - b'0'))
                })?,
            _ => return None, // a leading zero, or too long for u64
        };
        self.pos = end;
        match self.peek() {
            Some(b'.' | b'e' | b'E') => None,
            _ => Some(value),
        }
    }

    /// Validates and skips one value `depth` levels down: strings, numbers and literals
    /// here, containers in [`Scanner::skip`]'s loop.
    #[inline(always)]
    fn skip_value(&mut self, depth: u32) -> Scan<()> {
        match self.token()? {
            b'"' => self.skip_string(),
            b'1'..=b'9' => {
                // A plain positive integer, the usual number: its digits, then the rest
                // of the grammar only when a fraction or an exponent follows.
                self.digits();
                match self.peek() {
                    Some(b'.' | b'e' | b'E') => self.skip_number_rest(),
                    _ => Some(()),
                }
            }
            b'-' | b'0' => self.skip_number(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.skip(depth),
        }
    }

    /// Validates and skips one JSON value of any kind, `depth` levels down: one loop with
    /// a bit stack of open containers (1 = object) instead of recursion.
    fn skip(&mut self, depth: u32) -> Scan<()> {
        let limit = MAX_DEPTH.checked_sub(depth)?;
        let mut open: u64 = 0; // bit i: the container at nesting i is an object
        let mut nesting: u32 = 0;
        'value: loop {
            match self.token()? {
                b'"' => self.skip_string()?,
                b'{' | b'[' => {
                    let object = self.src.as_bytes()[self.pos] == b'{';
                    self.pos += 1;
                    let close = if object { b'}' } else { b']' };
                    if self.token()? == close {
                        self.pos += 1;
                    } else {
                        if nesting == limit {
                            return None;
                        }
                        open = (open << 1) | u64::from(object);
                        nesting += 1;
                        if object {
                            self.skip_key()?;
                        }
                        continue 'value;
                    }
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                b'-' | b'0'..=b'9' => self.skip_number()?,
                _ => return None,
            }
            // After a value: a separator, or the end of one or more containers.
            loop {
                if nesting == 0 {
                    return Some(());
                }
                let in_object = open & 1 == 1;
                match (self.token()?, in_object) {
                    (b',', _) => {
                        self.pos += 1;
                        if in_object {
                            self.skip_key()?;
                        }
                        continue 'value;
                    }
                    (b'}', true) | (b']', false) => {
                        self.pos += 1;
                        open >>= 1;
                        nesting -= 1;
                    }
                    _ => return None,
                }
            }
        }
    }

    /// An object key (escapes allowed) and its `:`, inside a skipped value.
    #[inline(always)]
    fn skip_key(&mut self) -> Scan<()> {
        if self.token()? != b'"' {
            return None;
        }
        self.skip_string()?;
        self.eat(b':')
    }

    #[inline(always)]
    fn skip_string(&mut self) -> Scan<()> {
        self.pos += 1; // the opening quote
        loop {
            let at = self.next_special()?;
            self.pos = at + 1;
            match self.src.as_bytes()[at] {
                b'"' => return Some(()),
                b'\\' => {
                    self.escape()?;
                }
                _ => return None,
            }
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn skip_number(&mut self) -> Scan<()> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        self.skip_number_rest()
    }

    /// The fraction and exponent of a number whose integer part was read.
    fn skip_number_rest(&mut self) -> Scan<()> {
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.some_digits()?;
        }
        Some(())
    }

    #[inline(always)]
    fn digits(&mut self) {
        self.pos += self.src.as_bytes()[self.pos..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
    }

    fn some_digits(&mut self) -> Scan<()> {
        let start = self.pos;
        self.digits();
        (self.pos > start).then_some(())
    }

    fn stream_post(&mut self, post: &mut StreamPost<'a>) -> Scan<()> {
        let mut seen = Seen(0);
        self.fields(1, |s, key: Top| {
            seen.first(key.index())?;
            match key {
                Top::Data => s.post_data(&mut post.data)?,
                Top::Includes => s.includes(&mut post.includes)?,
                Top::MatchingRules => s.fill(&mut post.matching_rules, Self::matching_rule)?,
                Top::Source => s.opt_string_into(&mut post.source)?,
            }
            Some(true)
        })?;
        seen.has(Top::Data.index()).then_some(())
    }

    fn post_data(&mut self, d: &mut PostData<'a>) -> Scan<()> {
        let mut seen = Seen(0);
        self.fields(2, |s, key: DataKey| {
            use DataKey as K;
            match key {
                K::ConversationId
                | K::EditHistoryTweetIds
                | K::PossiblySensitive
                | K::ReplySettings
                | K::Source => return Some(false),
                _ => seen.first(key.index())?,
            }
            match key {
                K::Id => d.id = s.string()?,
                K::Text => d.text = s.string()?,
                K::CreatedAt => s.opt_string_into(&mut d.created_at)?,
                K::Lang => s.opt_string_into(&mut d.lang)?,
                K::AuthorId => s.opt_string_into(&mut d.author_id)?,
                K::PublicMetrics => d.public_metrics = s.opt(Self::public_metrics)?,
                K::Entities => s.opt_into(&mut d.entities, Self::entities)?,
                K::Attachments => s.opt_into(&mut d.attachments, Self::attachments)?,
                K::ReferencedTweets => s.fill(&mut d.referenced_tweets, Self::referenced_tweet)?,
                K::InReplyToUserId => s.opt_string_into(&mut d.in_reply_to_user_id)?,
                // A located post (a few in a hundred) is left to serde_json, which keeps
                // `geo` as JSON for `document::geo`.
                K::Geo => return None,
                _ => return Some(false),
            }
            Some(true)
        })?;
        (seen.has(DataKey::Id.index()) && seen.has(DataKey::Text.index())).then_some(())
    }

    fn public_metrics(&mut self) -> Scan<PublicMetrics> {
        let mut m = PublicMetrics::default();
        let mut seen = Seen(0);
        self.fields(3, |s, key: MetricKey| {
            use MetricKey as K;
            seen.first(key.index())?;
            match key {
                K::RetweetCount => m.retweet_count = s.u64()?,
                K::ReplyCount => m.reply_count = s.u64()?,
                K::LikeCount => m.like_count = s.u64()?,
                K::QuoteCount => m.quote_count = s.u64()?,
                K::ImpressionCount => m.impression_count = s.opt(Self::u64)?,
                K::BookmarkCount => m.bookmark_count = s.opt(Self::u64)?,
            }
            Some(true)
        })?;
        Some(m)
    }

    fn entities(&mut self, e: &mut Entities<'a>) -> Scan<()> {
        let mut seen = Seen(0);
        self.fields(3, |s, key: EntityKey| {
            use EntityKey as K;
            match key {
                K::Annotations | K::Cashtags => return Some(false),
                _ => seen.first(key.index())?,
            }
            match key {
                K::Hashtags => s.fill(&mut e.hashtags, |s| {
                    s.one_string(4, HashtagKey::Tag).map(|tag| Hashtag { tag })
                })?,
                K::Mentions => s.fill(&mut e.mentions, |s| {
                    s.one_string(4, MentionKey::Username)
                        .map(|username| Mention { username })
                })?,
                K::Urls => s.fill(&mut e.urls, |s| s.skip(4).map(|()| serde::de::IgnoredAny))?,
                K::Annotations | K::Cashtags => return Some(false),
            }
            Some(true)
        })
    }

    /// An object of which one string field, `want`, is read (and required).
    fn one_string<F: Fields + PartialEq>(&mut self, depth: u32, want: F) -> Scan<Cow<'a, str>> {
        let mut value = None;
        self.fields(depth, |s, key: F| {
            if key != want {
                return Some(false);
            }
            if value.is_some() {
                return None;
            }
            value = Some(s.string()?);
            Some(true)
        })?;
        value
    }

    fn attachments(&mut self, a: &mut Attachments<'a>) -> Scan<()> {
        let mut seen = Seen(0);
        self.fields(3, |s, key: AttachmentKey| {
            seen.first(key.index())?;
            match key {
                AttachmentKey::MediaKeys => s.fill(&mut a.media_keys, Self::string)?,
            }
            Some(true)
        })
    }

    fn referenced_tweet(&mut self) -> Scan<ReferencedTweet<'a>> {
        self.one_string(3, ReferenceKey::Type)
            .map(|kind| ReferencedTweet { kind })
    }

    fn includes(&mut self, inc: &mut Includes<'a>) -> Scan<()> {
        let mut seen = Seen(0);
        self.fields(2, |s, key: IncludesKey| {
            use IncludesKey as K;
            match key {
                K::Tweets => return Some(false),
                _ => seen.first(key.index())?,
            }
            match key {
                K::Users => s.fill_each(&mut inc.users, Self::user)?,
                K::Media => s.fill(&mut inc.media, Self::media)?,
                K::Places => return None,
                K::Tweets => return Some(false),
            }
            Some(true)
        })
    }

    fn user(&mut self, u: &mut User<'a>) -> Scan<()> {
        let mut seen = Seen(0);
        self.fields(3, |s, key: UserKey| {
            use UserKey as K;
            match key {
                K::Id | K::Username | K::Name | K::PublicMetrics => seen.first(key.index())?,
                _ => return Some(false),
            }
            match key {
                K::Id => u.id = s.string()?,
                K::Username => s.opt_string_into(&mut u.username)?,
                K::Name => s.opt_string_into(&mut u.name)?,
                K::PublicMetrics => u.public_metrics = s.opt(Self::user_metrics)?,
                _ => return Some(false),
            }
            Some(true)
        })?;
        seen.has(UserKey::Id.index()).then_some(())
    }

    fn user_metrics(&mut self) -> Scan<UserMetrics> {
        let mut m = UserMetrics::default();
        let mut seen = Seen(0);
        self.fields(4, |s, key: UserMetricKey| {
            if key != UserMetricKey::FollowersCount {
                return Some(false);
            }
            seen.first(key.index())?;
            m.followers_count = s.opt(Self::u64)?;
            Some(true)
        })?;
        Some(m)
    }

    fn media(&mut self) -> Scan<Media<'a>> {
        let (mut media_key, mut kind) = (None, None);
        let mut seen = Seen(0);
        self.fields(3, |s, key: MediaKey| {
            seen.first(key.index())?;
            match key {
                MediaKey::MediaKey => media_key = Some(s.string()?),
                MediaKey::Type => kind = Some(s.string()?),
            }
            Some(true)
        })?;
        Some(Media {
            media_key: media_key?,
            kind: kind?,
        })
    }

    fn matching_rule(&mut self) -> Scan<MatchingRule<'a>> {
        let mut rule = MatchingRule {
            id: None,
            tag: None,
        };
        let mut seen = Seen(0);
        self.fields(3, |s, key: RuleKey| {
            seen.first(key.index())?;
            match key {
                RuleKey::Id => s.opt_string_into(&mut rule.id)?,
                RuleKey::Tag => s.opt_string_into(&mut rule.tag)?,
            }
            Some(true)
        })?;
        Some(rule)
    }
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
