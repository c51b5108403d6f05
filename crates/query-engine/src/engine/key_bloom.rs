//! A compact membership filter of a hash join's build keys, for `ScanFilterExec` to drop the probe side's rows
//! that cannot match.
//!
//! DataFusion 55 hands a join's big build side (more than 150 distinct keys) to the probe side's dynamic filter as
//! a reference to the join's own hash table; checking a row probes that table — two random reads into megabytes
//! of it — and the join probes it again for the rows that pass. `perf` put 12–20 % of TPC-H Q3, Q5, Q7, Q10, Q17
//! and Q21 in those checks (docs/benchmarks.md, "Key blooms"). [`KeyCollectExec`] sits on the join's build input
//! and hashes each build row's keys as it passes; when every build partition has ended, the hashes become a
//! [`KeyBloom`]: a blocked Bloom filter (two bits in one 64-bit word per key, about 16 bits per key), one read per
//! checked row from a table a fraction of the size. A routed filter (a build side split into partitions) is one
//! bloom of all partitions' keys: a key can only match in its own partition, so "in any partition" is the same
//! test. False positives only let a row through to the join, which decides; a bloom never drops a row whose keys
//! are among the build side's.
//!
//! A single integer key whose build values lie in a range of at most twice the bloom's bits (or of 1 MiB of bits)
//! gets an exact bit set over that range instead (one bit per value from the smallest): no false positives, no multiply, and a probe
//! side in key order (a fact table by its order key) reads it front to back. TPC-H's key columns are dense
//! integers, so most of its joins take this way (docs/benchmarks.md, "Exact key sets").

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Int32Type, Int64Type, UInt32Type, UInt64Type,
};
use datafusion::common::Result;
use datafusion::common::hash_utils::{RandomState, create_hashes};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties,
    ReplaceChildrenOptions,
};
use futures_util::Stream;

use super::single_input::{only_child, passed_through_properties, recompute, visit_expressions};

/// Bits per build key: one row in 30–60 that cannot match still passes (two bits in a 64-bit block).
const BITS_PER_KEY: usize = 16;
/// The smallest bloom: 64 words.
const MIN_BITS: usize = 1 << 12;
/// The largest bloom, 8 MiB: bigger stops fitting in a cache and costs what the hash table did.
const MAX_BITS: usize = 1 << 26;
/// An exact set of at most this many bits (1 MiB, which stays in a core's cache) is taken whatever the bloom's
/// size: a bloom a sixth of its size was slower on a probe side in key order, and let 34 % more rows through.
const EXACT_BITS: usize = 1 << 23;
/// Build sides with more keys than this get no bloom (their hashes are held until the build ends).
const MAX_KEYS: usize = 8 << 20;

/// The hash of a row's keys, the same on both sides of a join (the key types are equal there).
fn hash_state() -> RandomState {
    RandomState::with_seed(0x7ab1_e7a1_c0ff_ee00)
}

/// The hashes of `keys`' rows into `hashes`, and which rows have no null key (a null never joins). A single
/// integer key is its own hash — the bloom's multiply mixes it ([`HashedBits::position`]) — which saves hashing
/// every probe row (both sides of a join have the same key types, so both take the same way).
/// Also says whether the hashes are the key's own values.
fn row_hashes(
    keys: &[ArrayRef],
    rows: usize,
    hashes: &mut Vec<u64>,
) -> Result<(BooleanBuffer, bool)> {
    hashes.clear();
    let own = match keys {
        [key] => visit_integers(key, OwnHashes(hashes)).is_some(),
        _ => false,
    };
    if !own {
        hashes.resize(rows, 0);
        create_hashes(keys, &hash_state(), hashes)?;
    }
    let valid = valid_rows(keys).unwrap_or_else(|| BooleanBuffer::new_set(rows));
    Ok((valid, own))
}

/// The rows where no key is null; `None` when no key has a null.
fn valid_rows(keys: &[ArrayRef]) -> Option<BooleanBuffer> {
    keys.iter()
        .filter_map(Array::logical_nulls)
        .fold(None, |valid, nulls| {
            Some(match valid {
                Some(valid) => &valid & nulls.inner(),
                None => nulls.inner().clone(),
            })
        })
}

/// Something done over the values of an integer column, each widened to `i64` (signed values sign-extended,
/// `UInt64` reinterpreted: a bijection, so equal values stay equal and different ones different).
trait IntegerVisitor {
    type Output;
    /// Runs over `values`; one loop the compiler specialises per type.
    fn visit<T: Copy>(self, values: &[T], widen: impl Fn(T) -> i64) -> Self::Output;
}

