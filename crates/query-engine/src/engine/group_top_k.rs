//! The first rows of every group without sorting the groups, a physical optimizer rule of our own.
//!
//! "The top two fares per zone" is written `WHERE rn <= 2` over `row_number() OVER (PARTITION BY zone ORDER BY
//! fare DESC) AS rn`. DataFusion 55 plans it as a sort of the whole input by zone and fare, the window numbering
//! every row, and the filter throwing away all but a few rows per group: on the H2O-style group-by set's q8
//! (10 M rows, 100,000 groups, two kept per group) the sort is most of the time and the query took 2–3× the time of `DuckDB`
//! (docs/benchmarks.md). DataFusion's own per-partition top-k (`optimizer.enable_window_topn`) keeps a heap per
//! group behind a hash map of owned keys and slices every batch per group, which costs as much as the sort at that
//! many groups.
//!
//! [`GroupTopKExec`] replaces the sort and the window: it interns each batch's group keys the way DataFusion's
//! hash aggregate does (vectorised, one group index per row), compares each row's order key (Arrow's row format,
//! so any `ORDER BY` list with its directions and null placement compares as bytes) with the worst row its group
//! keeps, and copies out only the rows that got in, once per batch. At the end it sorts the kept rows the way the
//! replaced sort would have and numbers them, so everything above (the filter, which stays, and any operator that
//! relied on the window's output order) sees what it saw before, minus rows the filter would have dropped.
//!
//! Taken: a filter whose conjuncts bound a `row_number()` column from above (`rn <= k`, `rn < k`, `rn = k`,
//! `k >= rn`, `BETWEEN … AND k`) over a sorted window with that one function, a `PARTITION BY` and an `ORDER BY`
//! (directly or through a projection passing the number on), over the sort planned for it. Anything else stays
//! as DataFusion planned it.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, RecordBatch, UInt32Array, UInt64Array};
use datafusion::arrow::compute::{interleave_record_batch, lexsort_to_indices, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Result, ScalarValue};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::expressions::{BinaryExpr, Column, Literal};
use datafusion::physical_expr::window::{StandardWindowExpr, WindowExpr};
use datafusion::physical_expr::{LexOrdering, PhysicalExpr, split_conjunction};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::group_values::{GroupValues, new_group_values};
use datafusion::physical_plan::aggregates::order::GroupOrdering;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::windows::{BoundedWindowAggExec, WindowUDFExpr};
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, Distribution, ExecutionPlan,
    ExecutionPlanProperties, InputDistributionRequirements, InputOrderMode, PlanProperties,
    ReplaceChildrenOptions,
};
use futures_util::{StreamExt, TryStreamExt};

use super::single_input::{only_child, recompute, visit_expressions};

/// Above this many rows per group the full sort is the better plan: a group's slots are searched linearly.
const MAX_ROWS_PER_GROUP: usize = 1_024;

/// The rule: a top-k-per-group filter over a sorted `row_number()` window gets a [`GroupTopKExec`] in place of
/// the window and its sort.
#[derive(Debug, Default)]
pub struct GroupTopK;

