//! Group keys of several columns, each of whose values fits in 16 bytes: short strings and integers.
//!
//! DataFusion 55 finds the groups of a multi-column `GROUP BY` column by column: every row's columns are hashed
//! one column at a time, the candidate group's values compared one column at a time, each through its type's
//! builder. TPC-H Q1's two one-letter flags cost 8.5 ns per row that way for four groups, an eighth of its CPU
//! (docs/benchmarks.md, "Short group keys"). A string of at most 12 bytes is held whole in its 16-byte view
//! (length and bytes, zero-padded), and an integer in its 8 bytes, so such a key is a few 128-bit words: one hash
//! over them, one table probe, one comparison of words.
//!
//! [`ShortKeyGroupValues`] is DataFusion's `GroupValues` for keys of two to [`MAX_COLUMNS`] columns of string or
//! binary views and integers (dates too), numbered as first seen. A batch whose views hold a longer string, or
//! one that comes when there are more than [`MAX_GROUPS`] groups, hands the groups found so far, in order, to
//! DataFusion's own group values and goes on there: the group ids stay the same, so the accumulators see no
//! difference.

use std::mem::size_of;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::compute::filter;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::{Result, internal_datafusion_err};
use datafusion::logical_expr::EmitTo;
use datafusion::physical_plan::aggregates::group_values::{GroupValues, new_group_values};
use datafusion::physical_plan::aggregates::order::GroupOrdering;

use super::key_words::{array_of, halves, integer_words, view_words};

/// The most key columns taken: wider keys are rarely all short, and each column is a word more per row.
pub(crate) const MAX_COLUMNS: usize = 4;
/// Past this many groups DataFusion's group values take over: once the table and the keys outgrow the caches,
/// its column-at-a-time probes, whose memory reads overlap, beat one row's chain of reads after another's (about
/// 100 against 75 ns per row for 860,000 groups of two short strings; 15 against 16 for 10,000; 8.5 against 14.5
/// for six).
pub(crate) const MAX_GROUPS: usize = 1 << 15;
/// No group in this slot of the table.
const EMPTY: u64 = u64::MAX;

/// A table slot: the hash's high 32 bits beside the group id, so most probes that miss never read the group.
fn entry(hash: u64, group: u32) -> u64 {
    (hash & 0xffff_ffff_0000_0000) | u64::from(group)
}

/// The group id of a table slot's entry.
fn group_of(entry: u64) -> usize {
    usize::try_from(entry & 0xffff_ffff).unwrap_or(usize::MAX)
}

/// The groups of a filtered aggregate's kept rows: ours when the key columns are short ones
/// ([`ShortKeyGroupValues`], which skip the dropped rows in place), DataFusion's otherwise (given the kept rows'
/// keys, copied).
pub(crate) enum KeptGroups {
    Short(ShortKeyGroupValues),
    Planned(Box<dyn GroupValues>),
}

impl KeptGroups {
    pub(crate) fn new(schema: SchemaRef) -> Result<Self> {
        Ok(match ShortKeyGroupValues::new(Arc::clone(&schema)) {
            Some(ours) => Self::Short(ours),
            None => Self::Planned(new_group_values(schema, &GroupOrdering::None)?),
        })
    }

    /// Every row's group into `groups`, [`ShortKeyGroupValues::DROPPED`] for the rows `kept` (when given) does
    /// not set; only kept rows make groups.
    pub(crate) fn assign(
        &mut self,
        keys: &[ArrayRef],
        kept: Option<&BooleanBuffer>,
        groups: &mut Vec<usize>,
    ) -> Result<()> {
        match (self, kept) {
            (Self::Short(ours), kept) => ours.intern_kept(keys, kept, groups),
            (Self::Planned(planned), None) => planned.intern(keys, groups),
            (Self::Planned(planned), Some(kept)) => {
                intern_copied(planned.as_mut(), keys, kept, groups)
            }
        }
    }

    pub(crate) fn values(&mut self) -> &mut dyn GroupValues {
        match self {
            Self::Short(ours) => ours,
            Self::Planned(planned) => planned.as_mut(),
        }
    }

