//! Both bounds of a range checked in one pass: `c >= low AND c < high` (and `BETWEEN`) over a column of integers,
//! dates, timestamps or decimals, for the cheap terms of a [`super::conjunctions::Conjunction`].
//!
//! DataFusion plans each bound as a comparison of its own: one pass over the column and one bitmap per bound, then
//! an `AND`. TPC-H Q6 compares every row five times, two ranges and a bound, and those passes were 11 % of its CPU
//! (docs/benchmarks.md, "Planning, and where TPC-H Q1's time goes"); a range read once costs about one comparison.
//! Only bounds that are non-null constants of the column's own type are joined, and floats are left alone (their
//! comparisons are `float_compare`'s, with its total order). A null value is outside every range: the answer has
//! no nulls, which is all a conjunction needs (it stands only as a whole filter predicate).

use std::any::Any;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use datafusion::arrow::buffer::{BooleanBuffer, Buffer};
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Date64Type, Decimal128Type, Int8Type, Int16Type,
    Int32Type, Int64Type, Schema, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{Result, ScalarValue, internal_datafusion_err, internal_err};
use datafusion::logical_expr::{ColumnarValue, Operator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{BinaryExpr, Column, Literal};

/// One bound of a range.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Bound {
    value: ScalarValue,
    inclusive: bool,
}

/// `low <(=) column <(=) high`, one pass.
#[derive(Debug)]
pub struct RangeComparison {
    column: Arc<dyn PhysicalExpr>,
    low: Bound,
    high: Bound,
}

/// Which side of a range a comparison bounds: the column's index, the bound, and whether it is the lower one.
fn bound_of(term: &Arc<dyn PhysicalExpr>, schema: &Schema) -> Option<(usize, Bound, bool)> {
    let binary = (term.as_ref() as &dyn Any).downcast_ref::<BinaryExpr>()?;
    // Written `column op constant`, or the other way round with the operator mirrored.
    let (column, literal, op) = match (column_of(binary.left()), literal_of(binary.right())) {
        (Some(column), Some(literal)) => (column, literal, *binary.op()),
        _ => (
            column_of(binary.right())?,
            literal_of(binary.left())?,
            binary.op().swap()?,
        ),
    };
    let data_type = schema.fields().get(column.index())?.data_type();
    if !rangeable(data_type)
        || literal.value().is_null()
        || literal.value().data_type() != *data_type
    {
        return None;
    }
    let (inclusive, lower) = match op {
        Operator::GtEq => (true, true),
        Operator::Gt => (false, true),
        Operator::LtEq => (true, false),
        Operator::Lt => (false, false),
        _ => return None,
    };
    let bound = Bound {
        value: literal.value().clone(),
        inclusive,
    };
    Some((column.index(), bound, lower))
}

fn column_of(expr: &Arc<dyn PhysicalExpr>) -> Option<&Column> {
    (expr.as_ref() as &dyn Any).downcast_ref::<Column>()
}

fn literal_of(expr: &Arc<dyn PhysicalExpr>) -> Option<&Literal> {
    (expr.as_ref() as &dyn Any).downcast_ref::<Literal>()
}

fn rangeable(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Date32
            | DataType::Date64
            | DataType::Timestamp(_, _)
            | DataType::Decimal128(_, _)
    )
}

/// `terms` with each column's first lower and first upper bound joined into one [`RangeComparison`] (in the
/// lower bound's place); every other term as it was.
pub(crate) fn joined_ranges(
    terms: Vec<Arc<dyn PhysicalExpr>>,
    schema: &Schema,
) -> Vec<Arc<dyn PhysicalExpr>> {
    let bounds: Vec<Option<(usize, Bound, bool)>> =
        terms.iter().map(|term| bound_of(term, schema)).collect();
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for (lower, bound) in bounds.iter().enumerate() {
        let Some((column, _, true)) = bound else {
            continue;
        };
        let taken = |i: usize| pairs.iter().any(|(l, u)| *l == i || *u == i);
        if taken(lower) {
            continue;
        }
        let upper = bounds.iter().enumerate().position(|(i, other)| {
            !taken(i) && matches!(other, Some((c, _, false)) if c == column)
        });
        if let Some(upper) = upper {
            pairs.push((lower, upper));
        }
    }
    let mut joined: Vec<Option<Arc<dyn PhysicalExpr>>> = terms.into_iter().map(Some).collect();
    for (lower, upper) in pairs {
        let (Some((column, low, _)), Some((_, high, _))) = (&bounds[lower], &bounds[upper]) else {
            continue;
        };
        let Some(field) = schema.fields().get(*column) else {
            continue;
        };
        joined[upper] = None;
        joined[lower] = Some(Arc::new(RangeComparison {
            column: Arc::new(Column::new(field.name(), *column)),
            low: low.clone(),
            high: high.clone(),
        }));
    }
    joined.into_iter().flatten().collect()
}

