//! What `failed replay` has sent: a marker object per backup object replayed, in the same
//! store under `producer-replayed/` (`producer-replayed/KEY`, holding when, how many
//! records and where to). Firehose never writes there, and the readers of the backup's
//! prefixes never see it.

use std::collections::BTreeSet;

use serde_json::json;

use crate::{BackupError, Store};

/// The prefix of the markers.
pub const REPLAYED: &str = "producer-replayed/";

/// The marker's key for the backup object `key`.
pub fn marker_key(key: &str) -> String {
    format!("{REPLAYED}{key}")
}

/// The backup objects already replayed.
pub async fn replayed(store: &Store) -> Result<BTreeSet<String>, BackupError> {
    Ok(store
        .keys(REPLAYED)
        .await?
        .into_iter()
        .filter_map(|k| k.strip_prefix(REPLAYED).map(String::from))
        .collect())
}

/// Records that the object `key` was replayed: `records` records sent to `to`. A marker
/// already there (a replay with `--again`) is kept.
pub async fn mark(store: &Store, key: &str, records: usize, to: &str) -> Result<(), BackupError> {
    let body = json!({
        "key": key,
        "records": records,
        "to": to,
        "replayedAt": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    match store
        .put_new(&marker_key(key), format!("{body}\n").as_bytes())
        .await
    {
        Ok(()) | Err(BackupError::Exists(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn markers_are_kept_beside_the_backup_and_read_back() {
        let dir = std::env::temp_dir().join(format!("backup-manifest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::Dir(dir.clone());
        let key = "processing-failed/2024/01/01/00/s-1-2024-01-01-00-00-00-x";
        store
            .put_new(key, b"{\"rawData\":\"eA==\"}\n")
            .await
            .unwrap();
        assert!(replayed(&store).await.unwrap().is_empty());
        mark(&store, key, 1, "social-sentiment-dev").await.unwrap();
        mark(&store, key, 1, "social-sentiment-dev").await.unwrap();
        assert_eq!(
            replayed(&store)
                .await
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            [key]
        );
        // The backup's own prefixes do not see the marker.
        assert_eq!(store.read("processing-failed/").await.unwrap().len(), 1);
        let marker: serde_json::Value =
            serde_json::from_slice(&store.get(&marker_key(key)).await.unwrap()).unwrap();
        assert_eq!(
            (marker["records"].as_u64(), marker["to"].as_str()),
            (Some(1), Some("social-sentiment-dev"))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
