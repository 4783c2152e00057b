//! Garbage collection of the registry's blobs. Deleting an image removes its manifest; its layer
//! and config blobs stay on disk until distribution's collector (`registry garbage-collect`) runs.
//!
//! In managed mode Wharf runs the collector itself ([`runner`]): the registry is restarted
//! read-only (pulls go on, pushes and deletes get the registry's read-only error), the collector
//! runs on the registry's config, and the registry is restarted read-write, whatever happened.
//! The registry process belongs to the server crate: it hands this module a
//! [`RegistryMaintenance`] (none in external mode). In external mode the page shows the
//! procedure for that registry ([`procedure`]) and the bytes deletions made collectable
//! ([`store::collectable`]).
//!
//! Never `--delete-untagged`: distribution 2.8 then deletes the platform manifests of tagged
//! multi-arch images (docs/garbage-collection.md).

pub mod output;
pub mod procedure;
pub mod runner;
pub mod schedule;
pub mod store;

use futures::future::BoxFuture;

/// What the collector printed, and whether it ended well.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectorOutput {
    /// Its standard output and error, interleaved as read, possibly cut ([`output::BoundedLog`]).
    pub log: String,
    /// The digests it removed (or, dry, would remove).
    pub blobs: Vec<String>,
    /// How many blobs it named in all (`blobs` may be cut).
    pub blob_count: u64,
    /// `None`: it exited with 0; else what went wrong.
    pub error: Option<String>,
}

/// What the server crate's managed registry offers garbage collection. Each call is bounded in
/// time by its implementation.
pub trait RegistryMaintenance: Send + Sync {
    /// Restarts the registry with `storage.maintenance.readonly.enabled` set to `read_only`.
    fn set_read_only(&self, read_only: bool) -> BoxFuture<'_, Result<(), String>>;
    /// Runs `garbage-collect` (with `--dry-run` when `dry_run`) on the registry's config, until it
    /// ends or `cancel` resolves (then the collector is killed and the output says so).
    fn garbage_collect<'a>(&'a self, dry_run: bool, cancel: BoxFuture<'a, ()>) -> BoxFuture<'a, CollectorOutput>;
    /// Bytes under the storage directory; `None` where they cannot be measured (S3).
    fn storage_bytes(&self) -> BoxFuture<'_, Option<u64>>;
    /// Where the images are, for the page ("filesystem /data/registry", "S3 bucket …").
    fn storage_description(&self) -> String;
}
