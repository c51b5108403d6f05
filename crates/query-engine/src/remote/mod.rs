//! Remote Parquet over HTTP range requests: an `ObjectStore` whose every request goes through the SSRF guard.

mod store;

pub use store::{GuardedStore, RemoteObject, STORE_URL, StoreFailure, object_path};