    pub(crate) fn size(&self) -> usize {
        match self {
            Self::Short(ours) => ours.size(),
            Self::Planned(planned) => planned.size(),
        }
    }
}

/// The kept rows' keys copied and interned into `values`, their groups spread back over every row.
fn intern_copied(
    values: &mut dyn GroupValues,
    keys: &[ArrayRef],
    kept: &BooleanBuffer,
    groups: &mut Vec<usize>,
) -> Result<()> {
    let selection = BooleanArray::new(kept.clone(), None);
    let kept_keys = keys
        .iter()
        .map(|key| filter(key, &selection))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut kept_groups = Vec::new();
    values.intern(&kept_keys, &mut kept_groups)?;
    groups.clear();
    groups.resize(kept.len(), ShortKeyGroupValues::DROPPED);
    for (row, group) in kept.set_indices().zip(kept_groups) {
        groups[row] = group;
    }
    Ok(())
}

/// What one key column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// String or binary views: a short value is its view.
    View,
    /// An integer (or date) type: its value's bits, sign-extended to 64.
    Integer,
}

impl Kind {
    fn of(data_type: &DataType) -> Option<Self> {
        match data_type {
            DataType::Utf8View | DataType::BinaryView => Some(Self::View),
            DataType::Date32 | DataType::Date64 => Some(Self::Integer),
            integer if integer.is_integer() => Some(Self::Integer),
            _ => None,
        }
    }
}

/// Keys of short columns as 128-bit words, one per column, in a hash table of group ids.
pub struct ShortKeyGroupValues {
    schema: SchemaRef,
    kinds: Vec<Kind>,
    /// Every group's words, `kinds.len()` per group, in group order.
    words: Vec<u128>,
    /// Every group's hash, to grow the table without hashing again.
    hashes: Vec<u64>,
    /// Group ids by hash (open addressing, linear probing), each [`entry`] with its hash's high bits; a power of
    /// two long, at most half full.
    table: Vec<u64>,
    /// The words of the batch being interned, column after column.
    batch_words: Vec<u128>,
    /// Once a long value was met: DataFusion's group values, holding every group from then on.
    fallback: Option<Box<dyn GroupValues>>,
}

impl std::fmt::Debug for ShortKeyGroupValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShortKeyGroupValues")
            .field("kinds", &self.kinds)
            .field("groups", &self.len())
            .field("fell_back", &self.fell_back())
            .finish_non_exhaustive()
    }
}

impl ShortKeyGroupValues {
    /// The group of a row the mask drops ([`Self::intern_kept`], [`KeptGroups::assign`]).
    pub const DROPPED: usize = usize::MAX;

    /// `None` unless every key column is one this map takes and there are two to [`MAX_COLUMNS`] of them.
    #[must_use]
    pub fn new(schema: SchemaRef) -> Option<Self> {
        let kinds = schema
            .fields()
            .iter()
            .map(|field| Kind::of(field.data_type()))
            .collect::<Option<Vec<_>>>()?;
        if !(2..=MAX_COLUMNS).contains(&kinds.len()) {
            return None;
        }
        Some(Self {
            schema,
            kinds,
            words: Vec::new(),
            hashes: Vec::new(),
            table: vec![EMPTY; 64],
            batch_words: Vec::new(),
            fallback: None,
        })
    }

    /// Like `intern`, for the rows `kept` (when given) sets: the others get [`Self::DROPPED`] and make no group,
    /// and their keys are not copied out first.
    ///
    /// # Errors
    /// Keys of another width or type than the schema's, or DataFusion's group values failing after a handover.
    pub fn intern_kept(
        &mut self,
        cols: &[ArrayRef],
        kept: Option<&BooleanBuffer>,
        groups: &mut Vec<usize>,
    ) -> Result<()> {
        let Some(kept) = kept else {
            return self.intern(cols, groups);
        };
        groups.clear();
        let rows = cols.first().map_or(0, Array::len);
        let short = self.fallback.is_none()
            && cols.len() == self.width()
            && self.hashes.len() <= MAX_GROUPS
            && self.read_batch(cols)?;
        if !short {
            // `intern` hands over (or reports the width) as it would for these keys.
            return intern_copied(self, cols, kept, groups);
        }
        groups.reserve(rows);
        self.intern_short(rows, Some(kept), groups)
    }

