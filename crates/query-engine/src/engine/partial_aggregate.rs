//! What the partial aggregates of our own share: DataFusion's groups accumulators fed one group index per row
//! (`dictionary_groups`, `clustered_groups`), and the handover of the rest of a partition's input to DataFusion's
//! partial aggregate over the same input when the data turns out not to suit ours.
//!
//! A partial aggregate may stop at any batch and let another go on: the final aggregate above merges partial
//! states by key, so the groups one emitted and those the other emits add up.

use std::fmt;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{ArrayRef, BooleanArray, RecordBatch};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Result, internal_err};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_expr::equivalence::EquivalenceProperties;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, InputOrderMode, Partitioning, PlanProperties,
    ReplaceChildrenOptions,
};
use futures_util::StreamExt;

use super::rewrite_expressions::truth;
use super::single_input::{recompute, visit_expressions};

/// Whether `aggregate` is a plain partial `GROUP BY` our partial aggregates can stand in for: one grouping set, no
/// group limit, no dynamic filter it produces, an input in no particular order, and aggregates that all have groups
/// accumulators (no DISTINCT, no ORDER BY inside them).
pub(crate) fn plain_partial(aggregate: &AggregateExec) -> bool {
    let group_by = aggregate.group_expr();
    *aggregate.mode() == AggregateMode::Partial
        && group_by.is_single()
        && group_by.null_expr().is_empty()
        && aggregate.limit_options().is_none()
        && aggregate.dynamic_expressions_produced().is_empty()
        && *aggregate.input_order_mode() == InputOrderMode::Linear
        && aggregate.aggr_expr().iter().all(|a| {
            a.groups_accumulator_supported() && !a.is_distinct() && a.order_bys().is_empty()
        })
}

/// An aggregate's accumulators with the arguments and `FILTER` clauses that feed them.
pub(crate) struct Accumulators {
    arguments: AggregateArguments,
    each: Vec<Box<dyn GroupsAccumulator>>,
}

/// Every aggregate's argument expressions and `FILTER` clause.
pub(crate) struct AggregateArguments {
    arguments: Vec<Vec<Arc<dyn PhysicalExpr>>>,
    filters: Vec<Option<Arc<dyn PhysicalExpr>>>,
}

impl AggregateArguments {
    /// Those of `aggregate`.
    pub(crate) fn of(aggregate: &AggregateExec) -> Self {
        Self::new(aggregate.aggr_expr(), aggregate.filter_expr())
    }

    fn new(
        aggregates: &[Arc<AggregateFunctionExpr>],
        filters: &[Option<Arc<dyn PhysicalExpr>>],
    ) -> Self {
        Self {
            arguments: aggregates.iter().map(|a| a.expressions()).collect(),
            filters: filters.to_vec(),
        }
    }

    /// Every aggregate's arguments and `FILTER` clause evaluated over `batch`: the step that can fail on a row's
    /// values, taken before any accumulator changes.
    pub(crate) fn evaluate(&self, batch: &RecordBatch) -> Result<Vec<AccumulatorInput>> {
        let rows = batch.num_rows();
        self.arguments
            .iter()
            .zip(&self.filters)
            .map(|(arguments, filter)| {
                let values = arguments
                    .iter()
                    .map(|e| e.evaluate(batch)?.into_array(rows))
                    .collect::<Result<Vec<_>>>()?;
                let filter = match filter {
                    Some(expr) => Some(truth(expr, batch)?),
                    None => None,
                };
                Ok(AccumulatorInput { values, filter })
            })
            .collect()
    }
}

impl Accumulators {
    /// Fresh accumulators for every aggregate of `aggregate`.
    pub(crate) fn of(aggregate: &AggregateExec) -> Result<Self> {
        Self::new(aggregate.aggr_expr(), aggregate.filter_expr())
    }

    /// Fresh accumulators for `aggregates`, each with its `FILTER` clause.
    pub(crate) fn new(
        aggregates: &[Arc<AggregateFunctionExpr>],
        filters: &[Option<Arc<dyn PhysicalExpr>>],
    ) -> Result<Self> {
        Ok(Self {
            arguments: AggregateArguments::new(aggregates, filters),
            each: aggregates
                .iter()
                .map(|a| a.create_groups_accumulator())
                .collect::<Result<Vec<_>>>()?,
        })
    }

