//! A partial aggregate that takes the filter below it in, a physical optimizer rule of our own.
//!
//! `SELECT … WHERE <predicate> GROUP BY …` runs in DataFusion as a filter that copies every kept row of every
//! column the aggregate reads into new batches, and a partial aggregate over those. When the predicate keeps most
//! rows, the copy is most of the filter's cost and buys nothing: TPC-H Q1 keeps 98.6 % of `lineitem`, and its filter
//! (copying six columns of those rows) was 17 % of its CPU (docs/benchmarks.md, "Filters taken into the aggregate").
//! The predicate's rows can instead choose a group: the dropped rows all go to one extra group that is never
//! emitted.
//!
//! [`FilteredPartialAggregateExec`] replaces a partial `AggregateExec` over a `FilterExec` (with or without a
//! `ProjectionExec` between them) and decides per batch, on the rows the predicate keeps: three in four or more,
//! and the aggregate's inputs are computed over the whole batch, the groups of the kept rows are found (short keys
//! in place, others from a copy of the kept rows' keys: `short_keys::KeptGroups`), and every dropped row is added
//! to the extra group; fewer, and the batch is filtered
//! first, as before. (DataFusion's groups accumulators also take a row mask, but their loops run about twice as
//! slow with one.) An expression that fails over the whole batch (a division by zero in a row the predicate
//! drops, say) sends that batch the filtering way, where it is computed over the kept rows only — so errors and
//! answers are DataFusion's. Groups are found by DataFusion's own `GroupValues`, the accumulators are DataFusion's,
//! and the output is the replaced aggregate's. Without `GROUP BY`, when every aggregate skips nulls, the kept rows
//! go in place to DataFusion's plain accumulators instead, the dropped ones marked null (`masked_accumulators`).
//! Expressions that are volatile (`random()`) are left as planned, and so is any aggregate another rule of ours
//! stands in for.
//!
//! The replaced operators are kept as a template (their plan over an empty leaf in place of the filter's input),
//! so the expression rules that run later (`decimal_arithmetic`, `conjunctions`) rewrite them as they would the
//! originals.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, RecordBatch};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatchOptions;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Result, internal_datafusion_err};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::EmitTo;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr_common::physical_expr::is_volatile;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties,
    ReplaceChildrenOptions,
};
use futures_util::StreamExt;

use super::masked_accumulators::MaskedAccumulators;
use super::partial_aggregate::{AccumulatorInput, Accumulators, plain_partial};
use super::rewrite_expressions::truth;
use super::short_keys::{KeptGroups, ShortKeyGroupValues};
use super::single_input::{only_child, recompute, visit_expressions};

/// The accumulators' group of the rows the predicate drops; a group of values is its index in the group values
/// plus one.
const TRASH: usize = 0;

/// Batches keeping at least this share of their rows are aggregated under a mask rather than filtered.
const MASKED_SHARE: (usize, usize) = (3, 4);

/// The rule: every eligible partial aggregate over a filter becomes a [`FilteredPartialAggregateExec`].
#[derive(Debug, Default)]
pub struct FilteredAggregates;

impl PhysicalOptimizerRule for FilteredAggregates {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            Ok(match FilteredPartialAggregateExec::replacing(&node)? {
                Some(exec) => Transformed::yes(Arc::new(exec) as Arc<dyn ExecutionPlan>),
                None => Transformed::no(node),
            })
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &'static str {
        "tabletalk_filtered_aggregates"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The operators taken in, read out of a template: `AggregateExec` ← [`ProjectionExec`] ← `FilterExec` ← leaf.
struct Parts<'a> {
    aggregate: &'a AggregateExec,
    projection: Option<&'a ProjectionExec>,
    filter: &'a FilterExec,
}

impl<'a> Parts<'a> {
    /// The parts of `plan` when it has the shape and nothing in it stands in the way (see the module's comment).
    fn of(plan: &'a Arc<dyn ExecutionPlan>) -> Option<Self> {
        let aggregate = plan.downcast_ref::<AggregateExec>()?;
        if !plain_partial(aggregate) {
            return None;
        }
        let below = aggregate.input();
        let (projection, filter) = match below.downcast_ref::<ProjectionExec>() {
            Some(projection) => (
                Some(projection),
                projection.input().downcast_ref::<FilterExec>()?,
            ),
            None => (None, below.downcast_ref::<FilterExec>()?),
        };
        if filter.fetch().is_some() {
            return None;
        }
        let parts = Self {
            aggregate,
            projection,
            filter,
        };
        let mut volatile = false;
        parts
            .visit(&mut |expr| {
                volatile |= is_volatile(expr);
                Ok(TreeNodeRecursion::Continue)
            })
            .ok()?;
        (!volatile).then_some(parts)
    }

