//! Partial aggregation keyed by short strings, a physical optimizer rule of our own.
//!
//! Group-by keys are very often short strings: codes, flags, categories, ids like `id042`. The Parquet reader
//! gives them as `Utf8View`, where a string of at most 12 bytes lives entirely inside its 16-byte view. DataFusion
//! 55 still hashes the string bytes and compares them through its byte-view map: H2O q1 (`GROUP BY id1`, 100
//! groups over 10 M rows) spent 55 % of its CPU there (`perf`, docs/benchmarks.md "Short string keys"). Here a row's
//! key is its views themselves (with the bytes past the string's length masked off), together with any `INT` or
//! `DATE` keys beside them, looked up in a hash map of fixed-width keys — and DataFusion's own groups
//! accumulators are handed one group index per row.
//!
//! [`InlineKeysPartialAggregateExec`] replaces an `AggregateExec` in `Partial` mode and produces its schema. A
//! batch holding a longer string ends its run: the groups so far are emitted and the rest of the partition's input,
//! from that batch on, goes to DataFusion's partial aggregate as planned (docs/architecture.md, the engine's rules).

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int32Array, Int64Array, RecordBatch, StringViewArray,
};
use datafusion::arrow::buffer::{NullBuffer, ScalarBuffer};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Date32Type, Int32Type, Int64Type, SchemaRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Result, internal_err};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, InputOrderMode, PlanProperties,
    ReplaceChildrenOptions,
};
use futures_util::StreamExt;

use super::partial_aggregate::{Accumulators, Handover};
use super::single_input::{only_child, recompute};

/// The rule: every eligible partial aggregate becomes an [`InlineKeysPartialAggregateExec`].
#[derive(Debug, Default)]
pub struct InlineKeyGroups;

impl PhysicalOptimizerRule for InlineKeyGroups {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let eligible = node
                .downcast_ref::<AggregateExec>()
                .is_some_and(InlineKeysPartialAggregateExec::eligible);
            Ok(if eligible {
                let exec = InlineKeysPartialAggregateExec::new(Arc::clone(&node));
                Transformed::yes(Arc::new(exec) as Arc<dyn ExecutionPlan>)
            } else {
                Transformed::no(node)
            })
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &'static str {
        "tabletalk_inline_key_groups"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// At most this many key columns: every key is a fixed array of this many 16-byte parts.
const MAX_KEYS: usize = 4;

/// The longest string a view holds inline.
const INLINE_BYTES: u32 = 12;

/// How a key column's values become fixed 16-byte parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    View,
    Int32,
    Int64,
    Date32,
}

impl KeyKind {
    fn of(data_type: &DataType) -> Option<Self> {
        match data_type {
            DataType::Utf8View => Some(Self::View),
            DataType::Int32 => Some(Self::Int32),
            DataType::Int64 => Some(Self::Int64),
            DataType::Date32 => Some(Self::Date32),
            _ => None,
        }
    }
}

/// A partial aggregate over short-string keys (and integers or dates beside them); same output as the
/// `AggregateExec` it replaces, which takes over at the first string too long to live in its view.
#[derive(Debug)]
pub struct InlineKeysPartialAggregateExec {
    aggregate: Arc<dyn ExecutionPlan>,
    metrics: ExecutionPlanMetricsSet,
}

impl InlineKeysPartialAggregateExec {
    /// A plain partial `GROUP BY` of one to four keys, at least one of them a `Utf8View` string and the others
    /// strings, `INT`, `BIGINT` or `DATE`, whose aggregates all have groups accumulators (no DISTINCT, no ORDER BY
    /// inside them, no grouping sets, no group limit), over an input in no particular order.
    fn eligible(aggregate: &AggregateExec) -> bool {
        let group_by = aggregate.group_expr();
        let schema = aggregate.input_schema();
        let kinds: Option<Vec<KeyKind>> = group_by
            .expr()
            .iter()
            .map(|(key, _)| KeyKind::of(&key.data_type(&schema).ok()?))
            .collect();
        let Some(kinds) = kinds else {
            return false;
        };
        *aggregate.mode() == AggregateMode::Partial
            && (1..=MAX_KEYS).contains(&kinds.len())
            && kinds.contains(&KeyKind::View)
            && group_by.is_single()
            && group_by.null_expr().is_empty()
            && aggregate.limit_options().is_none()
            && aggregate.dynamic_expressions_produced().is_empty()
            && *aggregate.input_order_mode() == InputOrderMode::Linear
            && aggregate.aggr_expr().iter().all(|a| {
                a.groups_accumulator_supported() && !a.is_distinct() && a.order_bys().is_empty()
            })
    }

