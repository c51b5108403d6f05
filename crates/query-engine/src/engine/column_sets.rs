//! One join key column's build values sent down to the scan that produces the probe side's column, where
//! DataFusion's dynamic filter cannot go: part of the `ScanFilters` rule.
//!
//! DataFusion 55 writes one dynamic filter over all of a hash join's keys and pushes it down only as far as every
//! key column comes from one input. TPC-H Q2's correlated `ps_supplycost = (SELECT min(ps_supplycost) … WHERE
//! p_partkey = ps_partkey …)` becomes a semi join on `(p_partkey, ps_supplycost) = (ps_partkey, min(…))`: the
//! second key is the aggregate's result, so the filter stays at the join, and the subquery aggregates all 800,000
//! `partsupp` rows (joined with three tables first) for the 642 rows of parts the outer query keeps. Each key on its
//! own is still a necessary condition: a probe row whose `ps_partkey` is not among the build side's `p_partkey`
//! values cannot match, whatever its other keys. So for a join whose filter reached no scan, each probe key that
//! is a plain column is traced down through operators that pass its values on unchanged and drop rows only by
//! what the rows hold — projections, filters, repartitions, aggregates grouped by it, inner joins, and the kept
//! side of semi and anti joins — to the scan that reads it; a [`KeySetFilterExec`] there checks each batch
//! against that column's build values, collected by a `KeyCollectExec` of their own (a bloom, or an exact set of
//! dense integers: `key_bloom`). A row it drops would only have made groups or join rows that carry the same value
//! up to the join, which drops them. Until every build partition has ended the filter passes everything, so
//! nothing waits on it.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{BooleanArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{JoinType, NullEquality, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::joins::HashJoinExec;
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, ReplaceChildrenOptions,
};
use futures_util::StreamExt;

use super::key_bloom::{KeyCollectExec, KeySlot};
use super::scan_filters::{Counts, SAMPLE_EVERY, ScanFilterExec, join_filter_id};
use super::shared_subplans::is_file_scan;
use super::single_input::{only_child, passed_through_properties, recompute, visit_expressions};

/// Every eligible join of `plan` given a column set per probe key that can be traced to a scan. `used`: the ids of
/// the dynamic filters that reached a scan (their joins' blooms check all keys together already).
pub(crate) fn with_column_sets(
    plan: Arc<dyn ExecutionPlan>,
    used: &HashSet<u64>,
) -> Result<Arc<dyn ExecutionPlan>> {
    plan.transform_up(|node| {
        let Some(join) = node.downcast_ref::<HashJoinExec>() else {
            return Ok(Transformed::no(node));
        };
        // The join types whose unmatched probe rows DataFusion may drop get a dynamic filter; nulls must never
        // match (the sets hold no null).
        let eligible = join.null_equality() == NullEquality::NullEqualsNothing
            && !join.null_aware
            && join_filter_id(join).is_some_and(|id| !used.contains(&id));
        if !eligible {
            return Ok(Transformed::no(node));
        }
        let mut build = Arc::clone(join.left());
        let mut probe = Arc::clone(join.right());
        let mut changed = false;
        for (build_key, probe_key) in join.on() {
            let Some(column) = probe_key.downcast_ref::<Column>() else {
                continue;
            };
            let slot = KeySlot::new();
            if let Some(filtered) = pushed(&probe, column.index(), &slot)? {
                probe = filtered;
                build = Arc::new(KeyCollectExec::new(
                    build,
                    vec![Arc::clone(build_key)],
                    slot,
                ));
                changed = true;
            }
        }
        if !changed {
            return Ok(Transformed::no(node));
        }
        let rebuilt = Arc::clone(&node).replace_children(vec![build, probe], recompute())?;
        Ok(Transformed::yes(rebuilt))
    })
    .map(|transformed| transformed.data)
}

/// `node` with a [`KeySetFilterExec`] on `column`'s values put right above the scan that reads them, if the
/// column can be traced there; `None` when it cannot.
fn pushed(
    node: &Arc<dyn ExecutionPlan>,
    column: usize,
    slot: &Arc<KeySlot>,
) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    if is_file_scan(node) || node.downcast_ref::<ScanFilterExec>().is_some() {
        return Ok(Some(Arc::new(KeySetFilterExec::new(
            Arc::clone(node),
            column,
            Arc::clone(slot),
        ))));
    }
    let Some((child, below)) = source_of(node, column) else {
        return Ok(None);
    };
    let mut children: Vec<Arc<dyn ExecutionPlan>> = node.children().into_iter().cloned().collect();
    let Some(filtered) = pushed(&children[child], below, slot)? else {
        return Ok(None);
    };
    children[child] = filtered;
    Ok(Some(
        Arc::clone(node).replace_children(children, recompute())?,
    ))
}