    /// Calls `f` on every expression of the three operators.
    fn visit(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        let mut expressions = vec![Arc::clone(self.filter.predicate())];
        if let Some(projection) = self.projection {
            expressions.extend(projection.expr().iter().map(|item| Arc::clone(&item.expr)));
        }
        expressions.extend(
            self.aggregate
                .group_expr()
                .expr()
                .iter()
                .map(|(e, _)| Arc::clone(e)),
        );
        expressions.extend(
            self.aggregate
                .aggr_expr()
                .iter()
                .flat_map(|a| a.expressions()),
        );
        expressions.extend(self.aggregate.filter_expr().iter().flatten().cloned());
        visit_expressions(expressions, f)
    }
}

/// A partial aggregate and the filter (and projection) below it, run as one; same output as the aggregate.
#[derive(Debug)]
pub struct FilteredPartialAggregateExec {
    input: Arc<dyn ExecutionPlan>,
    /// The replaced operators over an empty leaf of the input's schema.
    template: Arc<dyn ExecutionPlan>,
    metrics: ExecutionPlanMetricsSet,
}

impl FilteredPartialAggregateExec {
    /// The replacement of `node`, when it is an eligible partial aggregate over a filter.
    fn replacing(node: &Arc<dyn ExecutionPlan>) -> Result<Option<Self>> {
        let Some(parts) = Parts::of(node) else {
            return Ok(None);
        };
        let input = Arc::clone(parts.filter.input());
        let leaf = leaf_like(&input);
        let filter = Arc::new(parts.filter.clone()).replace_children(vec![leaf], recompute())?;
        let below = match parts.projection {
            Some(projection) => {
                Arc::new(projection.clone()).replace_children(vec![filter], recompute())?
            }
            None => filter,
        };
        let template = Arc::clone(node).replace_children(
            vec![below],
            ReplaceChildrenOptions::new(datafusion::physical_plan::ChildrenPropertiesMode::Keep),
        )?;
        Ok(Some(Self {
            input,
            template,
            metrics: ExecutionPlanMetricsSet::new(),
        }))
    }

    /// The template of the operators taken in, for the expression rules (`rewrite_expressions`).
    pub(crate) fn template(&self) -> &Arc<dyn ExecutionPlan> {
        &self.template
    }

    /// The same operator with its template's expressions rewritten.
    pub(crate) fn with_template(&self, template: Arc<dyn ExecutionPlan>) -> Result<Self> {
        if Parts::of(&template).is_none() {
            return Err(internal_datafusion_err!(
                "a rewritten FilteredPartialAggregateExec template lost its shape"
            ));
        }
        Ok(Self {
            input: Arc::clone(&self.input),
            template,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    fn parts(&self) -> Result<Parts<'_>> {
        Parts::of(&self.template).ok_or_else(|| {
            internal_datafusion_err!("FilteredPartialAggregateExec's template lost its shape")
        })
    }
}

impl DisplayAs for FilteredPartialAggregateExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let Ok(parts) = self.parts() else {
            return write!(f, "FilteredPartialAggregateExec");
        };
        let groups: Vec<&str> = parts
            .aggregate
            .group_expr()
            .expr()
            .iter()
            .map(|(_, name)| name.as_str())
            .collect();
        let aggregates: Vec<&str> = parts
            .aggregate
            .aggr_expr()
            .iter()
            .map(|a| a.name())
            .collect();
        write!(
            f,
            "FilteredPartialAggregateExec: predicate={}, gby=[{}], aggr=[{}]",
            parts.filter.predicate(),
            groups.join(", "),
            aggregates.join(", ")
        )
    }
}

