//! Filters that copy each kept row once, a physical optimizer rule of our own.
//!
//! DataFusion 55's `FilterExec` copies the rows it keeps into a new batch and then hands that batch to a coalescer
//! that gathers small batches into full ones. The coalescer passes a large batch through only while it holds
//! nothing: once one small batch is buffered (a row group's last rows, say), every following large batch is
//! copied a second time into the buffer, and the buffer's remainder keeps it that way to the end of the stream.
//! TPC-H Q1 keeps 98.6 % of `lineitem`; its filter copied nearly every row of seven columns twice (without the
//! second copy Q1 takes 0.89–0.90× the time: docs/benchmarks.md, "Filters that copy once").
//!
//! [`SingleCopyFilterExec`] does the same filtering with one copy per kept row: a batch keeping more than half a
//! batch's worth of rows is filtered into its own output batch (after whatever was buffered, so the order holds);
//! fewer kept rows are copied straight from the input into the coalescer's buffer, without an intermediate batch.
//! It replaces every `FilterExec` that does not stop after a number of rows, and keeps its predicate, projection,
//! properties and statistics, so nothing above it sees a difference but the batch sizes.
//!
//! The root of it is arrow-select's `BatchCoalescer`, which merges a big batch into a small buffer; changed there
//! (flush the buffer, pass the big batch on), every coalescing operator would gain. That is the upstream fix; a
//! patched copy of arrow-select kept here would rebuild all of DataFusion on every change, so the rule stays ours.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, BooleanArray, RecordBatch};
use datafusion::arrow::compute::kernels::coalesce::BatchCoalescer;
use datafusion::arrow::compute::{filter_record_batch, prep_null_mask_filter};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Result, Statistics, internal_datafusion_err};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::execution_plan::CardinalityEffect;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::statistics::{ChildStats, StatisticsArgs};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, ReplaceChildrenOptions,
};
use futures_util::StreamExt;

use super::single_input::{only_child, recompute};

/// The rule: every `FilterExec` without a row limit becomes a [`SingleCopyFilterExec`].
#[derive(Debug, Default)]
pub struct SingleCopyFilters;

impl PhysicalOptimizerRule for SingleCopyFilters {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(filter) = node.downcast_ref::<FilterExec>() else {
                return Ok(Transformed::no(node));
            };
            // A filter that stops after some rows is left to DataFusion, which counts them.
            if filter.fetch().is_some() {
                return Ok(Transformed::no(node));
            }
            Ok(Transformed::yes(Arc::new(SingleCopyFilterExec {
                filter: filter.clone(),
                metrics: ExecutionPlanMetricsSet::new(),
            }) as Arc<dyn ExecutionPlan>))
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &'static str {
        "tabletalk_single_copy_filters"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// DataFusion's filter (its predicate, projection, properties and statistics), executed with one copy per kept row.
#[derive(Debug)]
pub struct SingleCopyFilterExec {
    filter: FilterExec,
    metrics: ExecutionPlanMetricsSet,
}

impl DisplayAs for SingleCopyFilterExec {
    fn fmt_as(&self, format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "SingleCopy")?;
        self.filter.fmt_as(format, f)
    }
}

impl ExecutionPlan for SingleCopyFilterExec {
    fn name(&self) -> &'static str {
        "SingleCopyFilterExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.filter.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![self.filter.input()]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.filter.apply_expressions(f)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = only_child(children, "SingleCopyFilterExec")?;
        let rebuilt = Arc::new(self.filter.clone()).replace_children(vec![input], options)?;
        let filter = rebuilt
            .downcast_ref::<FilterExec>()
            .ok_or_else(|| internal_datafusion_err!("FilterExec rebuilt as another operator"))?;
        Ok(Arc::new(Self {
            filter: filter.clone(),
            metrics: ExecutionPlanMetricsSet::new(),
        }))
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(children, recompute())
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        self.filter.child_stats_requests(partition)
    }

    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        self.filter.statistics_from_inputs(input_stats, args)
    }

    fn cardinality_effect(&self) -> CardinalityEffect {
        self.filter.cardinality_effect()
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let batch_size = context.session_config().batch_size();
        let input = self.filter.input().execute(partition, context)?;
        let schema = self.schema();
        let selection = Selection {
            predicate: Arc::clone(self.filter.predicate()),
            projection: self.filter.projection().as_ref().map(|p| p.to_vec()),
            coalescer: BatchCoalescer::new(Arc::clone(&schema), batch_size),
            batch_size,
            ready: VecDeque::new(),
            baseline: BaselineMetrics::new(&self.metrics, partition),
            input_rows: MetricBuilder::new(&self.metrics).counter("input_rows", partition),
        };
        let batches = futures_util::stream::unfold(
            (input, selection, false),
            |(mut input, mut selection, mut finished)| async move {
                loop {
                    if let Some(batch) = selection.ready.pop_front() {
                        selection.baseline.record_output(batch.num_rows());
                        return Some((Ok(batch), (input, selection, finished)));
                    }
                    if finished {
                        return None;
                    }
                    let outcome = match input.next().await {
                        Some(Ok(batch)) => selection.push(&batch),
                        Some(Err(error)) => Err(error),
                        None => {
                            finished = true;
                            selection.finish()
                        }
                    };
                    if let Err(error) = outcome {
                        return Some((Err(error), (input, selection, true)));
                    }
                }
            },
        );
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, batches)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// One partition's filtering: the kept rows of each input batch, in order, in batches of about `batch_size`.
struct Selection {
    predicate: Arc<dyn PhysicalExpr>,
    projection: Option<Vec<usize>>,
    coalescer: BatchCoalescer,
    batch_size: usize,
    ready: VecDeque<RecordBatch>,
    baseline: BaselineMetrics,
    input_rows: Count,
}

impl Selection {
    fn push(&mut self, batch: &RecordBatch) -> Result<()> {
        let elapsed = self.baseline.elapsed_compute().clone();
        let _timer = elapsed.timer();
        self.input_rows.add(batch.num_rows());
        let keep = self
            .predicate
            .evaluate(batch)?
            .into_array(batch.num_rows())?;
        let keep = keep
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| {
                internal_datafusion_err!(
                    "a filter predicate gave {}, not booleans",
                    keep.data_type()
                )
            })?;
        // A null answer drops its row, as `WHERE` does.
        let keep = if keep.null_count() > 0 {
            prep_null_mask_filter(keep)
        } else {
            keep.clone()
        };
        let kept = keep.true_count();
        if kept == 0 {
            return Ok(());
        }
        let batch = match &self.projection {
            Some(columns) => batch.project(columns)?,
            None => batch.clone(),
        };
        if kept * 2 > self.batch_size {
            // Big enough to go on alone: what is buffered goes first, then this batch's rows, copied once.
            self.coalescer.finish_buffered_batch()?;
            self.take_completed();
            let kept_rows = if kept == batch.num_rows() {
                batch
            } else {
                filter_record_batch(&batch, &keep)?
            };
            self.ready.push_back(kept_rows);
        } else {
            self.coalescer.push_batch_with_filter(batch, &keep)?;
            self.take_completed();
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.coalescer.finish_buffered_batch()?;
        self.take_completed();
        Ok(())
    }

    fn take_completed(&mut self) {
        while let Some(batch) = self.coalescer.next_completed_batch() {
            self.ready.push_back(batch);
        }
    }
}
