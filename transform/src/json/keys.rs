//! The keys of each kind of object the reader knows, in the order sources write them:
//! an enum per kind whose every comparison is with a constant (see `Scanner::fields`).

/// The keys of one kind of object, in the order sources write them (see
/// [`Scanner::fields`]): the model's fields and the keys known to be read past.
pub(super) trait Fields: Copy + 'static {
    /// Every key, in order.
    const ALL: &'static [Self];
    /// Position in [`Fields::ALL`].
    fn index(self) -> usize;
    /// When `rest` starts with this key's name, closing quote and colon: their length.
    fn named_at(self, rest: &[u8]) -> Option<usize>;
    /// The key with this name.
    fn find(name: &[u8]) -> Option<Self>;
}

/// An enum of keys implementing [`Fields`]; each comparison is with a constant, so the
/// compiler makes it a few word compares.
macro_rules! fields {
    ($(#[$meta:meta])* enum $kind:ident { $($key:ident = $name:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[allow(clippy::enum_variant_names)] // the variants spell the keys as sources do
        pub(super) enum $kind {
            $($key,)+
        }

        impl Fields for $kind {
            const ALL: &'static [Self] = &[$($kind::$key,)+];

            #[inline(always)]
            fn index(self) -> usize {
                self as usize
            }

            #[inline(always)]
            fn named_at(self, rest: &[u8]) -> Option<usize> {
                match self {
                    $($kind::$key => {
                        const NAMED: &[u8] = concat!($name, "\":").as_bytes();
                        rest.starts_with(NAMED).then_some(NAMED.len())
                    })+
                }
            }

            fn find(name: &[u8]) -> Option<Self> {
                $(if name == $name.as_bytes() {
                    return Some($kind::$key);
                })+
                None
            }
        }
    };
}

fields! {
    /// The top level of a payload.
    enum Top {
        Data = "data",
        Includes = "includes",
        MatchingRules = "matching_rules",
        Source = "source",
    }
}

fields! {
    /// `data`, in the X API's order (the post's own fields, then its entities and links).
    enum DataKey {
        Attachments = "attachments",
        AuthorId = "author_id",
        ConversationId = "conversation_id",
        CreatedAt = "created_at",
        EditHistoryTweetIds = "edit_history_tweet_ids",
        Id = "id",
        InReplyToUserId = "in_reply_to_user_id",
        Lang = "lang",
        PossiblySensitive = "possibly_sensitive",
        PublicMetrics = "public_metrics",
        ReplySettings = "reply_settings",
        Source = "source",
        Text = "text",
        Entities = "entities",
        ReferencedTweets = "referenced_tweets",
        Geo = "geo",
    }
}

fields! {
    /// `data.public_metrics`.
    enum MetricKey {
        RetweetCount = "retweet_count",
        ReplyCount = "reply_count",
        LikeCount = "like_count",
        QuoteCount = "quote_count",
        BookmarkCount = "bookmark_count",
        ImpressionCount = "impression_count",
    }
}

fields! {
    /// `data.entities`.
    enum EntityKey {
        Annotations = "annotations",
        Cashtags = "cashtags",
        Hashtags = "hashtags",
        Mentions = "mentions",
        Urls = "urls",
    }
}

fields! {
    /// One of `data.entities.hashtags`.
    enum HashtagKey {
        Start = "start",
        End = "end",
        Tag = "tag",
    }
}

fields! {
    /// One of `data.entities.mentions`.
    enum MentionKey {
        Start = "start",
        End = "end",
        Username = "username",
        Id = "id",
    }
}

fields! {
    /// `data.attachments`.
    enum AttachmentKey {
        MediaKeys = "media_keys",
    }
}

fields! {
    /// One of `data.referenced_tweets`.
    enum ReferenceKey {
        Type = "type",
        Id = "id",
    }
}

fields! {
    /// `includes`.
    enum IncludesKey {
        Users = "users",
        Tweets = "tweets",
        Media = "media",
        Places = "places",
    }
}

fields! {
    /// One of `includes.users`.
    enum UserKey {
        CreatedAt = "created_at",
        Description = "description",
        Id = "id",
        Location = "location",
        Name = "name",
        ProfileImageUrl = "profile_image_url",
        Protected = "protected",
        PublicMetrics = "public_metrics",
        Username = "username",
        Verified = "verified",
    }
}

fields! {
    /// `public_metrics` of one of `includes.users`.
    enum UserMetricKey {
        FollowersCount = "followers_count",
        FollowingCount = "following_count",
        TweetCount = "tweet_count",
        ListedCount = "listed_count",
    }
}

fields! {
    /// One of `includes.media`.
    enum MediaKey {
        MediaKey = "media_key",
        Type = "type",
    }
}

fields! {
    /// One of `matching_rules`.
    enum RuleKey {
        Id = "id",
        Tag = "tag",
    }
}