/// Which child's column `column` of `node`'s output passes on unchanged, where dropping the child's rows by that
/// value drops only output rows with the same value: `(child, column in the child)`.
fn source_of(node: &Arc<dyn ExecutionPlan>, column: usize) -> Option<(usize, usize)> {
    // An operator that stops after some rows (a filter or join with a fetch) lets other rows in once these are gone.
    if node.fetch().is_some() {
        return None;
    }
    if let Some(projection) = node.downcast_ref::<ProjectionExec>() {
        let expr = &projection.expr().get(column)?.expr;
        return Some((0, expr.downcast_ref::<Column>()?.index()));
    }
    if let Some(filter) = node.downcast_ref::<FilterExec>() {
        return Some((0, projected(filter.projection().as_deref(), column)?));
    }
    let passes_rows_on = node.downcast_ref::<RepartitionExec>().is_some()
        || node.downcast_ref::<CoalescePartitionsExec>().is_some();
    if passes_rows_on {
        return Some((0, column));
    }
    if let Some(aggregate) = node.downcast_ref::<AggregateExec>() {
        let groups = aggregate.group_expr();
        if !groups.is_single() || aggregate.limit_options().is_some() {
            return None;
        }
        let (expr, _) = groups.expr().get(column)?;
        return Some((0, expr.downcast_ref::<Column>()?.index()));
    }
    if let Some(join) = node.downcast_ref::<HashJoinExec>() {
        let unprojected = projected(join.projection.as_deref(), column)?;
        let left_columns = join.left().schema().fields().len();
        return match join.join_type() {
            JoinType::Inner if unprojected < left_columns => Some((0, unprojected)),
            JoinType::Inner => Some((1, unprojected - left_columns)),
            JoinType::LeftSemi | JoinType::LeftAnti => Some((0, unprojected)),
            JoinType::RightSemi | JoinType::RightAnti => Some((1, unprojected)),
            _ => None,
        };
    }
    None
}

/// The input column behind output column `column` of an operator with an optional projection.
fn projected(projection: Option<&[usize]>, column: usize) -> Option<usize> {
    match projection {
        Some(columns) => columns.get(column).copied(),
        None => Some(column),
    }
}

/// Drops the rows whose `column` is not among a join's build values, once they are known.
#[derive(Debug)]
pub struct KeySetFilterExec {
    input: Arc<dyn ExecutionPlan>,
    column: usize,
    slot: Arc<KeySlot>,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl KeySetFilterExec {
    fn new(input: Arc<dyn ExecutionPlan>, column: usize, slot: Arc<KeySlot>) -> Self {
        let properties = Arc::clone(input.properties());
        Self {
            input,
            column,
            slot,
            properties,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    fn key(&self) -> Arc<dyn PhysicalExpr> {
        let schema = self.input.schema();
        Arc::new(Column::new(schema.field(self.column).name(), self.column))
    }
}

impl DisplayAs for KeySetFilterExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "KeySetFilterExec: {} among a join's build keys",
            self.key()
        )
    }
}

impl ExecutionPlan for KeySetFilterExec {
    fn name(&self) -> &'static str {
        "KeySetFilterExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        visit_expressions([self.key()], f)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = only_child(children, "KeySetFilterExec")?;
        let properties = passed_through_properties(options, &self.properties, &input);
        Ok(Arc::new(Self {
            input,
            column: self.column,
            slot: Arc::clone(&self.slot),
            properties,
            metrics: ExecutionPlanMetricsSet::new(),
        }))
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(children, recompute())
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let schema = input.schema();
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let checked: Count = MetricBuilder::new(&self.metrics).counter("checked_rows", partition);
        let keys = [self.key()];
        let slot = Arc::clone(&self.slot);
        // Like the scan filters: a set that keeps nine rows in ten or more is checked on one batch in eight only.
        let mut counts = Counts::default();
        let mut batches = 0_usize;
        let stream = input.map(move |batch| {
            let batch = batch?;
            let _timer = baseline.elapsed_compute().timer();
            batches += 1;
            let sampled = batches.is_multiple_of(SAMPLE_EVERY);
            let set = slot.bloom().filter(|_| sampled || !counts.mostly_passing());
            let Some(set) = set else {
                baseline.record_output(batch.num_rows());
                return Ok(batch);
            };
            let rows = batch.num_rows();
            checked.add(rows);
            // Dropping rows here only saves work: a set that cannot be checked passes the batch.
            let kept = match set.truth(&keys, &batch) {
                Ok(member) => {
                    filter_record_batch(&batch, &BooleanArray::new(member, None)).unwrap_or(batch)
                }
                Err(_) => batch,
            };
            counts.add(rows, kept.num_rows());
            baseline.record_output(kept.num_rows());
            Ok::<RecordBatch, datafusion::error::DataFusionError>(kept)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}