/// `visitor` over `key`'s values if it is an integer column (dates are days); `None` for other types.
#[expect(
    clippy::cast_possible_wrap,
    reason = "a reinterpretation of the bits: equal values give equal bits"
)]
fn visit_integers<V: IntegerVisitor>(key: &ArrayRef, visitor: V) -> Option<V::Output> {
    Some(match key.data_type() {
        DataType::Int64 => visitor.visit(key.as_primitive::<Int64Type>().values(), |v| v),
        DataType::Int32 => visitor.visit(key.as_primitive::<Int32Type>().values(), i64::from),
        DataType::UInt64 => visitor.visit(key.as_primitive::<UInt64Type>().values(), |v| v as i64),
        DataType::UInt32 => visitor.visit(key.as_primitive::<UInt32Type>().values(), i64::from),
        DataType::Date32 => visitor.visit(key.as_primitive::<Date32Type>().values(), i64::from),
        _ => return None,
    })
}

/// Appends every value as its own hash.
struct OwnHashes<'a>(&'a mut Vec<u64>);

impl IntegerVisitor for OwnHashes<'_> {
    type Output = ();

    #[expect(
        clippy::cast_sign_loss,
        reason = "the bits of the widened value are the hash; equal values give equal bits"
    )]
    fn visit<T: Copy>(self, values: &[T], widen: impl Fn(T) -> i64) {
        self.0.extend(values.iter().map(|&v| widen(v) as u64));
    }
}

/// Which values may be among the build keys, straight from the column (no hashes in between).
struct Members<'a>(&'a KeyBloom);

impl IntegerVisitor for Members<'_> {
    type Output = BooleanBuffer;

    #[expect(
        clippy::cast_sign_loss,
        reason = "the bits of the widened value are its hash; equal values give equal bits"
    )]
    fn visit<T: Copy>(self, values: &[T], widen: impl Fn(T) -> i64) -> BooleanBuffer {
        match self.0 {
            KeyBloom::Hashed(bits) => BooleanBuffer::collect_bool(values.len(), |row| {
                bits.contains(widen(values[row]) as u64)
            }),
            KeyBloom::Exact(bits) => {
                BooleanBuffer::collect_bool(values.len(), |row| bits.contains(widen(values[row])))
            }
        }
    }
}

/// Evaluates join key expressions over a batch.
fn key_arrays(keys: &[Arc<dyn PhysicalExpr>], batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
    keys.iter()
        .map(|key| key.evaluate(batch)?.into_array(batch.num_rows()))
        .collect()
}

/// The build keys' bits.
#[derive(Debug)]
pub(crate) enum KeyBloom {
    Hashed(HashedBits),
    Exact(ValueBits),
}

/// Two bits of a word per key, both picked by the key's hash.
#[derive(Debug)]
pub(crate) struct HashedBits {
    words: Vec<u64>,
    /// `64 - log2(words.len())`: the top bits of a mixed hash pick the word.
    shift: u32,
}

/// Exact: bit `value - min` is set for every build value of a single integer key.
#[derive(Debug)]
pub(crate) struct ValueBits {
    min: i64,
    words: Vec<u64>,
}

impl KeyBloom {
    /// `integers`: the hashes are the values of a single integer key, widened to `i64` ([`visit_integers`]).
    fn from_hashes(hashes: &[u64], integers: bool) -> Self {
        let bloom_bits = (hashes.len().max(1) * BITS_PER_KEY)
            .next_power_of_two()
            .clamp(MIN_BITS, MAX_BITS);
        match integers
            .then(|| ValueBits::new(hashes, (2 * bloom_bits).max(EXACT_BITS)))
            .flatten()
        {
            Some(exact) => Self::Exact(exact),
            None => Self::Hashed(HashedBits::new(hashes, bloom_bits)),
        }
    }

    /// The rows of `batch` whose `keys` may be among the build side's: false for a null key, and for most keys
    /// that are not (for none with an exact set).
    pub(crate) fn truth(
        &self,
        keys: &[Arc<dyn PhysicalExpr>],
        batch: &RecordBatch,
    ) -> Result<BooleanBuffer> {
        let rows = batch.num_rows();
        let arrays = key_arrays(keys, batch)?;
        let member = match arrays.as_slice() {
            [key] => visit_integers(key, Members(self)),
            _ => None,
        };
        let member = match (member, self) {
            (Some(member), _) => member,
            (None, Self::Hashed(bits)) => {
                let mut hashes = Vec::new();
                let (valid, _) = row_hashes(&arrays, rows, &mut hashes)?;
                let member = BooleanBuffer::collect_bool(rows, |row| bits.contains(hashes[row]));
                return Ok(&member & &valid);
            }
            // Only a single integer key makes an exact set, and the probe side's key has the build side's type.
            (None, Self::Exact(_)) => BooleanBuffer::new_set(rows),
        };
        Ok(match valid_rows(&arrays) {
            Some(valid) => &member & &valid,
            None => member,
        })
    }
}