    /// Adds every row of `batch` to its group (`group_of_row`, one entry per row; `groups` groups in all).
    pub(crate) fn update(
        &mut self,
        batch: &RecordBatch,
        group_of_row: &[usize],
        groups: usize,
    ) -> Result<()> {
        let inputs = self.evaluate(batch)?;
        self.apply(inputs, group_of_row, groups)
    }

    /// Every aggregate's arguments and `FILTER` clause evaluated over `batch` (see [`AggregateArguments`]).
    pub(crate) fn evaluate(&self, batch: &RecordBatch) -> Result<Vec<AccumulatorInput>> {
        self.arguments.evaluate(batch)
    }

    /// Adds evaluated rows to their groups.
    pub(crate) fn apply(
        &mut self,
        inputs: Vec<AccumulatorInput>,
        group_of_row: &[usize],
        groups: usize,
    ) -> Result<()> {
        for (accumulator, input) in self.each.iter_mut().zip(inputs) {
            let rows = input.filter.map(|bits| BooleanArray::new(bits, None));
            accumulator.update_batch(&input.values, group_of_row, rows.as_ref(), groups)?;
        }
        Ok(())
    }

    /// Every aggregate's intermediate state for all groups so far, in the partial aggregate's column order; the
    /// accumulators start over empty.
    pub(crate) fn take_states(&mut self) -> Result<Vec<ArrayRef>> {
        let mut columns = Vec::new();
        for accumulator in &mut self.each {
            columns.extend(accumulator.state(EmitTo::All)?);
        }
        Ok(columns)
    }

    /// The bytes the accumulators hold.
    pub(crate) fn size(&self) -> usize {
        self.each.iter().map(|a| a.size()).sum()
    }
}

/// One aggregate's arguments over a batch, and the rows its `FILTER` clause keeps (a null answer keeps none).
pub(crate) struct AccumulatorInput {
    values: Vec<ArrayRef>,
    filter: Option<BooleanBuffer>,
}

impl AccumulatorInput {
    /// The arguments and the `FILTER` clause's rows.
    pub(crate) fn into_parts(self) -> (Vec<ArrayRef>, Option<BooleanBuffer>) {
        (self.values, self.filter)
    }
}

/// Hands the rest of a partition's input (from a batch already read) to DataFusion's partial aggregate as planned.
pub(crate) struct Handover {
    pub(crate) aggregate: Arc<dyn ExecutionPlan>,
    pub(crate) context: Arc<TaskContext>,
}

impl Handover {
    /// That aggregate's output over `batch` and then `rest`.
    pub(crate) fn hash_aggregate(
        self,
        batch: RecordBatch,
        rest: SendableRecordBatchStream,
    ) -> Result<SendableRecordBatchStream> {
        let schema = rest.schema();
        let replayed = futures_util::stream::once(async move { Ok(batch) }).chain(rest);
        let input = Arc::new(Replay::new(Box::pin(RecordBatchStreamAdapter::new(
            schema, replayed,
        ))));
        Arc::clone(&self.aggregate)
            .replace_children(vec![input], recompute())?
            .execute(0, self.context)
    }
}

/// A plan leaf that plays back one stream once: the input of DataFusion's aggregate after a handover.
pub(crate) struct Replay {
    stream: Mutex<Option<SendableRecordBatchStream>>,
    properties: Arc<PlanProperties>,
}

impl Replay {
    pub(crate) fn new(stream: SendableRecordBatchStream) -> Self {
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(stream.schema()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Self {
            stream: Mutex::new(Some(stream)),
            properties,
        }
    }
}

impl fmt::Debug for Replay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replay").finish_non_exhaustive()
    }
}

impl DisplayAs for Replay {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "Replay")
    }
}

impl ExecutionPlan for Replay {
    fn name(&self) -> &'static str {
        "Replay"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        visit_expressions(std::iter::empty(), f)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            return Ok(self);
        }
        internal_err!("Replay has no inputs")
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(children, recompute())
    }

    fn execute(
        &self,
        _partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let taken = match self.stream.lock() {
            Ok(mut slot) => slot.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        let Some(stream) = taken else {
            return internal_err!("Replay's stream was already taken");
        };
        Ok(stream)
    }
}
