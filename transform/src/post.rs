//! The post shape a record carries: one X API v2 filtered-stream object
//! (`data`, `includes.users`, `includes.media`, `includes.places`,
//! `matching_rules[{id, tag}]`).
//!
//! Other sources (Bluesky) are mapped by the producer into this same shape and say so in
//! the optional top-level `source` field; a post without it is from `x`. Only the fields
//! the document uses are read; everything else in the payload is skipped. Strings borrow
//! from the decoded payload unless they contain JSON escapes.

use std::borrow::Cow;

use serde::Deserialize;
use smallvec::SmallVec;

/// A list held inline up to `N` items (posts match one or two rules, have an author or
/// two, a few hashtags): no allocation for the usual post.
pub type List<T, const N: usize> = SmallVec<[T; N]>;

/// One filtered-stream object.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StreamPost<'a> {
    /// The post itself.
    #[serde(borrow)]
    pub data: PostData<'a>,
    /// Expanded objects referenced by the post (author, media).
    #[serde(default, borrow)]
    pub includes: Includes<'a>,
    /// The stream rules the post matched.
    #[serde(default, borrow)]
    pub matching_rules: List<MatchingRule<'a>, 2>,
    /// Where the post came from (`x` when absent, `bluesky` from the producer's mapping).
    #[serde(default, borrow)]
    pub source: Option<Cow<'a, str>>,
}

/// The `data` object of a post.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PostData<'a> {
    /// Post id (a string: X ids overflow a JavaScript number).
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// Post text, HTML-escaped by the X API (`&amp;`, `&lt;`, `&gt;`).
    #[serde(borrow)]
    pub text: Cow<'a, str>,
    /// When the post was created, ISO-8601.
    #[serde(default, borrow)]
    pub created_at: Option<Cow<'a, str>>,
    /// BCP 47 language detected by the source.
    #[serde(default, borrow)]
    pub lang: Option<Cow<'a, str>>,
    /// Author's user id.
    #[serde(default, borrow)]
    pub author_id: Option<Cow<'a, str>>,
    /// Engagement counters.
    #[serde(default)]
    pub public_metrics: Option<PublicMetrics>,
    /// Hashtags, mentions and URLs found in the text.
    #[serde(default, borrow)]
    pub entities: Option<Entities<'a>>,
    /// Media keys attached to the post.
    #[serde(default, borrow)]
    pub attachments: Option<Attachments<'a>>,
    /// Posts this one retweets, quotes or replies to.
    #[serde(default, borrow)]
    pub referenced_tweets: List<ReferencedTweet<'a>, 1>,
    /// Set on replies.
    #[serde(default, borrow)]
    pub in_reply_to_user_id: Option<Cow<'a, str>>,
    /// `{"place_id": …, "coordinates": {"type": "Point", "coordinates": [lon, lat]}}`,
    /// kept as JSON: a malformed one costs the post its location, never the post
    /// (`document::geo` reads it).
    #[serde(default)]
    pub geo: Option<serde_json::Value>,
}

/// Public engagement counters of a post.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PublicMetrics {
    /// Retweets.
    #[serde(default)]
    pub retweet_count: u64,
    /// Replies.
    #[serde(default)]
    pub reply_count: u64,
    /// Likes.
    #[serde(default)]
    pub like_count: u64,
    /// Quote posts.
    #[serde(default)]
    pub quote_count: u64,
    /// Impressions (only for some access levels).
    #[serde(default)]
    pub impression_count: Option<u64>,
    /// Bookmarks (only for some access levels).
    #[serde(default)]
    pub bookmark_count: Option<u64>,
}

/// Entities parsed out of the text by the source.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Entities<'a> {
    /// `#hashtags`.
    #[serde(default, borrow)]
    pub hashtags: List<Hashtag<'a>, 2>,
    /// `@mentions`.
    #[serde(default, borrow)]
    pub mentions: List<Mention<'a>, 2>,
    /// Links (`https://t.co/...`).
    #[serde(default)]
    pub urls: Vec<serde::de::IgnoredAny>,
}

/// One hashtag entity.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Hashtag<'a> {
    /// The tag without `#`.
    #[serde(borrow)]
    pub tag: Cow<'a, str>,
}

/// One mention entity.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Mention<'a> {
    /// The mentioned username without `@`.
    #[serde(borrow)]
    pub username: Cow<'a, str>,
}

/// Attachments of a post.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Attachments<'a> {
    /// Keys into `includes.media`.
    #[serde(default, borrow)]
    pub media_keys: List<Cow<'a, str>, 2>,
}

/// A reference to another post.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReferencedTweet<'a> {
    /// `retweeted`, `quoted` or `replied_to`.
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
}

/// Expanded objects of the payload.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Includes<'a> {
    /// Users: the author and mentioned users.
    #[serde(default, borrow)]
    pub users: List<User<'a>, 1>,
    /// Media objects attached to the post.
    #[serde(default, borrow)]
    pub media: List<Media<'a>, 2>,
    /// Places (`geo.place_id` expanded), kept as JSON like [`PostData::geo`].
    #[serde(default)]
    pub places: Option<serde_json::Value>,
}

/// A user object.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct User<'a> {
    /// User id.
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// Handle without `@`.
    #[serde(default, borrow)]
    pub username: Option<Cow<'a, str>>,
    /// Display name.
    #[serde(default, borrow)]
    pub name: Option<Cow<'a, str>>,
    /// Follower counters.
    #[serde(default)]
    pub public_metrics: Option<UserMetrics>,
}

/// Public counters of a user.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UserMetrics {
    /// Followers.
    #[serde(default)]
    pub followers_count: Option<u64>,
}

/// A media object.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Media<'a> {
    /// Key that `attachments.media_keys` refers to.
    #[serde(borrow)]
    pub media_key: Cow<'a, str>,
    /// `photo`, `video` or `animated_gif`.
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
}

/// A stream rule the post matched.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MatchingRule<'a> {
    /// Rule id.
    #[serde(default, borrow)]
    pub id: Option<Cow<'a, str>>,
    /// Rule tag: the category (`cats`, `dogs`).
    #[serde(default, borrow)]
    pub tag: Option<Cow<'a, str>>,
}
