//! The SSRF guard (docs/api.md, "Datasets").

mod error;
mod guarded;
mod policy;

pub use error::FetchError;
pub use guarded::{FetchSettings, Fetched, GuardedFetcher};
pub use policy::{AddressPolicy, Cidr, CidrParseError, is_blocked};
