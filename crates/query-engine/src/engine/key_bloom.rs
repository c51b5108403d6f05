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
/// Build sides with more keys than this get no bloom (their hashes are held until the build ends).
const MAX_KEYS: usize = 8 << 20;

/// The hash of a row's keys, the same on both sides of a join (the key types are equal there).
fn hash_state() -> RandomState {
    RandomState::with_seed(0x7ab1_e7a1_c0ff_ee00)
}

/// The hashes of `keys`' rows into `hashes`, and which rows have no null key (a null never joins). A single
/// integer key is its own hash — the bloom's multiply mixes it ([`KeyBloom::position`]) — which saves hashing
/// every probe row (both sides of a join have the same key types, so both take the same way).
fn row_hashes(keys: &[ArrayRef], rows: usize, hashes: &mut Vec<u64>) -> Result<BooleanBuffer> {
    hashes.clear();
    match keys {
        [key] if integer_key(key, hashes) => {}
        _ => {
            hashes.resize(rows, 0);
            create_hashes(keys, &hash_state(), hashes)?;
        }
    }
    let mut valid = BooleanBuffer::new_set(rows);
    for key in keys {
        if let Some(nulls) = key.logical_nulls() {
            valid = &valid & nulls.inner();
        }
    }
    Ok(valid)
}

/// Appends the values of an integer column as their own hashes (signed values sign-extended); false for other
/// types.
#[expect(
    clippy::cast_sign_loss,
    reason = "the bits of the sign-extended value are the hash; equal values give equal bits"
)]
fn integer_key(key: &ArrayRef, hashes: &mut Vec<u64>) -> bool {
    match key.data_type() {
        DataType::Int64 => own_hashes(hashes, key.as_primitive::<Int64Type>().values(), |v| {
            v as u64
        }),
        DataType::Int32 => own_hashes(hashes, key.as_primitive::<Int32Type>().values(), |v| {
            i64::from(v) as u64
        }),
        DataType::UInt64 => own_hashes(hashes, key.as_primitive::<UInt64Type>().values(), |v| v),
        DataType::UInt32 => {
            own_hashes(hashes, key.as_primitive::<UInt32Type>().values(), u64::from);
        }
        DataType::Date32 => own_hashes(hashes, key.as_primitive::<Date32Type>().values(), |v| {
            i64::from(v) as u64
        }),
        _ => return false,
    }
    true
}

/// Appends `hash` of every value, in one loop the compiler specialises per type.
fn own_hashes<T: Copy>(hashes: &mut Vec<u64>, values: &[T], hash: impl Fn(T) -> u64) {
    hashes.extend(values.iter().map(|&v| hash(v)));
}

/// Evaluates join key expressions over a batch.
fn key_arrays(keys: &[Arc<dyn PhysicalExpr>], batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
    keys.iter()
        .map(|key| key.evaluate(batch)?.into_array(batch.num_rows()))
        .collect()
}

/// The build keys' bits.
#[derive(Debug)]
pub(crate) struct KeyBloom {
    words: Vec<u64>,
    /// `64 - log2(words.len())`: the top bits of a mixed hash pick the word.
    shift: u32,
}

impl KeyBloom {
    fn from_hashes(hashes: &[u64]) -> Self {
        let bits = (hashes.len().max(1) * BITS_PER_KEY)
            .next_power_of_two()
            .clamp(MIN_BITS, MAX_BITS);
        let words = bits / 64;
        let mut bloom = Self {
            words: vec![0; words],
            shift: 64 - words.trailing_zeros(),
        };
        for &hash in hashes {
            let (word, mask) = bloom.position(hash);
            bloom.words[word] |= mask;
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
        self.words[word] & mask == mask
    }

    /// The rows of `batch` whose `keys` may be among the build side's: false for a null key, and for most keys
    /// that are not.
    pub(crate) fn truth(
        &self,
        keys: &[Arc<dyn PhysicalExpr>],
        batch: &RecordBatch,
    ) -> Result<BooleanBuffer> {
        let rows = batch.num_rows();
        let arrays = key_arrays(keys, batch)?;
        let mut hashes = Vec::new();
        let valid = row_hashes(&arrays, rows, &mut hashes)?;
        let member = BooleanBuffer::collect_bool(rows, |row| self.contains(hashes[row]));
        Ok(&member & &valid)
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

    /// A build partition ended with `hashes`; the last one makes the bloom.
    fn finish(&self, hashes: &[u64]) {
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
        if Some(collecting.finished) == collecting.partitions {
            let all = std::mem::take(&mut collecting.hashes);
            let _ = self.bloom.set(KeyBloom::from_hashes(&all));
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
    done: bool,
}

impl CollectingStream {
    fn collect(&mut self, batch: &RecordBatch) -> Result<()> {
        let arrays = key_arrays(&self.keys, batch)?;
        let valid = row_hashes(&arrays, batch.num_rows(), &mut self.scratch)?;
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
                self.slot.finish(&hashes);
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
