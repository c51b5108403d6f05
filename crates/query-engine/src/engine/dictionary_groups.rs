//! Partial aggregation keyed by a dictionary-encoded string column, a physical optimizer rule of our own.
//!
//! DataFusion 55 has fast group-key maps for primitives and plain strings, but sends dictionary-typed keys (what a
//! Parquet file written from a categorical column is read as) through its generic row encoding, one row at a time:
//! a `GROUP BY payment_type` over 10 M rows spent 80 % of its CPU there and took twice as long as `DuckDB`
//! (docs/benchmarks.md). A dictionary batch already names each row's group by a small integer, its key, so the
//! partial aggregate here maps every *dictionary value* to a group once (per distinct dictionary, not per row) and
//! then hands DataFusion's own groups accumulators one group index per row, read straight from the keys.
//!
//! Only the first phase changes: [`DictionaryPartialAggregateExec`] replaces an `AggregateExec` in `Partial` mode
//! and produces exactly its schema (the group value, then every aggregate's intermediate state), so the final
//! aggregate above it, which sees only a few rows per partition, is DataFusion's as before. Anything the rule does
//! not recognise is left as DataFusion planned it.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, LargeStringArray, StringArray, StringViewArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Result, internal_err};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_expr::equivalence::EquivalenceProperties;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties,
    Partitioning, PlanProperties, ReplaceChildrenOptions,
};
use futures_util::StreamExt;

use super::partial_aggregate::{Accumulators, plain_partial};
use super::single_input::{only_child, recompute, visit_expressions};

/// The rule: every eligible partial aggregate becomes a [`DictionaryPartialAggregateExec`].
#[derive(Debug, Default)]
pub struct DictionaryGroups;

impl PhysicalOptimizerRule for DictionaryGroups {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let replacement = node
                .downcast_ref::<AggregateExec>()
                .and_then(DictionaryPartialAggregateExec::replacing);
            Ok(match replacement {
                Some(exec) => Transformed::yes(Arc::new(exec) as Arc<dyn ExecutionPlan>),
                None => Transformed::no(node),
            })
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &'static str {
        "tabletalk_dictionary_groups"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Dictionary key types whose groups the output can always hold: a group column of narrower keys could not be
/// rebuilt once more distinct values than the key type counts have been seen across batches.
fn wide_keys(key: &DataType) -> bool {
    matches!(
        key,
        DataType::Int32 | DataType::Int64 | DataType::UInt32 | DataType::UInt64
    )
}

fn string_values(value: &DataType) -> bool {
    matches!(
        value,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// A partial aggregate over one dictionary-encoded string key; same output as the `AggregateExec` it replaces.
#[derive(Debug)]
pub struct DictionaryPartialAggregateExec {
    input: Arc<dyn ExecutionPlan>,
    key: Arc<dyn PhysicalExpr>,
    key_name: String,
    aggregates: Vec<Arc<AggregateFunctionExpr>>,
    filters: Vec<Option<Arc<dyn PhysicalExpr>>>,
    properties: Arc<PlanProperties>,
}

impl DictionaryPartialAggregateExec {
    /// The replacement of `aggregate`, when it is a plain partial `GROUP BY <dictionary string>` whose aggregates
    /// all have groups accumulators (no DISTINCT, no ORDER BY inside them, no grouping sets, no group limit).
    fn replacing(aggregate: &AggregateExec) -> Option<Self> {
        let group_by = aggregate.group_expr();
        let [(key, key_name)] = group_by.expr() else {
            return None;
        };
        let eligible = plain_partial(aggregate);
        let key_type = key.data_type(&aggregate.input_schema()).ok()?;
        let DataType::Dictionary(key_width, value_type) = key_type else {
            return None;
        };
        if !eligible || !wide_keys(&key_width) || !string_values(&value_type) {
            return None;
        }
        Some(Self {
            input: Arc::clone(aggregate.input()),
            key: Arc::clone(key),
            key_name: key_name.clone(),
            aggregates: aggregate.aggr_expr().to_vec(),
            filters: aggregate.filter_expr().to_vec(),
            properties: Arc::clone(aggregate.properties()),
        })
    }
}

impl DisplayAs for DictionaryPartialAggregateExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let aggregates: Vec<&str> = self.aggregates.iter().map(|a| a.name()).collect();
        write!(
            f,
            "DictionaryPartialAggregateExec: gby=[{}], aggr=[{}]",
            self.key_name,
            aggregates.join(", ")
        )
    }
}

impl ExecutionPlan for DictionaryPartialAggregateExec {
    fn name(&self) -> &'static str {
        "DictionaryPartialAggregateExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        let arguments = self.aggregates.iter().flat_map(|a| a.expressions());
        let filters = self.filters.iter().flatten().cloned();
        let key = std::iter::once(Arc::clone(&self.key));
        visit_expressions(key.chain(arguments).chain(filters), f)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = only_child(children, "DictionaryPartialAggregateExec")?;
        let properties = match options.children_properties {
            ChildrenPropertiesMode::Keep => Arc::clone(&self.properties),
            // Nothing is known of a new input's layout beyond its partition count.
            ChildrenPropertiesMode::Recompute => Arc::new(PlanProperties::new(
                EquivalenceProperties::new(self.schema()),
                Partitioning::UnknownPartitioning(input.output_partitioning().partition_count()),
                EmissionType::Final,
                Boundedness::Bounded,
            )),
        };
        Ok(Arc::new(Self {
            input,
            key: Arc::clone(&self.key),
            key_name: self.key_name.clone(),
            aggregates: self.aggregates.clone(),
            filters: self.filters.clone(),
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
        let reservation = MemoryConsumer::new(format!("DictionaryPartialAggregate[{partition}]"))
            .register(context.memory_pool());
        let state = Aggregation {
            key: Arc::clone(&self.key),
            accumulators: Accumulators::new(&self.aggregates, &self.filters)?,
            groups: Groups::default(),
            reservation,
            schema: self.schema(),
        };
        let output = futures_util::stream::once(state.run(input));
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            output,
        )))
    }
}