impl ExecutionPlan for FilteredPartialAggregateExec {
    fn name(&self) -> &'static str {
        "FilteredPartialAggregateExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.template.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.parts()?.visit(f)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = only_child(children, "FilteredPartialAggregateExec")?;
        let template = rebuilt_over(&self.template, leaf_like(&input))?;
        Ok(Arc::new(Self {
            input,
            template,
            metrics: ExecutionPlanMetricsSet::new(),
        }))
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
        let parts = self.parts()?;
        let input = self.input.execute(partition, Arc::clone(&context))?;
        let schema = self.schema();
        let group_fields = parts.aggregate.group_expr().expr().len();
        let group_schema = Arc::new(schema.project(&(0..group_fields).collect::<Vec<_>>())?);
        let aggregation = Aggregation {
            predicate: Arc::clone(parts.filter.predicate()),
            filter_columns: parts.filter.projection().as_ref().map(|p| p.to_vec()),
            projection: parts.projection.map(|p| {
                (
                    p.expr().iter().map(|item| Arc::clone(&item.expr)).collect(),
                    p.schema(),
                )
            }),
            group_exprs: parts
                .aggregate
                .group_expr()
                .expr()
                .iter()
                .map(|(e, _)| Arc::clone(e))
                .collect(),
            groups: (group_fields > 0)
                .then(|| KeptGroups::new(Arc::clone(&group_schema)))
                .transpose()?,
            accumulators: Accumulators::of(parts.aggregate)?,
            masked: MaskedAccumulators::of(parts.aggregate)?,
            seen_rows: false,
            row_groups: Vec::new(),
            group_of_row: Vec::new(),
            reservation: MemoryConsumer::new(format!("FilteredPartialAggregate[{partition}]"))
                .register(context.memory_pool()),
            schema: Arc::clone(&schema),
            batch_size: context.session_config().batch_size(),
            baseline: BaselineMetrics::new(&self.metrics, partition),
            masked_rows: MetricBuilder::new(&self.metrics).counter("masked_rows", partition),
            filtered_rows: MetricBuilder::new(&self.metrics).counter("filtered_rows", partition),
        };
        let batches = futures_util::stream::unfold(
            (input, aggregation, VecDeque::new(), false),
            |(mut input, mut aggregation, mut ready, mut finished)| async move {
                loop {
                    if let Some(batch) = ready.pop_front() {
                        aggregation.baseline.record_output(batch_rows(&batch));
                        return Some((batch, (input, aggregation, ready, finished)));
                    }
                    if finished {
                        aggregation.baseline.done();
                        return None;
                    }
                    let outcome = match input.next().await {
                        Some(Ok(batch)) => aggregation.add(&batch),
                        Some(Err(error)) => Err(error),
                        None => {
                            finished = true;
                            aggregation.emit()
                        }
                    };
                    match outcome {
                        Ok(batches) => ready.extend(batches.into_iter().map(Ok)),
                        Err(error) => {
                            ready.push_back(Err(error));
                            finished = true;
                        }
                    }
                }
            },
        );
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, batches)))
    }
}

fn batch_rows(batch: &Result<RecordBatch>) -> usize {
    batch.as_ref().map_or(0, RecordBatch::num_rows)
}

/// The template's leaf for `input`: its schema and partition count (the aggregate's partitioning is its input's,
/// and the template's properties are the operator's).
fn leaf_like(input: &Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
    let partitions = input.output_partitioning().partition_count();
    Arc::new(EmptyExec::new(input.schema()).with_partitions(partitions))
}

/// `template` rebuilt from the bottom with `leaf` in place of its leaf.
fn rebuilt_over(
    template: &Arc<dyn ExecutionPlan>,
    leaf: Arc<dyn ExecutionPlan>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let children = template.children();
    match children.as_slice() {
        [] => Ok(leaf),
        [child] => {
            let child = rebuilt_over(child, leaf)?;
            Arc::clone(template).replace_children(vec![child], recompute())
        }
        _ => Err(internal_datafusion_err!(
            "FilteredPartialAggregateExec's template has an operator of several inputs"
        )),
    }
}

