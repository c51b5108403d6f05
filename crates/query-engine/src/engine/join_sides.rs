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
//!
//! An inner join left partitioned whose build side is estimated at no more than [`ONE_TABLE_ROWS`] rows and whose
//! probe side is a table's scan estimated at [`ROWS_FACTOR`] times that or more builds one hash table for all
//! partitions instead (`CollectLeft`): the scanned table is then not repartitioned at all (TPC-H Q5 repartitioned
//! 5.46 M `lineitem` rows to probe 228 K `orders` rows). Only over a scan, whose estimate is its row count under
//! its filters: the estimate of a join's output can be far off (Q21's `orders` side of a join is estimated at
//! 300 K rows and has 729 K; one thread building that table cost more than the repartition saved), and only inner
//! joins, whose build side needs no per-partition bookkeeping of unmatched rows.

use std::sync::Arc;

use datafusion::common::JoinType;
use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};

/// How many times the probe side's estimated rows the build side must have for the sides to be swapped (and the
/// probe side the build side's for one hash table over a scan).
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
            if !swappable {
                return Ok(Transformed::no(node));
            }
            let (Some(build), Some(probe)) = (rows(join.left()), rows(join.right())) else {
                return Ok(Transformed::no(node));
            };
            if build >= probe.max(1).saturating_mul(ROWS_FACTOR) {
                return Ok(Transformed::yes(
                    join.swap_inputs(PartitionMode::Partitioned)?,
                ));
            }
            if one_table_worth_sharing(join, build, probe) {
                return Ok(Transformed::yes(Arc::new(
                    join.builder()
                        .with_partition_mode(PartitionMode::CollectLeft)
                        .build()?,
                )));
            }
            Ok(Transformed::no(node))
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

/// The most rows a build side may be estimated at for one shared hash table instead of a partitioned join.
pub const ONE_TABLE_ROWS: usize = 512 * 1024;

/// Whether an inner join, its sides estimated at `build` and `probe` rows, should build one hash table for all
/// partitions (`CollectLeft`) rather than partition both sides: the build side at no more than [`ONE_TABLE_ROWS`]
/// rows, the probe side at [`ROWS_FACTOR`] times that or more, and the probe side a table's scan (filters and
/// projections over it, no join whose output estimate could be far off). Then the big side is not repartitioned
/// at all (TPC-H Q5: 5.46 M `lineitem` rows).
fn one_table_worth_sharing(join: &HashJoinExec, build: usize, probe: usize) -> bool {
    *join.join_type() == JoinType::Inner
        && is_scan(join.right())
        && build <= ONE_TABLE_ROWS
        && probe >= build.max(1).saturating_mul(ROWS_FACTOR)
}

/// A file scan, possibly under filters and projections.
fn is_scan(plan: &Arc<dyn ExecutionPlan>) -> bool {
    if plan.downcast_ref::<DataSourceExec>().is_some() {
        return true;
    }
    let passes = plan.downcast_ref::<FilterExec>().is_some()
        || plan.downcast_ref::<ProjectionExec>().is_some();
    passes && plan.children().len() == 1 && is_scan(plan.children()[0])
}

/// A plan's estimated row count, when DataFusion has one.
fn rows(plan: &Arc<dyn ExecutionPlan>) -> Option<usize> {
    StatisticsContext::new()
        .compute(plan.as_ref(), &StatisticsArgs::new())
        .ok()
        .and_then(|stats| stats.num_rows.get_value().copied())
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
