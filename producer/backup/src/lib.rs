//! Firehose's S3 backup, in one place: where objects go ([`layout`]), what their JSON
//! lines hold ([`records`]), and a [`Store`] (an S3 bucket or a directory laid out like
//! one) that writes whole objects under names that never collide and reads them back.
//!
//! The local delivery stream writes the backup with it, as Firehose does on AWS; the
//! producer's `failed` commands read it, and [`manifest`] remembers what `failed replay`
//! has sent.

mod error;
pub mod layout;
pub mod manifest;
pub mod records;
pub mod store;

pub use error::BackupError;
pub use layout::{ALL_DOCUMENTS, OPENSEARCH_FAILED, PROCESSING_FAILED};
pub use records::{DocumentFailedRecord, Failed, Failure, ProcessingFailedRecord};
pub use store::{Store, Writer};

/// An S3 client for an endpoint (path-style addressing, as S3-compatible servers want),
/// configured the workspace's one way (`retry::aws`).
pub async fn s3_client(endpoint: Option<&str>) -> aws_sdk_s3::Client {
    let shared = retry::aws::config(endpoint, &retry::Timeouts::DEFAULT).await;
    let config = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}
