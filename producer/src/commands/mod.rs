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
use producer::source::reconnect::Sleeper;
use producer::source::x::XClient;
use producer::source::{file, jetstream};

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
            let cursor = jetstream::read_cursor(&cursor_file);
            if let Some(c) = cursor {
                tracing::info!(cursor = c, file = %cursor_file.display(), "resuming after the last settled post");
            }
            // The cursor moves past posts once they are delivered or spilled (not lost).
            let confirm = |records: &[&producer::record::Record], fate: Fate| {
                if fate == Fate::Lost {
                    return;
                }
                if let Some(c) = records.iter().filter_map(|r| r.cursor).max() {
                    if let Err(err) = jetstream::write_cursor(&cursor_file, c) {
                        tracing::warn!(%err, file = %cursor_file.display(), "cannot write the cursor file");
                    }
                }
            };
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
