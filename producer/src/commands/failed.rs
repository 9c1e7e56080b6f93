//! `producer failed`: the failed records in the backup, made readable and sendable again.
//! Lists them per prefix and error code, shows each with its data decoded, and replays
//! `processing-failed/` records (their `rawData` is exactly what the producer sent)
//! through the sink, marking each object replayed once its records are settled.

use anyhow::{Context, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use firehose_backup::records::summary;
use firehose_backup::{Failed, Store, OPENSEARCH_FAILED, PROCESSING_FAILED};
use serde_json::{json, Value};

use crate::cli::{FailedAction, StoreArgs};
use crate::commands::run;
use producer::source::backup;

/// A record as one readable JSON line: the data as text when it is UTF-8 (as JSON when
/// it parses), else as base64.
pub fn show(r: &Failed) -> Value {
    let data = match std::str::from_utf8(&r.data) {
        Ok(text) => serde_json::from_str::<Value>(text.trim_end())
            .unwrap_or_else(|_| Value::String(text.to_string())),
        Err(_) => json!({"base64": STANDARD.encode(&r.data), "note": "not UTF-8"}),
    };
    json!({
        "key": r.key,
        "errorCode": r.error_code,
        "errorMessage": r.error_message,
        "arrivalTimestamp": r.arrival_timestamp,
        "esIndexName": r.index,
        "data": data,
    })
}

async fn store(args: &StoreArgs) -> Store {
    match &args.from_s3_bucket {
        Some(bucket) => Store::S3 {
            client: firehose_backup::s3_client(args.from_s3_endpoint.as_deref()).await,
            bucket: bucket.clone(),
            endpoint: args.from_s3_endpoint.clone(),
        },
        None => Store::Dir(args.from_dir.clone()),
    }
}

/// Runs one `failed` action.
pub async fn failed(action: FailedAction) -> Result<()> {
    match action {
        FailedAction::List { store: args } => {
            let s = store(&args).await;
            let mut records = s
                .read(PROCESSING_FAILED)
                .await
                .with_context(|| format!("while reading the backup {s}"))?;
            records.extend(s.read(OPENSEARCH_FAILED).await?);
            for ((prefix, code), n) in summary(&records) {
                println!("{prefix:<34} {code:<36} {n:>8}");
            }
            eprintln!("failed list: {} records in {s}", records.len());
        }
        FailedAction::Show {
            store: args,
            prefix,
        } => {
            let s = store(&args).await;
            let records = s
                .read(&prefix)
                .await
                .with_context(|| format!("while reading the backup {s}"))?;
            for r in &records {
                println!("{}", show(r));
            }
            eprintln!(
                "failed show: {} records under {prefix} in {s}",
                records.len()
            );
        }
        FailedAction::Replay {
            store: args,
            prefix,
            again,
            sink,
        } => {
            anyhow::ensure!(
                prefix.starts_with("processing-failed"),
                "only processing-failed/ records are posts the producer can send again; \
                 {prefix} holds transformed documents (fix the mapping, then re-index them)"
            );
            let s = store(&args).await;
            #[cfg(feature = "local")]
            if sink.local.local {
                let target = firehose_local::cli::backup_store(&sink.local.args).await;
                anyhow::ensure!(
                    !s.same_as(&target),
                    "the backup {s} is the local stream's own backup: replaying it into the same \
                     stream would write its failures back where they are read; pass another --out or --s3-bucket"
                );
            }
            let pending = backup::pending(&s, &prefix, again)
                .await
                .with_context(|| format!("while reading the backup {s}"))?;
            eprintln!(
                "failed replay: {} records in {} objects under {prefix}; {} objects replayed before{}",
                pending.records(),
                pending.objects.len(),
                pending.skipped.len(),
                if pending.skipped.is_empty() || again { "" } else { " skipped (--again sends them too)" }
            );
            let totals: Vec<(String, usize)> = pending
                .objects
                .iter()
                .map(|(k, r)| (k.clone(), r.len()))
                .collect();
            let objects = pending.objects;
            let mut settled = backup::Settled::default();
            let to = sink.stream.clone();
            let outcome = run::pipeline(
                sink,
                |records, fate| {
                    if fate != producer::sink::Fate::Lost {
                        settled.add(records.iter().copied());
                    }
                },
                move |tx, stats, stop| backup::send(objects, tx, stats, stop),
            )
            .await;
            let marked = settled.mark(&s, &totals, &to).await?;
            eprintln!(
                "failed replay: {marked} of {} objects marked replayed in {s}",
                totals.len()
            );
            outcome?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_shown_readably() {
        let body = format!(
            "{}\n{}\n",
            json!({"attemptsMade":1,"arrivalTimestamp":5,"errorCode":"Lambda.ProcessingFailed","errorMessage":"truncated_json","attemptEndingTimestamp":6,"rawData":STANDARD.encode(b"{\"data\":{\"id\":\"1\"\n"),"lambdaArn":"a"}),
            json!({"attemptsMade":1,"arrivalTimestamp":7,"errorCode":"Lambda.ProcessingFailed","errorMessage":"invalid_utf8","attemptEndingTimestamp":8,"rawData":STANDARD.encode(b"caf\xe9\n"),"lambdaArn":"a"}),
        );
        let records =
            firehose_backup::records::parse("processing-failed/2024/01/01/00/s-1", &body).unwrap();
        assert_eq!(show(&records[0])["data"], "{\"data\":{\"id\":\"1\"\n");
        assert_eq!(show(&records[1])["data"]["note"], "not UTF-8");
    }
}
