//! The policy (what is dropped on purpose) and a post's fields to a document's.

use std::borrow::Cow;

use super::text::{ascii_lower, decode_entities, lower, unique};
use super::time::{iso_millis, normalise_time, IsoTime};
use super::{
    Author, Cleaned, Document, DropReason, Metrics, MULTIPLE, SCHEMA_VERSION, UNCATEGORIZED,
};
use crate::config::{Config, MultiCategory};
use crate::error::RecordError;
use crate::post::{List, StreamPost};

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
    let (has_entities, chars) = crate::json::escape::amp_and_chars(&data.text);
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

    let located = super::geo::locate(data.geo.as_ref(), includes.places.as_ref());
    let region = match (&config.regions, located.location) {
        (Some(regions), Some(p)) => regions.find(p).map(|r| Cow::Owned(r.to_string())),
        _ => None,
    };
    if let Some(problem) = located.problem {
        tracing::debug!(post_id = %data.id, problem = problem.as_str(), "post kept without its location");
    }

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
        place: located.place,
        location: located.location,
        region,
        geo_problem: located.problem,
        sentiment: None,
    });
    Ok(None)
}