/// One partition's aggregation.
struct Aggregation {
    predicate: Arc<dyn PhysicalExpr>,
    /// The filter's own projection: the input columns it passes on.
    filter_columns: Option<Vec<usize>>,
    /// The projection between the filter and the aggregate: its expressions and output schema.
    projection: Option<(Vec<Arc<dyn PhysicalExpr>>, SchemaRef)>,
    group_exprs: Vec<Arc<dyn PhysicalExpr>>,
    /// `None` without `GROUP BY`: every row is in group 0.
    groups: Option<KeptGroups>,
    accumulators: Accumulators,
    /// Without `GROUP BY`, and when every aggregate ignores nulls: the plain accumulators that take a batch's kept
    /// rows in place (`masked_accumulators`), used instead of `accumulators`.
    masked: Option<MaskedAccumulators>,
    /// Whether any row reached the accumulators since they last emitted (the one group of an aggregate without
    /// `GROUP BY` exists only then).
    seen_rows: bool,
    /// Each row's group from the group values, `ShortKeyGroupValues::DROPPED` for a row the predicate drops.
    row_groups: Vec<usize>,
    group_of_row: Vec<usize>,
    reservation: MemoryReservation,
    schema: SchemaRef,
    batch_size: usize,
    baseline: BaselineMetrics,
    masked_rows: Count,
    filtered_rows: Count,
}

/// A batch's rows ready for the accumulators: everything that can fail on the rows' values is done.
struct Prepared {
    rows: usize,
    inputs: Vec<AccumulatorInput>,
    /// The group keys of every row; with a mask, the groups skip the rows it drops.
    keys: Vec<ArrayRef>,
}

impl Aggregation {
    /// Adds `batch`'s kept rows. Past the memory limit the groups so far are emitted (the final aggregate above
    /// merges a group emitted twice) and returned.
    fn add(&mut self, batch: &RecordBatch) -> Result<Vec<RecordBatch>> {
        let elapsed = self.baseline.elapsed_compute().clone();
        let timer = elapsed.timer();
        let rows = batch.num_rows();
        let mask = truth(&self.predicate, batch)?;
        let kept = mask.count_set_bits();
        // Only the columns the filter passes on are copied, when it copies.
        let batch = &match &self.filter_columns {
            Some(columns) => batch.project(columns)?,
            None => batch.clone(),
        };
        if self.masked.is_some() {
            self.add_masked(batch, &mask, kept)?;
        } else if kept == rows {
            let prepared = self.prepare(batch)?;
            self.commit(prepared, None)?;
            self.masked_rows.add(kept);
        } else if kept > 0 {
            let mostly_kept = kept * MASKED_SHARE.1 >= rows * MASKED_SHARE.0;
            // Over the whole batch, an expression may fail on a row the predicate drops: such a batch is filtered.
            if let Some(Ok(prepared)) = mostly_kept.then(|| self.prepare(batch)) {
                self.commit(prepared, Some(&mask))?;
                self.masked_rows.add(kept);
            } else {
                let filtered = filter_record_batch(batch, &BooleanArray::new(mask, None))?;
                let prepared = self.prepare(&filtered)?;
                self.commit(prepared, None)?;
                self.filtered_rows.add(kept);
            }
        }
        timer.done();
        let used = self.groups.as_ref().map_or(0, KeptGroups::size)
            + self.accumulators.size()
            + self.masked.as_ref().map_or(0, MaskedAccumulators::size);
        if self.reservation.try_resize(used).is_ok() {
            return Ok(Vec::new());
        }
        self.emit()
    }

    /// Adds `batch`'s rows that `mask` sets (`kept` of them) to the plain accumulators: in place with the others
    /// marked null when the mask keeps most rows and the arguments can be computed over all of them, otherwise
    /// from the filtered batch.
    fn add_masked(&mut self, batch: &RecordBatch, mask: &BooleanBuffer, kept: usize) -> Result<()> {
        if kept == 0 {
            return Ok(());
        }
        let rows = batch.num_rows();
        let mostly_kept = kept * MASKED_SHARE.1 >= rows * MASKED_SHARE.0;
        // Over the whole batch, an expression may fail on a row the predicate drops: such a batch is filtered.
        let (inputs, in_place) =
            if let Some(Ok(inputs)) = mostly_kept.then(|| self.masked_inputs(batch)) {
                (inputs, true)
            } else {
                let filtered = filter_record_batch(batch, &BooleanArray::new(mask.clone(), None))?;
                (self.masked_inputs(&filtered)?, false)
            };
        let masked = self
            .masked
            .as_mut()
            .ok_or_else(|| internal_datafusion_err!("no plain accumulators to add to"))?;
        if in_place {
            masked.apply(inputs, (kept < rows).then_some(mask))?;
            self.masked_rows.add(kept);
        } else {
            masked.apply(inputs, None)?;
            self.filtered_rows.add(kept);
        }
        self.seen_rows = true;
        Ok(())
    }

