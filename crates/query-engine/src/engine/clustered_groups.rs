//! Partial aggregation by runs of equal keys, a physical optimizer rule of our own.
//!
//! Data is often stored clustered by the key it is grouped by: order lines by order, events by time, readings by
//! device. DataFusion's partial aggregate looks every row's key up in a hash table all the same, and with many
//! groups that table outgrows the caches: TPC-H Q18's `GROUP BY l_orderkey` over 6 M `lineitem` rows (1.5 M
//! orders, each order's lines together) spent 270–320 ms of CPU there (docs/benchmarks.md, "Runs of equal keys").
//! A partial aggregate may emit one group more than once — the final aggregate above it merges partial states by
//! key — so where a batch's keys come in runs, each run can be one group: the groups are found by comparing each
//! row with the one before (vectorised), and DataFusion's own groups accumulators are handed one group index per
//! row, a batch at a time, without a hash table.
//!
//! [`ClusteredPartialAggregateExec`] replaces an `AggregateExec` in `Partial` mode and produces its schema. Whether
//! runs pay is decided on the data: every batch must have at most half as many runs as rows, and the first one and
//! every sixteenth after it nearly every run a key of its own (a key that comes back within a batch would come
//! back across batches too). Otherwise the rest of the partition's input, from that batch on, goes to
//! DataFusion's hash aggregate as planned, so scattered keys cost one check of one batch.

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use datafusion::arrow::compute::kernels::partition::partition;
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Result, internal_err};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, ReplaceChildrenOptions,
};
use futures_util::StreamExt;

use super::partial_aggregate::{Accumulators, Handover, plain_partial};
use super::single_input::{only_child, recompute};

/// The rule: every eligible partial aggregate becomes a [`ClusteredPartialAggregateExec`].
#[derive(Debug, Default)]
pub struct ClusteredGroups;

impl PhysicalOptimizerRule for ClusteredGroups {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let replacement = node
                .downcast_ref::<AggregateExec>()
                .filter(|aggregate| ClusteredPartialAggregateExec::eligible(aggregate))
                .map(|_| ClusteredPartialAggregateExec::new(Arc::clone(&node)));
            Ok(match replacement {
                Some(exec) => Transformed::yes(Arc::new(exec) as Arc<dyn ExecutionPlan>),
                None => Transformed::no(node),
            })
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &'static str {
        "tabletalk_clustered_groups"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Key types whose runs are found by plain equality, as the hash aggregate groups them. Floats are left out:
/// grouping treats `-0.0`, `0.0` and the NaNs by rules of its own.
fn equality_keyed(data_type: &DataType) -> bool {
    data_type.is_integer()
        || matches!(
            data_type,
            DataType::Boolean
                | DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::Binary
                | DataType::LargeBinary
                | DataType::BinaryView
                | DataType::FixedSizeBinary(_)
                | DataType::Date32
                | DataType::Date64
                | DataType::Timestamp(_, _)
                | DataType::Time32(_)
                | DataType::Time64(_)
                | DataType::Decimal32(_, _)
                | DataType::Decimal64(_, _)
                | DataType::Decimal128(_, _)
                | DataType::Decimal256(_, _)
        )
}

/// A partial aggregate that groups runs of equal keys where the input comes clustered, and hands its input to
/// the `AggregateExec` it replaces where it does not; the same output either way.
#[derive(Debug)]
pub struct ClusteredPartialAggregateExec {
    /// DataFusion's partial aggregate, over the same input: what scattered keys go to.
    aggregate: Arc<dyn ExecutionPlan>,
    metrics: ExecutionPlanMetricsSet,
}

impl ClusteredPartialAggregateExec {
    /// A plain partial `GROUP BY` of equality-keyed columns whose aggregates all have groups accumulators (no
    /// DISTINCT, no ORDER BY inside them, no grouping sets, no group limit) over an input in no particular order.
    fn eligible(aggregate: &AggregateExec) -> bool {
        let group_by = aggregate.group_expr();
        let schema = aggregate.input_schema();
        plain_partial(aggregate)
            && !group_by.expr().is_empty()
            && group_by.expr().iter().all(|(key, _)| {
                key.data_type(&schema)
                    .is_ok_and(|data_type| equality_keyed(&data_type))
            })
    }