impl HashedBits {
    fn new(hashes: &[u64], bits: usize) -> Self {
        let words = bits / 64;
        let mut bloom = Self {
            words: vec![0; words],
            shift: 64 - words.trailing_zeros(),
        };
        for &hash in hashes {
            let (word, mask) = bloom.position(hash);
            if let Some(bits) = bloom.words.get_mut(word) {
                *bits |= mask;
            }
        }
        bloom
    }

    /// The word and the two bits of a hash. The multiply spreads every input bit into the top bits (and only
    /// there: a product's low bits depend on the input's low bits alone), so the word comes from the top bits and
    /// the two bits from the twelve below them.
    fn position(&self, hash: u64) -> (usize, u64) {
        let mixed = hash.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let word = usize::try_from(mixed >> self.shift).unwrap_or_default();
        let bits = mixed >> (self.shift - 12);
        let mask = (1_u64 << (bits & 63)) | (1_u64 << ((bits >> 6) & 63));
        (word, mask)
    }

    fn contains(&self, hash: u64) -> bool {
        let (word, mask) = self.position(hash);
        self.words.get(word).is_some_and(|bits| bits & mask == mask)
    }
}

impl ValueBits {
    /// A bit per value from the smallest to the largest of `values` (i64s carried as their bits), if that is at
    /// most `max_bits` bits.
    #[expect(
        clippy::cast_possible_wrap,
        reason = "the values are i64s carried as their bits"
    )]
    fn new(values: &[u64], max_bits: usize) -> Option<Self> {
        let min = values.iter().map(|&v| v as i64).min()?;
        let max = values.iter().map(|&v| v as i64).max()?;
        let span = usize::try_from(i128::from(max) - i128::from(min) + 1).ok()?;
        if span > max_bits {
            return None;
        }
        let mut exact = Self {
            min,
            words: vec![0_u64; span.div_ceil(64)],
        };
        for &value in values {
            let (word, bit) = exact.position(value as i64);
            *exact.words.get_mut(word)? |= bit;
        }
        Some(exact)
    }

    /// The word and bit of `value`; a value below `min` wraps to an offset far past the last word.
    #[expect(
        clippy::cast_sign_loss,
        reason = "a value below the smallest wraps to an offset past the end, which no word holds"
    )]
    fn position(&self, value: i64) -> (usize, u64) {
        let offset = value.wrapping_sub(self.min) as u64;
        (
            usize::try_from(offset >> 6).unwrap_or(usize::MAX),
            1 << (offset & 63),
        )
    }

    fn contains(&self, value: i64) -> bool {
        let (word, bit) = self.position(value);
        self.words.get(word).is_some_and(|bits| bits & bit != 0)
    }
}

/// One join's bloom: filled by its [`KeyCollectExec`] partitions, read by the probe side's scan filters.
pub(crate) struct KeySlot {
    collecting: Mutex<Collecting>,
    bloom: OnceLock<KeyBloom>,
}

#[derive(Default)]
struct Collecting {
    hashes: Vec<u64>,
    /// The build input's partition count, as its partitions are executed (each must say the same).
    partitions: Option<usize>,
    finished: usize,
    started: Vec<usize>,
    /// Too many keys, a key that could not be evaluated, or a partition run twice: no bloom for this join.
    abandoned: bool,
    /// Whether the hashes are a single integer key's values, once a partition with rows has said.
    integers: Option<bool>,
}

impl fmt::Debug for KeySlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySlot")
            .field("ready", &self.bloom.get().is_some())
            .finish_non_exhaustive()
    }
}

