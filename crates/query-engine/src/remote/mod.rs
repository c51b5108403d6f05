//! Remote Parquet over HTTP range requests: an `ObjectStore` whose every request goes through the SSRF guard, and
//! the footers of remote files kept on disk for every process that reads them.

mod ranges;
mod store;
mod tails;

pub use ranges::{Part, RangeCache};
pub use store::{GuardedStore, RemoteObject, STORE_URL, StoreFailure, object_path};
pub use tails::TailCache;
