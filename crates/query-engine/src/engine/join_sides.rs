//! A partitioned hash join builds its table on the side estimated to have far fewer rows, a physical optimizer
//! rule of our own placed right after DataFusion's join selection.
//!
//! DataFusion 55 orders a join's inputs by their estimated byte sizes first and looks at rows only when a size is
//! unknown, and the byte sizes of a join's output are unreliable: those of a semi join are its columns' sizes,
//! which come unscaled through the inner joins below it (TPC-H Q21's `EXISTS` side, 60,000 estimated rows of three
//! narrow columns, 73,000 real, is estimated at 95 MB). Q21's `NOT EXISTS` join built its hash table on the 3.8 M
//! late `lineitem` rows (181 ms) and probed it with the 73,000, and its scan got no filter from the join.
//!
//! When a partitioned join's build side is estimated at [`ROWS_FACTOR`] times the rows of its probe side or more,
//! both estimates known, the rule swaps the two (DataFusion's own swap, which mirrors the join type and keeps the
//! output columns). A factor rather than any difference, because row estimates are rough: only a gap this wide
//! overrides the byte sizes.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};

/// How many times the probe side's estimated rows the build side must have for the sides to be swapped.
pub const ROWS_FACTOR: usize = 8;

/// The rule (see the module documentation).
#[derive(Debug, Default)]
pub struct BuildOnFewerRows;

impl PhysicalOptimizerRule for BuildOnFewerRows {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !config.optimizer.join_reordering {
            return Ok(plan);
        }
        plan.transform_up(|node| {
            let Some(join) = node.downcast_ref::<HashJoinExec>() else {
                return Ok(Transformed::no(node));
            };
            let swappable = *join.partition_mode() == PartitionMode::Partitioned
                && join.join_type().supports_swap()
                && !join.null_aware;
            if !swappable || !far_more_rows(join.left(), join.right()) {
                return Ok(Transformed::no(node));
            }
            Ok(Transformed::yes(
                join.swap_inputs(PartitionMode::Partitioned)?,
            ))
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &'static str {
        "tabletalk_build_on_fewer_rows"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Whether `build` is estimated at [`ROWS_FACTOR`] times the rows of `probe` or more (false when either is unknown).
fn far_more_rows(build: &Arc<dyn ExecutionPlan>, probe: &Arc<dyn ExecutionPlan>) -> bool {
    let rows = |plan: &Arc<dyn ExecutionPlan>| {
        StatisticsContext::new()
            .compute(plan.as_ref(), &StatisticsArgs::new())
            .ok()
            .and_then(|stats| stats.num_rows.get_value().copied())
    };
    match (rows(build), rows(probe)) {
        (Some(build), Some(probe)) => build >= probe.max(1).saturating_mul(ROWS_FACTOR),
        _ => false,
    }
}

/// `rules` with [`BuildOnFewerRows`] placed right after DataFusion's join selection (or first, should that rule ever
/// be renamed).
pub(crate) fn after_join_selection(
    mut rules: Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>>,
) -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
    let position = rules
        .iter()
        .position(|rule| rule.name() == "join_selection")
        .map_or(0, |p| p + 1);
    rules.insert(position, Arc::new(BuildOnFewerRows));
    rules
}