impl KeySlot {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            collecting: Mutex::new(Collecting::default()),
            bloom: OnceLock::new(),
        })
    }

    /// The bloom, once every build partition has ended.
    pub(crate) fn bloom(&self) -> Option<&KeyBloom> {
        self.bloom.get()
    }

    fn collecting(&self) -> std::sync::MutexGuard<'_, Collecting> {
        self.collecting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Partition `partition` of `partitions` starts. The bloom is made when as many partitions as the input has
    /// have ended, so the count is the input's own at execution, not what the plan said when it was optimized.
    fn start(&self, partition: usize, partitions: usize) {
        let mut collecting = self.collecting();
        // A partition executed twice (a plan run again) would mix two builds' keys: no bloom at all.
        if collecting.started.contains(&partition)
            || collecting
                .partitions
                .is_some_and(|known| known != partitions)
        {
            collecting.abandoned = true;
            collecting.hashes = Vec::new();
        }
        collecting.partitions = Some(partitions);
        collecting.started.push(partition);
    }

    fn abandon(&self) {
        let mut collecting = self.collecting();
        collecting.abandoned = true;
        collecting.hashes = Vec::new();
    }

    /// A build partition ended with `hashes`; the last one makes the bloom. `integers`: whether they are the
    /// values of a single integer key (`None` for a partition without rows).
    fn finish(&self, hashes: &[u64], integers: Option<bool>) {
        let mut collecting = self.collecting();
        if collecting.abandoned {
            return;
        }
        if collecting.hashes.len() + hashes.len() > MAX_KEYS {
            collecting.abandoned = true;
            collecting.hashes = Vec::new();
            return;
        }
        collecting.hashes.extend_from_slice(hashes);
        collecting.finished += 1;
        collecting.integers = match (collecting.integers, integers) {
            (Some(so_far), Some(this)) => Some(so_far && this),
            (so_far, this) => so_far.or(this),
        };
        if Some(collecting.finished) == collecting.partitions {
            let all = std::mem::take(&mut collecting.hashes);
            let integers = collecting.integers == Some(true);
            let _ = self.bloom.set(KeyBloom::from_hashes(&all, integers));
        }
    }
}

/// Passes a hash join's build input through unchanged, hashing each row's join keys into its [`KeySlot`].
#[derive(Debug)]
pub struct KeyCollectExec {
    input: Arc<dyn ExecutionPlan>,
    keys: Vec<Arc<dyn PhysicalExpr>>,
    slot: Arc<KeySlot>,
    properties: Arc<PlanProperties>,
}

impl KeyCollectExec {
    pub(crate) fn new(
        input: Arc<dyn ExecutionPlan>,
        keys: Vec<Arc<dyn PhysicalExpr>>,
        slot: Arc<KeySlot>,
    ) -> Self {
        let properties = Arc::clone(input.properties());
        Self {
            input,
            keys,
            slot,
            properties,
        }
    }
}

impl DisplayAs for KeyCollectExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let keys: Vec<String> = self.keys.iter().map(ToString::to_string).collect();
        write!(f, "KeyCollectExec: bloom of [{}]", keys.join(", "))
    }
}

impl ExecutionPlan for KeyCollectExec {
    fn name(&self) -> &'static str {
        "KeyCollectExec"
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
        visit_expressions(self.keys.iter().cloned(), f)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = only_child(children, "KeyCollectExec")?;
        let properties = passed_through_properties(options, &self.properties, &input);
        Ok(Arc::new(Self {
            input,
            keys: self.keys.clone(),
            slot: Arc::clone(&self.slot),
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
        self.slot.start(
            partition,
            self.input.output_partitioning().partition_count(),
        );
        Ok(Box::pin(CollectingStream {
            input: self.input.execute(partition, context)?,
            keys: self.keys.clone(),
            slot: Arc::clone(&self.slot),
            hashes: Vec::new(),
            scratch: Vec::new(),
            integers: None,
            done: false,
        }))
    }
}

/// One build partition's rows on their way to the join, their key hashes kept.
struct CollectingStream {
    input: SendableRecordBatchStream,
    keys: Vec<Arc<dyn PhysicalExpr>>,
    slot: Arc<KeySlot>,
    hashes: Vec<u64>,
    scratch: Vec<u64>,
    /// Whether the hashes are the key's own values (known from the first batch).
    integers: Option<bool>,
    done: bool,
}

impl CollectingStream {
    fn collect(&mut self, batch: &RecordBatch) -> Result<()> {
        let arrays = key_arrays(&self.keys, batch)?;
        let (valid, own) = row_hashes(&arrays, batch.num_rows(), &mut self.scratch)?;
        self.integers = Some(own);
        self.hashes
            .extend(valid.set_indices().map(|row| self.scratch[row]));
        Ok(())
    }
}

impl Stream for CollectingStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.input.as_mut().poll_next(cx);
        if self.done {
            return polled;
        }
        match &polled {
            Poll::Ready(Some(Ok(batch))) => {
                if self.hashes.len() > MAX_KEYS || self.collect(batch).is_err() {
                    self.done = true;
                    self.hashes = Vec::new();
                    self.slot.abandon();
                }
            }
            Poll::Ready(Some(Err(_))) => {
                self.done = true;
                self.slot.abandon();
            }
            Poll::Ready(None) => {
                self.done = true;
                let hashes = std::mem::take(&mut self.hashes);
                self.slot.finish(&hashes, self.integers);
            }
            Poll::Pending => {}
        }
        polled
    }
}

impl RecordBatchStream for CollectingStream {
    fn schema(&self) -> datafusion::arrow::datatypes::SchemaRef {
        self.input.schema()
    }
}