/// The groups seen so far, in first-seen order (the order accumulators index them by).
#[derive(Default)]
struct Groups {
    ids: HashMap<Box<str>, usize>,
    values: Vec<Option<Box<str>>>,
    null: Option<usize>,
    text_bytes: usize,
    /// The last batch's dictionary and each of its values' group (`UNSEEN` until a row uses it): consecutive
    /// batches of one Parquet column chunk share their dictionary, so most batches map nothing anew.
    dictionary: Option<ArrayRef>,
    by_value: Vec<usize>,
    by_row: Vec<usize>,
}

const UNSEEN: usize = usize::MAX;

impl Groups {
    fn group_of(&mut self, value: Option<&str>) -> usize {
        let Some(text) = value else {
            return *self.null.get_or_insert_with(|| {
                self.values.push(None);
                self.values.len() - 1
            });
        };
        if let Some(id) = self.ids.get(text) {
            return *id;
        }
        let id = self.values.len();
        self.values.push(Some(text.into()));
        self.ids.insert(text.into(), id);
        self.text_bytes += 2 * text.len();
        id
    }

    /// Fills `by_row` with the group of every row of a dictionary batch.
    fn assign(&mut self, column: &ArrayRef) -> Result<()> {
        let Some(dictionary) = column.as_any_dictionary_opt() else {
            return internal_err!(
                "DictionaryPartialAggregateExec got a {}",
                column.data_type()
            );
        };
        let values = dictionary.values();
        if !self
            .dictionary
            .as_ref()
            .is_some_and(|d| Arc::ptr_eq(d, values))
        {
            self.dictionary = Some(Arc::clone(values));
            self.by_value.clear();
            self.by_value.resize(values.len(), UNSEEN);
        }
        let strings = Strings::of(values)?;
        let keys = dictionary.normalized_keys();
        let key_nulls = dictionary
            .keys()
            .nulls()
            .filter(|n| n.null_count() > 0)
            .cloned();
        self.by_row.clear();
        self.by_row.reserve(keys.len());
        for (row, key) in keys.into_iter().enumerate() {
            if key_nulls.as_ref().is_some_and(|n| n.is_null(row)) {
                let group = self.group_of(None);
                self.by_row.push(group);
                continue;
            }
            let mut group = self.by_value[key];
            if group == UNSEEN {
                group = self.group_of(strings.get(key));
                self.by_value[key] = group;
            }
            self.by_row.push(group);
        }
        Ok(())
    }

    fn size(&self) -> usize {
        let entry = size_of::<Box<str>>() + size_of::<usize>();
        self.text_bytes
            + self.values.capacity() * size_of::<Option<Box<str>>>()
            + self.ids.capacity() * entry
            + (self.by_value.capacity() + self.by_row.capacity()) * size_of::<usize>()
    }

    /// The group column in the output's type.
    fn column(&self, data_type: &DataType) -> Result<ArrayRef> {
        let plain: StringArray = self.values.iter().map(Option::as_deref).collect();
        Ok(cast(&plain, data_type)?)
    }
}

/// A dictionary's string values, whichever of Arrow's string layouts they use.
enum Strings<'a> {
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
}

impl<'a> Strings<'a> {
    fn of(values: &'a ArrayRef) -> Result<Self> {
        Ok(match values.data_type() {
            DataType::Utf8 => Self::Utf8(values.as_string::<i32>()),
            DataType::LargeUtf8 => Self::Large(values.as_string::<i64>()),
            DataType::Utf8View => Self::View(values.as_string_view()),
            other => return internal_err!("dictionary values of type {other}"),
        })
    }

    fn get(&self, index: usize) -> Option<&'a str> {
        match self {
            Self::Utf8(a) => a.is_valid(index).then(|| a.value(index)),
            Self::Large(a) => a.is_valid(index).then(|| a.value(index)),
            Self::View(a) => a.is_valid(index).then(|| a.value(index)),
        }
    }
}

/// One partition's aggregation.
struct Aggregation {
    key: Arc<dyn PhysicalExpr>,
    accumulators: Accumulators,
    groups: Groups,
    reservation: MemoryReservation,
    schema: SchemaRef,
}

impl Aggregation {
    async fn run(mut self, mut input: SendableRecordBatchStream) -> Result<RecordBatch> {
        while let Some(batch) = input.next().await {
            self.update(&batch?)?;
        }
        self.emit()
    }

    fn update(&mut self, batch: &RecordBatch) -> Result<()> {
        let rows = batch.num_rows();
        let key = self.key.evaluate(batch)?.into_array(rows)?;
        self.groups.assign(&key)?;
        let total = self.groups.values.len();
        self.accumulators
            .update(batch, &self.groups.by_row, total)?;
        // The memory limit covers this operator like DataFusion's own: past it the query fails, it never grows.
        let used = self.groups.size() + self.accumulators.size();
        self.reservation.try_resize(used)
    }

    fn emit(mut self) -> Result<RecordBatch> {
        let mut columns = vec![self.groups.column(self.schema.field(0).data_type())?];
        columns.extend(self.accumulators.take_states()?);
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}