impl PhysicalOptimizerRule for GroupTopK {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_down(|node| {
            let Some(filter) = node.downcast_ref::<FilterExec>() else {
                return Ok(Transformed::no(node));
            };
            let Some(filter_input) = rewrite_filter_input(filter) else {
                return Ok(Transformed::no(node));
            };
            Ok(Transformed::yes(
                node.replace_children(vec![filter_input], recompute())?,
            ))
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &'static str {
        "tabletalk_group_top_k"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The filter's input with a [`GroupTopKExec`] in place of the window and its sort, when the filter bounds the
/// window's row number: the window right below it, or below a projection that passes the row number on.
fn rewrite_filter_input(filter: &FilterExec) -> Option<Arc<dyn ExecutionPlan>> {
    let input = filter.input();
    if let Some(window) = input.downcast_ref::<BoundedWindowAggExec>() {
        let numbered = window.input().schema().fields().len();
        let k = rows_kept(filter.predicate(), numbered)?;
        return Some(Arc::new(GroupTopKExec::replacing(window, k)?));
    }
    let projection = input.downcast_ref::<ProjectionExec>()?;
    let window = projection.input().downcast_ref::<BoundedWindowAggExec>()?;
    let numbered = window.input().schema().fields().len();
    let position = projection.expr().iter().position(|p| {
        p.expr
            .downcast_ref::<Column>()
            .is_some_and(|c| c.index() == numbered)
    })?;
    let k = rows_kept(filter.predicate(), position)?;
    let top: Arc<dyn ExecutionPlan> = Arc::new(GroupTopKExec::replacing(window, k)?);
    Arc::clone(input)
        .replace_children(vec![top], recompute())
        .ok()
}

/// The most rows per group `predicate` lets through when `column` is a row number, if one of its conjuncts
/// bounds it from above by an integer literal.
fn rows_kept(predicate: &Arc<dyn PhysicalExpr>, column: usize) -> Option<usize> {
    split_conjunction(predicate)
        .into_iter()
        .filter_map(|conjunct| upper_bound(conjunct, column))
        .min()
}

fn upper_bound(conjunct: &Arc<dyn PhysicalExpr>, column: usize) -> Option<usize> {
    let binary = conjunct.downcast_ref::<BinaryExpr>()?;
    let is_column = |e: &Arc<dyn PhysicalExpr>| {
        e.downcast_ref::<Column>()
            .is_some_and(|c| c.index() == column)
    };
    let literal = |e: &Arc<dyn PhysicalExpr>| {
        let value = e.downcast_ref::<Literal>()?.value();
        match value.cast_to(&DataType::Int64).ok()? {
            ScalarValue::Int64(Some(n)) => Some(n),
            _ => None,
        }
    };
    // Written as `rn op n`; `n op rn` is turned around.
    let (op, n) = if is_column(binary.left()) {
        (*binary.op(), literal(binary.right())?)
    } else if is_column(binary.right()) {
        (binary.op().swap()?, literal(binary.left())?)
    } else {
        return None;
    };
    let most = match op {
        Operator::LtEq | Operator::Eq => n,
        Operator::Lt => n - 1,
        _ => return None,
    };
    // `rn <= 0` keeps nothing; the filter above says so without our help.
    usize::try_from(most).ok().filter(|k| *k >= 1)
}

fn is_row_number(window: &Arc<dyn WindowExpr>) -> bool {
    window
        .as_any()
        .downcast_ref::<StandardWindowExpr>()
        .and_then(|w| {
            w.get_standard_func_expr()
                .as_any()
                .downcast_ref::<WindowUDFExpr>()
                .map(|f| f.fun().name() == "row_number")
        })
        .unwrap_or(false)
}

/// The first `k` rows of every group of its input in an order, numbered; what a sort, a `row_number()` window and
/// a `rn <= k` filter keep, without the sort.
#[derive(Debug)]
pub struct GroupTopKExec {
    input: Arc<dyn ExecutionPlan>,
    partition_by: Vec<Arc<dyn PhysicalExpr>>,
    order_by: LexOrdering,
    /// The replaced sort's order (the partition keys, then `order_by`): the order rows leave in.
    output_order: LexOrdering,
    k: usize,
    properties: Arc<PlanProperties>,
}

impl GroupTopKExec {
    /// The replacement of `window` and the sort below it when at most `k` of its rows per group are wanted.
    fn replacing(window: &BoundedWindowAggExec, k: usize) -> Option<Self> {
        let [function] = window.window_expr() else {
            return None;
        };
        let sort = window.input().downcast_ref::<SortExec>()?;
        let order_by = LexOrdering::new(function.order_by().iter().cloned())?;
        let single_input = sort.input().output_partitioning().partition_count() == 1;
        let eligible = is_row_number(function)
            && !function.partition_by().is_empty()
            && window.input_order_mode == InputOrderMode::Sorted
            && sort.fetch().is_none()
            && (sort.preserve_partitioning() || single_input)
            && k <= MAX_ROWS_PER_GROUP;
        if !eligible {
            return None;
        }
        let input = Arc::clone(sort.input());
        let properties = Self::properties_over(window.properties(), &input);
        Some(Self {
            input,
            partition_by: function.partition_by().to_vec(),
            order_by,
            output_order: sort.expr().clone(),
            k,
            properties,
        })
    }

    /// The window's properties (its schema, ordering and equivalences hold for our output too), emitted at the end
    /// and partitioned like `input`.
    fn properties_over(
        window: &PlanProperties,
        input: &Arc<dyn ExecutionPlan>,
    ) -> Arc<PlanProperties> {
        Arc::new(PlanProperties::new(
            window.eq_properties.clone(),
            input.output_partitioning().clone(),
            EmissionType::Final,
            Boundedness::Bounded,
        ))
    }
}

impl DisplayAs for GroupTopKExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let keys: Vec<String> = self.partition_by.iter().map(ToString::to_string).collect();
        write!(
            f,
            "GroupTopKExec: k={}, partition_by=[{}], order_by=[{}]",
            self.k,
            keys.join(", "),
            self.order_by
        )
    }
}

impl ExecutionPlan for GroupTopKExec {
    fn name(&self) -> &'static str {
        "GroupTopKExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        // Every row of a group must reach the same partition, as for the window this replaces.
        InputDistributionRequirements::new(vec![Distribution::KeyPartitioned(
            self.partition_by.clone(),
        )])
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        let ordered = self.output_order.iter().map(|s| Arc::clone(&s.expr));
        visit_expressions(self.partition_by.iter().cloned().chain(ordered), f)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = only_child(children, "GroupTopKExec")?;
        let properties = match options.children_properties {
            ChildrenPropertiesMode::Keep => Arc::clone(&self.properties),
            ChildrenPropertiesMode::Recompute => Self::properties_over(&self.properties, &input),
        };
        Ok(Arc::new(Self {
            input,
            partition_by: self.partition_by.clone(),
            order_by: self.order_by.clone(),
            output_order: self.output_order.clone(),
            k: self.k,
            properties,
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
        let input = self.input.execute(partition, Arc::clone(&context))?;
        let input_schema = self.input.schema();
        let key_fields = self
            .partition_by
            .iter()
            .enumerate()
            .map(|(i, e)| {
                Ok(Field::new(
                    format!("key{i}"),
                    e.data_type(&input_schema)?,
                    e.nullable(&input_schema)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let order_fields = self
            .order_by
            .iter()
            .map(|s| {
                Ok(SortField::new_with_options(
                    s.expr.data_type(&input_schema)?,
                    s.options,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let reservation =
            MemoryConsumer::new(format!("GroupTopK[{partition}]")).register(context.memory_pool());
        let kept = Kept {
            k: self.k,
            partition_by: self.partition_by.clone(),
            order_by: self.order_by.iter().map(|s| Arc::clone(&s.expr)).collect(),
            groups: new_group_values(Arc::new(Schema::new(key_fields)), &GroupOrdering::None)?,
            group_of_row: Vec::new(),
            order_keys: RowConverter::new(order_fields)?,
            slots: Vec::new(),
            filled: Vec::new(),
            worst: Vec::new(),
            batches: Vec::new(),
            stored_rows: 0,
            reservation,
        };
        let output_order = self.output_order.clone();
        let schema = self.schema();
        let batch_size = context.session_config().batch_size();
        let emitted = futures_util::stream::once(async move {
            let rows = kept.run(input).await?.numbered(&output_order, &schema)?;
            Ok::<_, datafusion::error::DataFusionError>(futures_util::stream::iter(
                in_batches(&rows, batch_size).into_iter().map(Ok),
            ))
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            emitted,
        )))
    }
}

/// `batch` cut into pieces of at most `size` rows (slices share its buffers).
fn in_batches(batch: &RecordBatch, size: usize) -> Vec<RecordBatch> {
    let size = size.max(1);
    (0..batch.num_rows())
        .step_by(size)
        .map(|start| batch.slice(start, size.min(batch.num_rows() - start)))
        .collect()
}

/// `batch` with its string and binary view columns holding only their own bytes. Selecting rows from a view array
/// shares the whole input buffers; kept for the length of the query, a few rows would pin every batch they came
/// from (and be counted against the memory limit at that size).
fn own_strings(batch: &RecordBatch) -> Result<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .map(|column| -> ArrayRef {
            match column.data_type() {
                DataType::Utf8View => Arc::new(column.as_string_view().gc()),
                DataType::BinaryView => Arc::new(column.as_binary_view().gc()),
                _ => Arc::clone(column),
            }
        })
        .collect();
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

/// A row a group keeps: its order key in row format and where its values are stored.
struct Slot {
    key: Vec<u8>,
    batch: usize,
    row: usize,
}

/// One partition's kept rows: `k` slots per group (`filled` of them used), the index of each full group's worst
/// slot, and the stored rows the slots point into (rows that got in, including ones pushed out since).
struct Kept {
    k: usize,
    partition_by: Vec<Arc<dyn PhysicalExpr>>,
    order_by: Vec<Arc<dyn PhysicalExpr>>,
    groups: Box<dyn GroupValues>,
    group_of_row: Vec<usize>,
    order_keys: RowConverter,
    slots: Vec<Slot>,
    filled: Vec<usize>,
    worst: Vec<usize>,
    batches: Vec<RecordBatch>,
    stored_rows: usize,
    reservation: MemoryReservation,
}

impl Kept {
    async fn run(mut self, mut input: SendableRecordBatchStream) -> Result<Self> {
        while let Some(batch) = input.next().await {
            self.add(&batch?)?;
        }
        Ok(self)
    }

    fn add(&mut self, batch: &RecordBatch) -> Result<()> {
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(());
        }
        let evaluate = |exprs: &[Arc<dyn PhysicalExpr>]| {
            exprs
                .iter()
                .map(|e| e.evaluate(batch)?.into_array(rows))
                .collect::<Result<Vec<ArrayRef>>>()
        };
        self.groups
            .intern(&evaluate(&self.partition_by)?, &mut self.group_of_row)?;
        let group_count = self.groups.len();
        // The new groups' slots are claimed from the memory limit before they are allocated: with many groups and a
        // large `k` they are what grows fastest.
        let new_slots = (group_count * self.k).saturating_sub(self.slots.len());
        self.reservation
            .try_resize(self.size() + new_slots * (size_of::<Slot>() + 2 * size_of::<usize>()))?;
        self.filled.resize(group_count, 0);
        self.worst.resize(group_count, 0);
        self.slots.resize_with(group_count * self.k, || Slot {
            key: Vec::new(),
            batch: 0,
            row: 0,
        });
        let order_keys = self
            .order_keys
            .convert_columns(&evaluate(&self.order_by)?)?;
        let taken = self.admit(&order_keys);
        if !taken.is_empty() {
            let indices = UInt32Array::from(taken);
            self.stored_rows += indices.len();
            self.batches
                .push(own_strings(&take_record_batch(batch, &indices)?)?);
        }
        if self.stored_rows > 2 * self.slots.len() + 8_192 {
            self.compact()?;
        }
        self.reservation.try_resize(self.size())
    }

    /// Gives every row of the batch its place if it is among its group's first `k` so far; the rows that got in,
    /// which will be stored as the next batch.
    fn admit(&mut self, order_keys: &Rows) -> Vec<u32> {
        let k = self.k;
        let batch = self.batches.len();
        let mut taken: Vec<u32> = Vec::new();
        for (row, &group) in self.group_of_row.iter().enumerate() {
            let key = order_keys.row(row);
            let filled = self.filled[group];
            let slot = if filled < k {
                self.filled[group] = filled + 1;
                group * k + filled
            } else {
                let worst = group * k + self.worst[group];
                // Ties keep the row that came first, as a stable sort would.
                if key.as_ref() >= self.slots[worst].key.as_slice() {
                    continue;
                }
                worst
            };
            let stored = &mut self.slots[slot];
            stored.key.clear();
            stored.key.extend_from_slice(key.as_ref());
            stored.batch = batch;
            stored.row = taken.len();
            taken.push(u32::try_from(row).unwrap_or(u32::MAX));
            if self.filled[group] == k {
                self.worst[group] = self.worst_of(group);
            }
        }
        taken
    }

    fn worst_of(&self, group: usize) -> usize {
        let first = group * self.k;
        let mut worst = 0;
        for offset in 1..self.k {
            if self.slots[first + offset].key > self.slots[first + worst].key {
                worst = offset;
            }
        }
        worst
    }

    /// The `(batch, row)` of every used slot and its group, group by group.
    fn used(&self) -> (Vec<(usize, usize)>, Vec<usize>) {
        let mut places = Vec::new();
        let mut groups = Vec::new();
        for (group, filled) in self.filled.iter().enumerate() {
            for slot in &self.slots[group * self.k..group * self.k + filled] {
                places.push((slot.batch, slot.row));
                groups.push(group);
            }
        }
        (places, groups)
    }

    /// Stores only the rows still kept, in one batch, when pushed-out rows have come to outnumber them.
    fn compact(&mut self) -> Result<()> {
        let (places, _) = self.used();
        let batches: Vec<&RecordBatch> = self.batches.iter().collect();
        let compacted = own_strings(&interleave_record_batch(&batches, &places)?)?;
        let mut next = 0;
        for (group, filled) in self.filled.iter().enumerate() {
            for slot in &mut self.slots[group * self.k..group * self.k + filled] {
                slot.batch = 0;
                slot.row = next;
                next += 1;
            }
        }
        self.stored_rows = compacted.num_rows();
        self.batches = vec![compacted];
        Ok(())
    }

    fn size(&self) -> usize {
        let keys: usize = self.slots.iter().map(|s| s.key.capacity()).sum();
        let batches: usize = self
            .batches
            .iter()
            .map(RecordBatch::get_array_memory_size)
            .sum();
        self.groups.size()
            + self.order_keys.size()
            + keys
            + self.slots.capacity() * size_of::<Slot>()
            + (self.filled.capacity() + self.worst.capacity() + self.group_of_row.capacity())
                * size_of::<usize>()
            + batches
    }

    /// The kept rows in `order` with their number within their group (1 for the first) as the last column.
    fn numbered(self, order: &LexOrdering, schema: &SchemaRef) -> Result<RecordBatch> {
        let (places, groups) = self.used();
        if places.is_empty() {
            return Ok(RecordBatch::new_empty(Arc::clone(schema)));
        }
        let batches: Vec<&RecordBatch> = self.batches.iter().collect();
        let rows = interleave_record_batch(&batches, &places)?;
        let sort_columns = order
            .iter()
            .map(|s| s.evaluate_to_sort_column(&rows))
            .collect::<Result<Vec<_>>>()?;
        let sorted = lexsort_to_indices(&sort_columns, None)?;
        let rows = take_record_batch(&rows, &sorted)?;
        let mut seen = vec![0_u64; self.filled.len()];
        let numbers: UInt64Array = sorted
            .values()
            .iter()
            .map(|&i| {
                let count = &mut seen[groups[i as usize]];
                *count += 1;
                *count
            })
            .collect();
        let mut columns = rows.columns().to_vec();
        columns.push(Arc::new(numbers));
        Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
    }
}
