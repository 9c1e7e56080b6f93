//! The `producer` commands: each wires a source to the sink through [`run::pipeline`].

pub mod cost;
#[cfg(feature = "local")]
pub mod dashboard;
pub mod failed;
pub mod rules;
pub mod run;

use std::time::Duration;

use anyhow::Result;
use producer::rules::{LocalMatcher, RuleSet};
use producer::sink::Fate;
use producer::source::cursor::{read_cursor, write_cursor};
use producer::source::reconnect::Sleeper;
use producer::source::x::XClient;
use producer::source::{file, jetstream, mastodon};

use crate::cli::Command;

/// Runs the command.
pub async fn dispatch(command: Command) -> Result<()> {
    match command {
        Command::Rules { action } => rules::rules(action).await,
        Command::Cost(args) => cost::cost(args),
        Command::Failed { action } => failed::failed(action).await,
        #[cfg(feature = "local")]
        Command::Dashboard { view, port } => dashboard::serve_view(view, port).await,
        #[cfg(feature = "local")]
        Command::Export { out, to } => dashboard::export(&out, &to),
        Command::X {
            x,
            stall_secs,
            max_posts,
            sink,
        } => {
            let client = XClient::new(&x.x_api_url, &x.bearer_token)?.max_posts(Some(max_posts));
            let stall = Duration::from_secs(stall_secs);
            run::pipeline(
                sink,
                |_, _| {},
                move |tx, stats, stop| async move {
                    client
                        .stream(tx, stats, stall, Sleeper::Real, stop)
                        .await
                        .map_err(producer::source::SourceError::from)
                },
            )
            .await
        }
        Command::Bluesky {
            rules,
            jetstream_url,
            cursor_file,
            sink,
        } => {
            let set = RuleSet::load(&rules)?;
            let matcher = LocalMatcher::new(&set).map_err(anyhow::Error::msg)?;
            let cursor = read_cursor(&cursor_file);
            if let Some(c) = cursor {
                tracing::info!(cursor = c, file = %cursor_file.display(), "resuming after the last settled post");
            }
            let confirm = confirm_cursor(cursor_file);
            run::pipeline(sink, confirm, move |tx, stats, stop| async move {
                jetstream::stream(
                    &jetstream_url,
                    matcher,
                    cursor,
                    tx,
                    stats,
                    Sleeper::Real,
                    stop,
                )
                .await
            })
            .await
        }
        Command::Mastodon {
            rules,
            mastodon_url,
            access_token,
            public,
            cursor_file,
            backfill_max,
            stall_secs,
            sink,
        } => {
            let set = RuleSet::load(&rules)?;
            let timeline = match public {
                true => mastodon::Timeline::Public,
                false => {
                    let tags = mastodon::hashtags(&set);
                    anyhow::ensure!(
                        !tags.is_empty(),
                        "{}: no rule has hashtags or one-word keywords to stream; add \"hashtags\" or use --public",
                        rules.display()
                    );
                    mastodon::Timeline::Hashtags(tags)
                }
            };
            anyhow::ensure!(
                !access_token.trim().is_empty(),
                "MASTODON_ACCESS_TOKEN is empty"
            );
            let cursor = read_cursor(&cursor_file);
            if let Some(c) = cursor {
                tracing::info!(cursor = c, file = %cursor_file.display(), "reading back from the last settled status");
            }
            let config = mastodon::MastodonConfig {
                url: mastodon_url,
                token: access_token,
                timeline,
                tagger: mastodon::Tagger::new(&set),
                stall: Duration::from_secs(stall_secs),
                backfill_max,
            };
            let confirm = confirm_cursor(cursor_file);
            run::pipeline(sink, confirm, move |tx, stats, stop| async move {
                mastodon::stream(config, cursor, tx, stats, Sleeper::Real, stop)
                    .await
                    .map_err(producer::source::SourceError::from)
            })
            .await
        }
        Command::File {
            path,
            rate,
            looping,
            sink,
        } => {
            run::pipeline(
                sink,
                |_, _| {},
                move |tx, stats, stop| file::replay(path, rate, looping, tx, stats, stop),
            )
            .await
        }
        Command::Replay { path, sink } => {
            anyhow::ensure!(
                !file::same_file(&path, &sink.spill_file),
                "{} is the spill file this run spills into (whatever the spelling): replaying it could feed itself; pass another --spill-file",
                path.display()
            );
            anyhow::ensure!(path.exists(), "{}: no such file", path.display());
            run::pipeline(
                sink,
                |_, _| {},
                move |tx, stats, stop| file::replay(path, None, false, tx, stats, stop),
            )
            .await
        }
    }
}

/// Moves the cursor file past posts once they are delivered or spilled (not lost); it
/// only moves forward (Mastodon's streams settle out of order).
fn confirm_cursor(path: std::path::PathBuf) -> impl FnMut(&[&producer::record::Record], Fate) {
    let mut highest = read_cursor(&path);
    move |records, fate| {
        if fate == Fate::Lost {
            return;
        }
        let batch = records.iter().filter_map(|r| r.cursor).max();
        if let Some(c) = batch.filter(|c| highest.is_none_or(|h| *c > h)) {
            highest = Some(c);
            if let Err(err) = write_cursor(&path, c) {
                tracing::warn!(%err, file = %path.display(), "cannot write the cursor file");
            }
        }
    }
}
