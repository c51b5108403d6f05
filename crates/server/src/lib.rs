//! The `tabletalk` binary's library: configuration loading, the command line, and the wiring of concrete
//! adapters into the domain services. This is the only crate that names a concrete adapter; `build_state` is
//! the only place that constructs services, for production and tests alike.

pub mod cli;
pub mod config;
mod logging;
mod serve;
mod startup;
mod users_cli;
mod wiring;

pub use config::{Config, ConfigErrors, ConfigInputs};
pub use serve::{http_server, serve};
pub use startup::{AccessKey, StartupError, prepare_directories};
pub use wiring::{
    Adapters, DatasetAccess, build_state, dataset_access, identity_provider, open_database,
    real_adapters, referral_service,
};