    fn new(aggregate: Arc<dyn ExecutionPlan>) -> Self {
        Self {
            aggregate,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    /// DataFusion's partial aggregate this one stands for.
    pub(crate) fn planned(&self) -> Result<&AggregateExec> {
        let Some(aggregate) = self.aggregate.downcast_ref::<AggregateExec>() else {
            return internal_err!("InlineKeysPartialAggregateExec wraps an AggregateExec");
        };
        Ok(aggregate)
    }
}

impl DisplayAs for InlineKeysPartialAggregateExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let Ok(aggregate) = self.planned() else {
            return write!(f, "InlineKeysPartialAggregateExec");
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
            "InlineKeysPartialAggregateExec: gby=[{}], aggr=[{}]",
            keys.join(", "),
            aggregates.join(", ")
        )
    }
}

impl ExecutionPlan for InlineKeysPartialAggregateExec {
    fn name(&self) -> &'static str {
        "InlineKeysPartialAggregateExec"
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
            "InlineKeysPartialAggregateExec",
        )?
        .execute(partition, Arc::clone(&context))?;
        let input_schema = planned.input_schema();
        let mut keys = Vec::new();
        let mut kinds = Vec::new();
        for (key, _) in planned.group_expr().expr() {
            let Some(kind) = KeyKind::of(&key.data_type(&input_schema)?) else {
                return internal_err!("InlineKeysPartialAggregateExec got a key it cannot pack");
            };
            keys.push(Arc::clone(key));
            kinds.push(kind);
        }
        let aggregation = InlineAggregation {
            groups: new_groups(kinds.len())?,
            keys,
            kinds,
            accumulators: Accumulators::of(planned)?,
            group_of_row: Vec::new(),
            schema: self.schema(),
            reservation: MemoryConsumer::new(format!("InlineKeysPartialAggregate[{partition}]"))
                .register(context.memory_pool()),
            baseline: BaselineMetrics::new(&self.metrics, partition),
            handed_over: MetricBuilder::new(&self.metrics).counter("handed_over", partition),
        };
        let handover = Handover {
            aggregate: Arc::clone(&self.aggregate),
            context,
        };
        let phase = Phase::Inline {
            input,
            aggregation: Box::new(aggregation),
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
    Inline {
        input: SendableRecordBatchStream,
        aggregation: Box<InlineAggregation>,
        handover: Handover,
    },
    /// The groups emitted before a handover; then the other aggregate's output.
    Emitted(RecordBatch, SendableRecordBatchStream, BaselineMetrics),
    Handed(SendableRecordBatchStream, BaselineMetrics),
    Done,
}