    fn new(aggregate: Arc<dyn ExecutionPlan>) -> Self {
        Self {
            aggregate,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    fn planned(&self) -> Result<&AggregateExec> {
        let Some(aggregate) = self.aggregate.downcast_ref::<AggregateExec>() else {
            return internal_err!("ClusteredPartialAggregateExec wraps an AggregateExec");
        };
        Ok(aggregate)
    }
}

impl DisplayAs for ClusteredPartialAggregateExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let Ok(aggregate) = self.planned() else {
            return write!(f, "ClusteredPartialAggregateExec");
        };
        let keys: Vec<&str> = aggregate
            .group_expr()
            .expr()
            .iter()
            .map(|(_, name)| name.as_str())
            .collect();
        let aggregates: Vec<&str> = aggregate.aggr_expr().iter().map(|a| a.name()).collect();
        write!(
            f,
            "ClusteredPartialAggregateExec: gby=[{}], aggr=[{}]",
            keys.join(", "),
            aggregates.join(", ")
        )
    }
}

impl ExecutionPlan for ClusteredPartialAggregateExec {
    fn name(&self) -> &'static str {
        "ClusteredPartialAggregateExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.aggregate.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.aggregate.children()
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.aggregate.apply_expressions(f)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let aggregate = Arc::clone(&self.aggregate).replace_children(children, options)?;
        Ok(Arc::new(Self::new(aggregate)))
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(children, recompute())
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let planned = self.planned()?;
        let input = only_child(
            self.aggregate.children().into_iter().cloned().collect(),
            "ClusteredPartialAggregateExec",
        )?
        .execute(partition, Arc::clone(&context))?;
        let runs = RunAggregation {
            keys: planned
                .group_expr()
                .expr()
                .iter()
                .map(|(key, _)| Arc::clone(key))
                .collect(),
            accumulators: Accumulators::of(planned)?,
            schema: self.schema(),
            group_of_row: Vec::new(),
            checked_batches: 0,
            reservation: MemoryConsumer::new(format!("ClusteredPartialAggregate[{partition}]"))
                .register(context.memory_pool()),
            baseline: BaselineMetrics::new(&self.metrics, partition),
            run_batches: MetricBuilder::new(&self.metrics).counter("run_batches", partition),
            handed_over: MetricBuilder::new(&self.metrics).counter("handed_over", partition),
        };
        let handover = Handover {
            aggregate: Arc::clone(&self.aggregate),
            context,
        };
        let phase = Phase::Runs {
            input,
            runs: Box::new(runs),
            handover,
        };
        let output = futures_util::stream::unfold(phase, Phase::next);
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            output,
        )))
    }
}

/// Where a partition's stream is.
enum Phase {
    Runs {
        input: SendableRecordBatchStream,
        runs: Box<RunAggregation>,
        handover: Handover,
    },
    /// DataFusion's aggregate over the rest; its rows still count as this operator's output.
    Hashed(SendableRecordBatchStream, BaselineMetrics),
    Done,
}

