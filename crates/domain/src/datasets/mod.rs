//! Dataset rules. So far: the URL normalisation every dataset URL goes through (behaviour.md §3.2).

mod dataset_url;

pub use dataset_url::{DatasetUrl, DatasetUrlError};