impl Phase {
    async fn next(self) -> Option<(Result<RecordBatch>, Self)> {
        let mut phase = self;
        loop {
            match phase {
                Self::Done => return None,
                Self::Emitted(batch, stream, baseline) => {
                    return Some((Ok(batch), Self::Handed(stream, baseline)));
                }
                Self::Handed(mut stream, baseline) => {
                    let item = stream.next().await?;
                    if let Ok(batch) = &item {
                        baseline.record_output(batch.num_rows());
                    }
                    return Some((item, Self::Handed(stream, baseline)));
                }
                Self::Inline {
                    mut input,
                    mut aggregation,
                    handover,
                } => {
                    let batch = match input.next().await {
                        None => {
                            return match aggregation.emit() {
                                Ok(Some(groups)) => Some((Ok(groups), Self::Done)),
                                Ok(None) => None,
                                Err(error) => Some((Err(error), Self::Done)),
                            };
                        }
                        Some(Err(error)) => return Some((Err(error), Self::Done)),
                        Some(Ok(batch)) => batch,
                    };
                    match aggregation.update(&batch) {
                        Err(error) => return Some((Err(error), Self::Done)),
                        Ok(true) => {
                            phase = Self::Inline {
                                input,
                                aggregation,
                                handover,
                            };
                        }
                        Ok(false) => {
                            aggregation.handed_over.add(1);
                            let emitted = match aggregation.emit() {
                                Ok(emitted) => emitted,
                                Err(error) => return Some((Err(error), Self::Done)),
                            };
                            let baseline = aggregation.baseline.clone();
                            let rest = match handover.hash_aggregate(batch, input) {
                                Ok(rest) => rest,
                                Err(error) => return Some((Err(error), Self::Done)),
                            };
                            phase = match emitted {
                                Some(groups) => Self::Emitted(groups, rest, baseline),
                                None => Self::Handed(rest, baseline),
                            };
                        }
                    }
                }
            }
        }
    }
}

/// One partition's aggregation by packed keys.
struct InlineAggregation {
    keys: Vec<Arc<dyn PhysicalExpr>>,
    kinds: Vec<KeyKind>,
    groups: Box<dyn KeyedGroups>,
    accumulators: Accumulators,
    group_of_row: Vec<usize>,
    schema: SchemaRef,
    reservation: MemoryReservation,
    baseline: BaselineMetrics,
    handed_over: Count,
}

impl InlineAggregation {
    /// Adds `batch` to the groups; `false` (nothing added) when one of its strings is too long to pack.
    fn update(&mut self, batch: &RecordBatch) -> Result<bool> {
        let elapsed = self.baseline.elapsed_compute().clone();
        let _timer = elapsed.timer();
        let rows = batch.num_rows();
        let arrays = self
            .keys
            .iter()
            .map(|key| key.evaluate(batch)?.into_array(rows))
            .collect::<Result<Vec<_>>>()?;
        let mut columns = Vec::with_capacity(arrays.len());
        for (array, kind) in arrays.iter().zip(&self.kinds) {
            match KeyColumn::of(array, *kind)? {
                Some(column) => columns.push(column),
                None => return Ok(false),
            }
        }
        self.groups.assign(&columns, rows, &mut self.group_of_row);
        self.accumulators
            .update(batch, &self.group_of_row, self.groups.len())?;
        // The memory limit covers this operator like DataFusion's own: past it the query fails, it never grows.
        let used = self.groups.size()
            + self.group_of_row.capacity() * size_of::<usize>()
            + self.accumulators.size();
        self.reservation.try_resize(used)?;
        Ok(true)
    }

    /// The groups so far with their states, if there are any; the groups and accumulators start over empty.
    fn emit(&mut self) -> Result<Option<RecordBatch>> {
        if self.groups.len() == 0 {
            return Ok(None);
        }
        let mut columns = Vec::with_capacity(self.schema.fields().len());
        for (position, kind) in self.kinds.iter().enumerate() {
            columns.push(self.groups.column(position, *kind)?);
        }
        columns.extend(self.accumulators.take_states()?);
        self.groups.clear();
        self.reservation.free();
        let output = RecordBatch::try_new(Arc::clone(&self.schema), columns)?;
        self.baseline.record_output(output.num_rows());
        Ok(Some(output))
    }
}

/// One batch's key column, read as fixed parts.
enum KeyColumn<'a> {
    View(&'a [u128], Option<&'a NullBuffer>),
    Int32(&'a [i32], Option<&'a NullBuffer>),
    Int64(&'a [i64], Option<&'a NullBuffer>),
}

/// For a string of each length up to 12: the bits of its view that hold the length and the string, so that
/// whatever follows the string inside the view does not tell equal strings apart.
const INLINE_MASKS: [u128; 13] = {
    let mut masks = [0_u128; 13];
    let mut length = 0;
    while length < 13 {
        let bits = 32 + 8 * length;
        masks[length] = if bits >= 128 {
            u128::MAX
        } else {
            (1_u128 << bits) - 1
        };
        length += 1;
    }
    masks
};