/// `inside` of every value as a bitmap.
fn packed<N: Copy>(values: &[N], inside: impl Fn(N) -> bool) -> BooleanBuffer {
    let mut words: Vec<u64> = Vec::with_capacity(values.len().div_ceil(64));
    for chunk in values.chunks(64) {
        let mut word = 0_u64;
        for (bit, value) in chunk.iter().enumerate() {
            word |= u64::from(inside(*value)) << bit;
        }
        words.push(word);
    }
    BooleanBuffer::new(Buffer::from_vec(words), 0, values.len())
}

/// The rows of `array` inside the range (never a null one).
#[expect(
    clippy::needless_bitwise_bool,
    reason = "both comparisons of every value, branch-free, so the loop vectorises"
)]
fn inside<T: ArrowPrimitiveType>(
    array: &ArrayRef,
    low: &Bound,
    high: &Bound,
) -> Result<BooleanBuffer>
where
    T::Native: PartialOrd,
{
    let mismatch = || internal_datafusion_err!("a range's bounds are not of its column's type");
    let native = |bound: &Bound| -> Result<T::Native> {
        let single = bound.value.to_array()?;
        let single = single.as_primitive_opt::<T>().ok_or_else(mismatch)?;
        Ok(single.value(0))
    };
    let (lo, hi) = (native(low)?, native(high)?);
    let values = array.as_primitive_opt::<T>().ok_or_else(mismatch)?.values();
    // Both comparisons of every value, without short-circuit or bounds checks, 64 to a word: the loop the
    // compiler vectorises (`collect_bool` with `&&` ran a fifth slower than two comparison passes on Q6).
    let bits = match (low.inclusive, high.inclusive) {
        (true, true) => packed(values, |v| (v >= lo) & (v <= hi)),
        (true, false) => packed(values, |v| (v >= lo) & (v < hi)),
        (false, true) => packed(values, |v| (v > lo) & (v <= hi)),
        (false, false) => packed(values, |v| (v > lo) & (v < hi)),
    };
    Ok(match array.nulls() {
        Some(nulls) => &bits & nulls.inner(),
        None => bits,
    })
}

impl PhysicalExpr for RangeComparison {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn nullable(&self, _input_schema: &Schema) -> Result<bool> {
        Ok(false)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let array = self.column.evaluate(batch)?.into_array(batch.num_rows())?;
        let (low, high) = (&self.low, &self.high);
        let bits = match array.data_type() {
            DataType::Int8 => inside::<Int8Type>(&array, low, high)?,
            DataType::Int16 => inside::<Int16Type>(&array, low, high)?,
            DataType::Int32 => inside::<Int32Type>(&array, low, high)?,
            DataType::Int64 => inside::<Int64Type>(&array, low, high)?,
            DataType::UInt8 => inside::<UInt8Type>(&array, low, high)?,
            DataType::UInt16 => inside::<UInt16Type>(&array, low, high)?,
            DataType::UInt32 => inside::<UInt32Type>(&array, low, high)?,
            DataType::UInt64 => inside::<UInt64Type>(&array, low, high)?,
            DataType::Date32 => inside::<Date32Type>(&array, low, high)?,
            DataType::Date64 => inside::<Date64Type>(&array, low, high)?,
            DataType::Timestamp(TimeUnit::Second, _) => {
                inside::<TimestampSecondType>(&array, low, high)?
            }
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                inside::<TimestampMillisecondType>(&array, low, high)?
            }
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                inside::<TimestampMicrosecondType>(&array, low, high)?
            }
            DataType::Timestamp(TimeUnit::Nanosecond, _) => {
                inside::<TimestampNanosecondType>(&array, low, high)?
            }
            DataType::Decimal128(_, _) => inside::<Decimal128Type>(&array, low, high)?,
            other => return internal_err!("a range over a column of {other}"),
        };
        Ok(ColumnarValue::Array(Arc::new(BooleanArray::new(
            bits, None,
        ))))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.column]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        let [column] = <[Arc<dyn PhysicalExpr>; 1]>::try_from(children)
            .map_err(|_| internal_datafusion_err!("a range has one column"))?;
        Ok(Arc::new(Self {
            column,
            low: self.low.clone(),
            high: self.high.clone(),
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let low = if self.low.inclusive { ">=" } else { ">" };
        let high = if self.high.inclusive { "<=" } else { "<" };
        self.column.fmt_sql(f)?;
        write!(f, " {low} {} AND ", self.low.value)?;
        self.column.fmt_sql(f)?;
        write!(f, " {high} {}", self.high.value)
    }
}

impl fmt::Display for RangeComparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let open = if self.low.inclusive { '[' } else { '(' };
        let close = if self.high.inclusive { ']' } else { ')' };
        write!(
            f,
            "{} IN RANGE {open}{}, {}{close}",
            self.column, self.low.value, self.high.value
        )
    }
}

impl PartialEq for RangeComparison {
    fn eq(&self, other: &Self) -> bool {
        self.column.eq(&other.column) && self.low == other.low && self.high == other.high
    }
}

impl Eq for RangeComparison {}

impl Hash for RangeComparison {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.column.hash(state);
        self.low.hash(state);
        self.high.hash(state);
    }
}