    /// Whether a long value or many groups sent the groups to DataFusion's group values.
    #[must_use]
    pub fn fell_back(&self) -> bool {
        self.fallback.is_some()
    }

    fn width(&self) -> usize {
        self.kinds.len()
    }

    /// The batch's words column after column into `batch_words`; `false` when a view holds a long value.
    fn read_batch(&mut self, columns: &[ArrayRef]) -> Result<bool> {
        self.batch_words.clear();
        for (column, kind) in columns.iter().zip(&self.kinds) {
            let short = match kind {
                Kind::View => view_words(column, &mut self.batch_words)?,
                Kind::Integer => {
                    integer_words(column, &mut self.batch_words)?;
                    true
                }
            };
            if !short {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Hands every group so far, in order, to DataFusion's group values, which then hold them with the same ids.
    /// All in one batch first; DataFusion numbers first the keys whose hashes it has not seen, though, so two keys
    /// whose hashes collide there (it leaves a null out of a row's hash) can come out of order — then again one
    /// group at a time.
    fn fall_back(&mut self) -> Result<&mut Box<dyn GroupValues>> {
        let arrays = self.arrays(self.hashes.len())?;
        let mut fallback = new_group_values(Arc::clone(&self.schema), &GroupOrdering::None)?;
        let mut ids = Vec::new();
        fallback.intern(&arrays, &mut ids)?;
        if ids.iter().enumerate().any(|(group, id)| group != *id) {
            fallback = new_group_values(Arc::clone(&self.schema), &GroupOrdering::None)?;
            for group in 0..self.hashes.len() {
                let key: Vec<ArrayRef> = arrays.iter().map(|array| array.slice(group, 1)).collect();
                fallback.intern(&key, &mut ids)?;
                if ids.as_slice() != [group] {
                    return Err(internal_datafusion_err!(
                        "group values renumbered group {group} handed over: {ids:?}"
                    ));
                }
            }
        }
        self.words = Vec::new();
        self.hashes = Vec::new();
        self.table = Vec::new();
        self.batch_words = Vec::new();
        Ok(self.fallback.insert(fallback))
    }

    /// Arrays of the first `count` groups' keys, in the schema's types.
    fn arrays(&self, count: usize) -> Result<Vec<ArrayRef>> {
        let width = self.width();
        self.schema
            .fields()
            .iter()
            .enumerate()
            .map(|(column, field)| {
                let words = self.words[..count * width]
                    .iter()
                    .skip(column)
                    .step_by(width)
                    .copied();
                array_of(field.data_type(), words)
            })
            .collect()
    }

    fn slot(&self, hash: u64) -> usize {
        let bits = self.table.len().trailing_zeros();
        // The multiply's high bits: every bit of the hash moves them.
        usize::try_from(hash.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - bits)).unwrap_or(0)
    }

    /// Twice the table, the groups put back by their kept hashes.
    fn grow(&mut self) {
        let size = self.table.len() * 2;
        self.table = vec![EMPTY; size];
        let mask = size - 1;
        for (group, hash) in self.hashes.iter().enumerate() {
            let mut slot = self.slot(*hash);
            while self.table[slot] != EMPTY {
                slot = (slot + 1) & mask;
            }
            // Fewer groups than ids: `intern_rows` refuses the group that would reach `u32::MAX`.
            self.table[slot] = entry(*hash, u32::try_from(group).unwrap_or(u32::MAX));
        }
    }

    fn intern_short(
        &mut self,
        rows: usize,
        kept: Option<&BooleanBuffer>,
        groups: &mut Vec<usize>,
    ) -> Result<()> {
        match self.width() {
            2 => self.intern_rows::<2>(rows, kept, groups),
            3 => self.intern_rows::<3>(rows, kept, groups),
            4 => self.intern_rows::<4>(rows, kept, groups),
            width => Err(internal_datafusion_err!(
                "short keys: a key of {width} columns"
            )),
        }
    }

    /// The rows' groups, `N` words per key: a constant width lets the compiler compare keys word by word.
    fn intern_rows<const N: usize>(
        &mut self,
        rows: usize,
        kept: Option<&BooleanBuffer>,
        groups: &mut Vec<usize>,
    ) -> Result<()> {
        for row in 0..rows {
            if kept.is_some_and(|kept| !kept.value(row)) {
                groups.push(ShortKeyGroupValues::DROPPED);
                continue;
            }
            let mut key = [0_u128; N];
            let mut hash = 0_u64;
            for (column, word) in key.iter_mut().enumerate() {
                *word = self.batch_words[column * rows + row];
                hash = mix(hash, *word);
            }
            let tag = entry(hash, 0);
            let mask = self.table.len() - 1;
            let mut slot = self.slot(hash);
            let group = loop {
                let found = self.table[slot];
                if found == EMPTY {
                    let group = self.hashes.len();
                    let id = u32::try_from(group)
                        .ok()
                        .filter(|id| *id != u32::MAX)
                        .ok_or_else(|| internal_datafusion_err!("more groups than ids"))?;
                    self.table[slot] = entry(hash, id);
                    self.hashes.push(hash);
                    self.words.extend_from_slice(&key);
                    if self.hashes.len() * 2 > self.table.len() {
                        self.grow();
                    }
                    break group;
                }
                let candidate = group_of(found);
                if found & 0xffff_ffff_0000_0000 == tag
                    && self.words[candidate * N..(candidate + 1) * N]
                        .iter()
                        .zip(&key)
                        .all(|(stored, word)| stored == word)
                {
                    break candidate;
                }
                slot = (slot + 1) & mask;
            };
            groups.push(group);
        }
        Ok(())
    }
}

/// One more word into a row's hash: the word's halves multiplied apart from the hash so far, so the rows'
/// multiplications do not wait on each other.
fn mix(hash: u64, word: u128) -> u64 {
    let (low, high) = halves(word);
    let spread = low.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ high.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    hash.rotate_left(23) ^ spread
}

impl GroupValues for ShortKeyGroupValues {
    fn intern(&mut self, cols: &[ArrayRef], groups: &mut Vec<usize>) -> Result<()> {
        groups.clear();
        if let Some(fallback) = &mut self.fallback {
            return fallback.intern(cols, groups);
        }
        if cols.len() != self.width() {
            return Err(internal_datafusion_err!(
                "short keys: {} columns for a key of {}",
                cols.len(),
                self.width()
            ));
        }
        let rows = cols.first().map_or(0, Array::len);
        if self.hashes.len() > MAX_GROUPS || !self.read_batch(cols)? {
            return self.fall_back()?.intern(cols, groups);
        }
        groups.reserve(rows);
        self.intern_short(rows, None, groups)
    }

    fn size(&self) -> usize {
        match &self.fallback {
            Some(fallback) => fallback.size(),
            None => {
                self.words.capacity() * size_of::<u128>()
                    + self.hashes.capacity() * size_of::<u64>()
                    + self.table.capacity() * size_of::<u64>()
                    + self.batch_words.capacity() * size_of::<u128>()
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn len(&self) -> usize {
        match &self.fallback {
            Some(fallback) => fallback.len(),
            None => self.hashes.len(),
        }
    }

    fn emit(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        if let Some(fallback) = &mut self.fallback {
            return fallback.emit(emit_to);
        }
        let count = match emit_to {
            EmitTo::All => self.hashes.len(),
            EmitTo::First(n) => n.min(self.hashes.len()),
        };
        let arrays = self.arrays(count)?;
        // The groups left are renumbered from zero, as DataFusion's own group values do.
        self.words.drain(..count * self.width());
        self.hashes.drain(..count);
        let size = self.table.len();
        self.table = vec![EMPTY; size / 2];
        self.grow();
        Ok(arrays)
    }

    fn clear_shrink(&mut self, num_rows: usize) {
        if let Some(fallback) = &mut self.fallback {
            fallback.clear_shrink(num_rows);
            return;
        }
        self.words.clear();
        self.words.shrink_to(num_rows * self.width());
        self.hashes.clear();
        self.hashes.shrink_to(num_rows);
        self.table = vec![EMPTY; 64];
        self.batch_words.clear();
        self.batch_words.shrink_to(num_rows * self.width());
    }
}
