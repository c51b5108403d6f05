//! The DataFusion query engine (behaviour.md §4.1–4.4): a fresh context per query holding only the given tables,
//! the read-only barriers, per-query memory and time limits, a bounded FIFO queue, the auto limit on the plan,
//! and the JSON encoding of cells.

mod admission;
pub(crate) mod cells;
mod dictionary_groups;
mod eager;
mod float_compare;
pub(crate) mod run;
mod sandbox;
pub(crate) mod tables;

pub use dictionary_groups::{DictionaryGroups, DictionaryPartialAggregateExec};
pub use eager::{EagerAggregation, KeyRanges, MAX_KEY_VALUES};
pub use float_compare::{FloatComparison, FloatComparisons};
pub use run::{DataFusionEngine, EngineSettings};
