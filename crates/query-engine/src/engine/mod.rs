//! The DataFusion query engine (docs/architecture.md, "Query isolation"): `run` is the query port in the server
//! (fair admission, table resolution, worker processes, timeouts), `execute` what a worker does with one job (a
//! fresh context holding only the job's tables, the read-only barriers, the join limit, the auto limit on the plan,
//! row caps and the JSON encoding of cells).

mod admission;
pub(crate) mod cells;
mod clustered_groups;
mod column_sets;
mod conjunctions;
mod decimal_arithmetic;
mod dictionary_groups;
mod eager;
pub(crate) mod execute;
pub(crate) mod file_caches;
mod filtered_aggregate;
mod float_compare;
mod group_top_k;
mod join_limit;
mod join_sides;
mod key_bloom;
mod key_words;
mod like_patterns;
mod local_files;
mod masked_accumulators;
mod partial_aggregate;
mod ranges;
mod repeated_joins;
mod rewrite_expressions;
mod routed_filter;
pub(crate) mod run;
mod sandbox;
mod scan_filters;
mod shared_subplans;
mod short_keys;
mod single_copy_filter;
mod single_input;
mod sql_problems;
pub(crate) mod tables;

pub use admission::{Admission, AdmissionLimits, Slot};
pub use clustered_groups::{ClusteredGroups, ClusteredPartialAggregateExec};
pub use column_sets::KeySetFilterExec;
pub use conjunctions::{Conjunction, Conjunctions};
pub use decimal_arithmetic::{DecimalArithmetic, DecimalArithmetics};
pub use dictionary_groups::{DictionaryGroups, DictionaryPartialAggregateExec};
pub use eager::{EagerAggregation, KeyRanges, MAX_KEY_VALUES};
pub use execute::{EngineOptionError, check_engine_environment};
pub use filtered_aggregate::{FilteredAggregates, FilteredPartialAggregateExec};
pub use float_compare::{FloatComparison, FloatComparisons};
pub use group_top_k::{GroupTopK, GroupTopKExec};
pub use join_sides::{BuildOnFewerRows, ONE_TABLE_ROWS, ROWS_FACTOR};
pub use key_bloom::KeyCollectExec;
pub use like_patterns::{LikeMatch, LikePatterns};
pub use local_files::LocalFiles;
pub use ranges::RangeComparison;
pub use repeated_joins::RepeatedJoins;
pub use run::{DataFusionEngine, EngineSettings};
pub use scan_filters::{ScanFilterExec, ScanFilters};
pub use shared_subplans::{SharedSubplanExec, SharedSubplans, physical_rules_with_shared_subplans};
pub use short_keys::ShortKeyGroupValues;
pub use single_copy_filter::{SingleCopyFilterExec, SingleCopyFilters};