impl<'a> KeyColumn<'a> {
    /// The column, or `None` when it holds a string longer than a view holds inline.
    fn of(array: &'a ArrayRef, kind: KeyKind) -> Result<Option<Self>> {
        let nulls = array.nulls().filter(|n| n.null_count() > 0);
        Ok(Some(match kind {
            KeyKind::View => {
                let Some(strings) = array.as_string_view_opt() else {
                    return internal_err!("a string key of type {}", array.data_type());
                };
                let views = strings.views().as_ref();
                if views.iter().any(|view| view_length(*view) > INLINE_BYTES) {
                    return Ok(None);
                }
                Self::View(views, nulls)
            }
            KeyKind::Int32 | KeyKind::Date32 => match array.data_type() {
                DataType::Int32 => Self::Int32(array.as_primitive::<Int32Type>().values(), nulls),
                DataType::Date32 => Self::Int32(array.as_primitive::<Date32Type>().values(), nulls),
                other => return internal_err!("a 32-bit key of type {other}"),
            },
            KeyKind::Int64 => match array.as_primitive_opt::<Int64Type>() {
                Some(values) => Self::Int64(values.values(), nulls),
                None => return internal_err!("a 64-bit key of type {}", array.data_type()),
            },
        }))
    }

    /// Row `row`'s part and whether it is null (a null's part is 0).
    fn part(&self, row: usize) -> (u128, bool) {
        let (nulls, part) = match self {
            Self::View(views, nulls) => {
                let view = views[row];
                let length = usize::try_from(view_length(view)).unwrap_or(0);
                (nulls, view & INLINE_MASKS[length.min(12)])
            }
            Self::Int32(values, nulls) => (nulls, u128::from(values[row].cast_unsigned())),
            Self::Int64(values, nulls) => (nulls, u128::from(values[row].cast_unsigned())),
        };
        if nulls.is_some_and(|n| n.is_null(row)) {
            (0, true)
        } else {
            (part, false)
        }
    }
}

/// A view's string length: its low 32 bits.
#[expect(
    clippy::cast_possible_truncation,
    reason = "the length is the view's low 32 bits by definition"
)]
fn view_length(view: u128) -> u32 {
    view as u32
}

/// The groups of one partition, whatever their number of key columns.
trait KeyedGroups: Send {
    /// Fills `group_of_row` with the group of every row, adding groups for keys not seen before.
    fn assign(&mut self, columns: &[KeyColumn<'_>], rows: usize, group_of_row: &mut Vec<usize>);
    fn len(&self) -> usize;
    /// Key column `position` of every group, in group order, as the output's type.
    fn column(&self, position: usize, kind: KeyKind) -> Result<ArrayRef>;
    fn clear(&mut self);
    fn size(&self) -> usize;
}

fn new_groups(keys: usize) -> Result<Box<dyn KeyedGroups>> {
    Ok(match keys {
        1 => Box::new(Groups::<1>::new()),
        2 => Box::new(Groups::<2>::new()),
        3 => Box::new(Groups::<3>::new()),
        4 => Box::new(Groups::<4>::new()),
        _ => return internal_err!("{keys} key columns"),
    })
}

/// A group's key: one part per column and a bit per null column.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key<const N: usize> {
    parts: [u128; N],
    nulls: u8,
}

impl<const N: usize> Hash for Key<N> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for part in self.parts {
            state.write_u128(part);
        }
        state.write_u8(self.nulls);
    }
}

struct Groups<const N: usize> {
    ids: HashMap<Key<N>, usize, MixerBuilder>,
    keys: Vec<Key<N>>,
}

impl<const N: usize> Groups<N> {
    fn new() -> Self {
        Self {
            ids: HashMap::with_hasher(MixerBuilder::new()),
            keys: Vec::new(),
        }
    }
}