    /// The plain accumulators' arguments over `batch` (the filter's columns).
    fn masked_inputs(&self, batch: &RecordBatch) -> Result<Vec<AccumulatorInput>> {
        let input = self.aggregate_input(batch)?;
        self.masked
            .as_ref()
            .ok_or_else(|| internal_datafusion_err!("no plain accumulators to evaluate"))?
            .evaluate(&input)
    }

    /// Evaluates what the accumulators need from `batch` (the filter's columns) and every row's group keys,
    /// changing nothing.
    fn prepare(&self, batch: &RecordBatch) -> Result<Prepared> {
        let input = self.aggregate_input(batch)?;
        let rows = input.num_rows();
        let inputs = self.accumulators.evaluate(&input)?;
        let keys = self
            .group_exprs
            .iter()
            .map(|e| e.evaluate(&input)?.into_array(rows))
            .collect::<Result<Vec<ArrayRef>>>()?;
        Ok(Prepared { rows, inputs, keys })
    }

    /// Adds prepared rows to their groups. Rows the mask drops go to group 0, which collects them and is never
    /// emitted: the accumulators then run their loops without a filter, which are about twice as fast as with one
    /// (`TRASH`).
    fn commit(&mut self, prepared: Prepared, mask: Option<&BooleanBuffer>) -> Result<()> {
        let Prepared { rows, inputs, keys } = prepared;
        self.group_of_row.clear();
        let total = if let Some(groups) = &mut self.groups {
            groups.assign(&keys, mask, &mut self.row_groups)?;
            self.group_of_row
                .extend(self.row_groups.iter().map(|group| {
                    if *group == ShortKeyGroupValues::DROPPED {
                        TRASH
                    } else {
                        group + 1
                    }
                }));
            groups.values().len() + 1
        } else {
            match mask {
                Some(mask) => self
                    .group_of_row
                    .extend(mask.iter().map(|kept| if kept { 1 } else { TRASH })),
                None => self.group_of_row.resize(rows, 1),
            }
            2
        };
        self.seen_rows = true;
        self.accumulators.apply(inputs, &self.group_of_row, total)
    }

    /// The batch the aggregate would have read from the filter's columns of a batch: the projection's expressions.
    fn aggregate_input(&self, passed: &RecordBatch) -> Result<RecordBatch> {
        let Some((exprs, schema)) = &self.projection else {
            return Ok(passed.clone());
        };
        let rows = passed.num_rows();
        let columns = exprs
            .iter()
            .map(|e| e.evaluate(passed)?.into_array(rows))
            .collect::<Result<Vec<_>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(schema),
            columns,
            &options,
        )?)
    }

    /// Every group so far with its states, in batches of at most `batch_size` rows; the groups start over.
    fn emit(&mut self) -> Result<Vec<RecordBatch>> {
        let mut columns = match self.groups.as_mut().map(KeptGroups::values) {
            Some(groups) if groups.is_empty() => return Ok(Vec::new()),
            Some(groups) => groups.emit(EmitTo::All)?,
            None if !self.seen_rows => return Ok(Vec::new()),
            None => Vec::new(),
        };
        self.seen_rows = false;
        if let Some(masked) = &mut self.masked {
            columns.extend(masked.take_states()?);
        } else {
            let states = self.accumulators.take_states()?;
            columns.extend(
                states
                    .iter()
                    .map(|state| state.slice(1, state.len().saturating_sub(1))),
            );
        }
        // Never without columns: a group column, an aggregate's state, or both.
        let all = RecordBatch::try_new(Arc::clone(&self.schema), columns)?;
        let size = self.batch_size.max(1);
        Ok((0..all.num_rows())
            .step_by(size)
            .map(|start| all.slice(start, size.min(all.num_rows() - start)))
            .collect())
    }
}