impl Phase {
    async fn next(self) -> Option<(Result<RecordBatch>, Self)> {
        let mut phase = self;
        loop {
            match phase {
                Self::Done => return None,
                Self::Hashed(mut stream, baseline) => {
                    let item = stream.next().await?;
                    if let Ok(batch) = &item {
                        baseline.record_output(batch.num_rows());
                    }
                    return Some((item, Self::Hashed(stream, baseline)));
                }
                Self::Runs {
                    mut input,
                    mut runs,
                    handover,
                } => {
                    let batch = match input.next().await {
                        None => return None,
                        Some(Err(error)) => return Some((Err(error), Self::Done)),
                        Some(Ok(batch)) if batch.num_rows() == 0 => {
                            phase = Self::Runs {
                                input,
                                runs,
                                handover,
                            };
                            continue;
                        }
                        Some(Ok(batch)) => batch,
                    };
                    let outcome = runs.aggregate(&batch);
                    match outcome {
                        Err(error) => return Some((Err(error), Self::Done)),
                        Ok(Some(output)) => {
                            return Some((
                                Ok(output),
                                Self::Runs {
                                    input,
                                    runs,
                                    handover,
                                },
                            ));
                        }
                        Ok(None) => {
                            runs.handed_over.add(1);
                            match handover.hash_aggregate(batch, input) {
                                Ok(stream) => phase = Self::Hashed(stream, runs.baseline.clone()),
                                Err(error) => return Some((Err(error), Self::Done)),
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Batches at most this small go through runs whatever their count: a row group's short rest must not send the
/// whole remaining input to the hash table.
const SMALL_BATCH_ROWS: usize = 64;

/// Batches with runs whose keys are checked for coming back: the first and every this many after it (the check
/// costs a hash of every run's key, about a third of the aggregation's own time).
const DISTINCT_CHECK_EVERY: usize = 16;

/// One partition's aggregation by runs.
struct RunAggregation {
    keys: Vec<Arc<dyn PhysicalExpr>>,
    accumulators: Accumulators,
    schema: SchemaRef,
    group_of_row: Vec<usize>,
    /// Batches big enough to be checked, so far.
    checked_batches: usize,
    reservation: MemoryReservation,
    baseline: BaselineMetrics,
    run_batches: Count,
    handed_over: Count,
}

impl RunAggregation {
    /// The partial groups of `batch`, one per run of equal keys, or `None` when its keys do not come in runs:
    /// more runs than half its rows, or, on the first batch checked and every [`DISTINCT_CHECK_EVERY`]th after,
    /// keys that come back in other runs. Small batches are taken as they come.
    fn aggregate(&mut self, batch: &RecordBatch) -> Result<Option<RecordBatch>> {
        let elapsed = self.baseline.elapsed_compute().clone();
        let _timer = elapsed.timer();
        let rows = batch.num_rows();
        let keys = self
            .keys
            .iter()
            .map(|key| key.evaluate(batch)?.into_array(rows))
            .collect::<Result<Vec<_>>>()?;
        let runs = partition(&keys)?.ranges();
        let checked = rows > SMALL_BATCH_ROWS;
        if checked && runs.len() * 2 > rows {
            return Ok(None);
        }
        let starts = UInt32Array::from_iter_values(
            runs.iter()
                .map(|run| u32::try_from(run.start).unwrap_or(u32::MAX)),
        );
        let group_keys = keys
            .iter()
            .map(|key| take(key.as_ref(), &starts, None))
            .collect::<Result<Vec<_>, _>>()?;
        if checked {
            let check_distinct = self.checked_batches.is_multiple_of(DISTINCT_CHECK_EVERY);
            self.checked_batches += 1;
            if check_distinct && !mostly_distinct(&group_keys)? {
                return Ok(None);
            }
        }
        self.number_rows(&runs);
        let groups = runs.len();
        self.accumulators
            .update(batch, &self.group_of_row, groups)?;
        // The memory limit covers this operator like DataFusion's own: past it the query fails, it never grows.
        let used = self.group_of_row.capacity() * size_of::<usize>() + self.accumulators.size();
        self.reservation.try_resize(used)?;
        let mut columns = group_keys;
        columns.extend(self.accumulators.take_states()?);
        self.run_batches.add(1);
        let output = RecordBatch::try_new(Arc::clone(&self.schema), columns)?;
        self.baseline.record_output(output.num_rows());
        Ok(Some(output))
    }

    /// Every row's group: the number of its run.
    fn number_rows(&mut self, runs: &[Range<usize>]) {
        self.group_of_row.clear();
        for (group, run) in runs.iter().enumerate() {
            self.group_of_row
                .extend(std::iter::repeat_n(group, run.len()));
        }
    }
}

/// Whether at least nine in ten of the runs' keys (one row per run) differ from all the others.
fn mostly_distinct(group_keys: &[ArrayRef]) -> Result<bool> {
    let fields = group_keys
        .iter()
        .map(|key| SortField::new(key.data_type().clone()))
        .collect();
    let converter = RowConverter::new(fields)?;
    let rows = converter.convert_columns(group_keys)?;
    let distinct: HashSet<_> = rows.iter().collect();
    Ok(distinct.len() * 10 >= rows.num_rows() * 9)
}