impl<const N: usize> KeyedGroups for Groups<N> {
    fn assign(&mut self, columns: &[KeyColumn<'_>], rows: usize, group_of_row: &mut Vec<usize>) {
        group_of_row.clear();
        group_of_row.reserve(rows);
        // Neighbouring rows often share their key; the previous row's group is checked before the map.
        let mut previous: Option<(Key<N>, usize)> = None;
        for row in 0..rows {
            let mut key = Key {
                parts: [0; N],
                nulls: 0,
            };
            for (position, column) in columns.iter().enumerate().take(N) {
                let (part, null) = column.part(row);
                key.parts[position] = part;
                key.nulls |= u8::from(null) << position;
            }
            let group = match previous {
                Some((seen, group)) if seen == key => group,
                _ => {
                    let next = self.keys.len();
                    let group = *self.ids.entry(key).or_insert(next);
                    if group == next {
                        self.keys.push(key);
                    }
                    previous = Some((key, group));
                    group
                }
            };
            group_of_row.push(group);
        }
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    fn column(&self, position: usize, kind: KeyKind) -> Result<ArrayRef> {
        let nulls = self
            .keys
            .iter()
            .any(|key| key.nulls & (1 << position) != 0)
            .then(|| {
                self.keys
                    .iter()
                    .map(|key| key.nulls & (1 << position) == 0)
                    .collect::<NullBuffer>()
            });
        let parts = self.keys.iter().map(|key| key.parts[position]);
        Ok(match kind {
            KeyKind::View => {
                let views: ScalarBuffer<u128> = parts.collect();
                Arc::new(StringViewArray::try_new(views, Vec::new(), nulls)?)
            }
            KeyKind::Int32 | KeyKind::Date32 => {
                let values: ScalarBuffer<i32> = parts.map(low_i32).collect();
                let integers: ArrayRef = Arc::new(Int32Array::try_new(values, nulls)?);
                if kind == KeyKind::Date32 {
                    cast(&integers, &DataType::Date32)?
                } else {
                    integers
                }
            }
            KeyKind::Int64 => {
                let values: ScalarBuffer<i64> = parts.map(low_i64).collect();
                Arc::new(Int64Array::try_new(values, nulls)?)
            }
        })
    }

    fn clear(&mut self) {
        self.ids.clear();
        self.keys.clear();
    }

    fn size(&self) -> usize {
        self.ids.capacity() * (size_of::<Key<N>>() + size_of::<usize>() + 1)
            + self.keys.capacity() * size_of::<Key<N>>()
    }
}

#[expect(
    clippy::cast_possible_truncation,
    reason = "the part of a 32-bit key holds its bits in the low 32"
)]
fn low_i32(part: u128) -> i32 {
    (part as u32).cast_signed()
}

#[expect(
    clippy::cast_possible_truncation,
    reason = "the part of a 64-bit key holds its bits in the low 64"
)]
fn low_i64(part: u128) -> i64 {
    (part as u64).cast_signed()
}

/// Hashes keys of 16-byte parts with a folded multiply per 8 bytes, seeded per map from the standard library's
/// random state (so crafted keys cannot be chosen to collide).
#[derive(Clone, Copy)]
struct MixerBuilder(u64);

impl MixerBuilder {
    fn new() -> Self {
        Self(RandomState::new().hash_one(0x7461_626c_6574_616c_u64))
    }
}

impl BuildHasher for MixerBuilder {
    type Hasher = Mixer;

    fn build_hasher(&self) -> Mixer {
        Mixer(self.0)
    }
}

struct Mixer(u64);

const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

impl Mixer {
    fn mix(&mut self, value: u64) {
        self.0 = folded_multiply(self.0 ^ value, MULTIPLIER);
    }
}

#[expect(
    clippy::cast_possible_truncation,
    reason = "the product's two halves are folded together on purpose"
)]
fn folded_multiply(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

impl Hasher for Mixer {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0_u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, value: u8) {
        self.mix(u64::from(value));
    }

    #[expect(
        clippy::cast_possible_truncation,
        reason = "a part is mixed in as its two 64-bit halves"
    )]
    fn write_u128(&mut self, value: u128) {
        self.mix(value as u64);
        self.mix((value >> 64) as u64);
    }

    fn finish(&self) -> u64 {
        folded_multiply(self.0, 0xBF58_476D_1CE4_E5B9)
    }
}
