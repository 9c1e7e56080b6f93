//! The post shape a record carries: one X API v2 filtered-stream object
//! (`data`, `includes.users`, `includes.media`, `matching_rules[{id, tag}]`).
//!
//! Other sources (Bluesky) are mapped by the producer into this same shape and say so in
//! the optional top-level `source` field; a post without it is from `x`. Only the fields
//! the document uses are read; everything else in the payload is skipped.

use serde::Deserialize;

/// One filtered-stream object.
#[derive(Debug, Clone, Deserialize)]
pub struct StreamPost {
    /// The post itself.
    pub data: PostData,
    /// Expanded objects referenced by the post (author, media).
    #[serde(default)]
    pub includes: Includes,
    /// The stream rules the post matched.
    #[serde(default)]
    pub matching_rules: Vec<MatchingRule>,
    /// Where the post came from (`x` when absent, `bluesky` from the producer's mapping).
    #[serde(default)]
    pub source: Option<String>,
}

/// The `data` object of a post.
#[derive(Debug, Clone, Deserialize)]
pub struct PostData {
    /// Post id (a string: X ids overflow a JavaScript number).
    pub id: String,
    /// Post text, HTML-escaped by the X API (`&amp;`, `&lt;`, `&gt;`).
    pub text: String,
    /// When the post was created, ISO-8601.
    #[serde(default)]
    pub created_at: Option<String>,
    /// BCP 47 language detected by the source.
    #[serde(default)]
    pub lang: Option<String>,
    /// Author's user id.
    #[serde(default)]
    pub author_id: Option<String>,
    /// Engagement counters.
    #[serde(default)]
    pub public_metrics: Option<PublicMetrics>,
    /// Hashtags, mentions and URLs found in the text.
    #[serde(default)]
    pub entities: Option<Entities>,
    /// Media keys attached to the post.
    #[serde(default)]
    pub attachments: Option<Attachments>,
    /// Posts this one retweets, quotes or replies to.
    #[serde(default)]
    pub referenced_tweets: Vec<ReferencedTweet>,
    /// Set on replies.
    #[serde(default)]
    pub in_reply_to_user_id: Option<String>,
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
pub struct Entities {
    /// `#hashtags`.
    #[serde(default)]
    pub hashtags: Vec<Hashtag>,
    /// `@mentions`.
    #[serde(default)]
    pub mentions: Vec<Mention>,
    /// Links (`https://t.co/...`).
    #[serde(default)]
    pub urls: Vec<serde::de::IgnoredAny>,
}

/// One hashtag entity.
#[derive(Debug, Clone, Deserialize)]
pub struct Hashtag {
    /// The tag without `#`.
    pub tag: String,
}

/// One mention entity.
#[derive(Debug, Clone, Deserialize)]
pub struct Mention {
    /// The mentioned username without `@`.
    pub username: String,
}

/// Attachments of a post.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Attachments {
    /// Keys into `includes.media`.
    #[serde(default)]
    pub media_keys: Vec<String>,
}

/// A reference to another post.
#[derive(Debug, Clone, Deserialize)]
pub struct ReferencedTweet {
    /// `retweeted`, `quoted` or `replied_to`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// Expanded objects of the payload.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Includes {
    /// Users: the author and mentioned users.
    #[serde(default)]
    pub users: Vec<User>,
    /// Media objects attached to the post.
    #[serde(default)]
    pub media: Vec<Media>,
}

/// A user object.
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    /// User id.
    pub id: String,
    /// Handle without `@`.
    #[serde(default)]
    pub username: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
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
#[derive(Debug, Clone, Deserialize)]
pub struct Media {
    /// Key that `attachments.media_keys` refers to.
    pub media_key: String,
    /// `photo`, `video` or `animated_gif`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// A stream rule the post matched.
#[derive(Debug, Clone, Deserialize)]
pub struct MatchingRule {
    /// Rule id.
    #[serde(default)]
    pub id: Option<String>,
    /// Rule tag: the category (`cats`, `dogs`).
    #[serde(default)]
    pub tag: Option<String>,
}
