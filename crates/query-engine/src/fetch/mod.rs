//! The SSRF guard (behaviour.md §3.3).

mod error;
mod guarded;
mod policy;

pub use error::FetchError;
pub use guarded::{FetchSettings, Fetched, GuardedFetcher};
pub use policy::{AddressPolicy, Cidr, CidrParseError, is_blocked};
