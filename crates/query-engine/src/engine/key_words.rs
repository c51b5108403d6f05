//! A short key column's values as 128-bit words, and back: the representation `short_keys` finds groups by.
//!
//! A string or binary value of at most [`INLINE_LENGTH`] bytes lies whole in its 16-byte view (length, then the
//! bytes, zero-padded), so its view is its word; an integer's (or date's) word is its value sign-extended to 64
//! bits. Equal values have equal words, and nulls have words no value has.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryViewArray, PrimitiveArray, StringViewArray,
};
use datafusion::arrow::buffer::{NullBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Date64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use datafusion::common::{Result, internal_datafusion_err};

/// The longest string a view holds whole.
pub(crate) const INLINE_LENGTH: u32 = 12;
/// A null view: its length field (the low 32 bits) says more than [`INLINE_LENGTH`], which no inline view does.
pub(crate) const NULL_VIEW: u128 = u128::MAX;
/// A null integer: beyond the 64 bits any integer's value takes.
pub(crate) const NULL_INTEGER: u128 = 1 << 64;

/// A word's low and high 64 bits.
pub(crate) fn halves(word: u128) -> (u64, u64) {
    let low = u64::try_from(word & u128::from(u64::MAX)).unwrap_or(u64::MAX);
    let high = u64::try_from(word >> 64).unwrap_or(u64::MAX);
    (low, high)
}

/// The length a view says its value has: its low 32 bits.
fn view_length(view: u128) -> u32 {
    u32::try_from(view & u128::from(u32::MAX)).unwrap_or(u32::MAX)
}

/// A view column's words (a null is [`NULL_VIEW`]); `false`, and nothing useful written, when a value is longer
/// than a view holds.
pub(crate) fn view_words(column: &ArrayRef, out: &mut Vec<u128>) -> Result<bool> {
    let views = match column.data_type() {
        DataType::Utf8View => column.as_string_view().views(),
        DataType::BinaryView => column.as_binary_view().views(),
        other => {
            return Err(internal_datafusion_err!(
                "short keys: {other} is no view type"
            ));
        }
    };
    let longest = views
        .iter()
        .fold(0_u32, |longest, view| longest.max(view_length(*view)));
    let nulls = column.logical_nulls();
    let short = match &nulls {
        None => longest <= INLINE_LENGTH,
        // A null's view may hold anything: only the valid ones must be short.
        Some(nulls) => {
            longest <= INLINE_LENGTH
                || views
                    .iter()
                    .zip(nulls.iter())
                    .all(|(view, valid)| !valid || view_length(*view) <= INLINE_LENGTH)
        }
    };
    if !short {
        return Ok(false);
    }
    match nulls {
        None => out.extend_from_slice(views),
        Some(nulls) => out.extend(
            views
                .iter()
                .zip(nulls.iter())
                .map(|(view, valid)| if valid { *view } else { NULL_VIEW }),
        ),
    }
    Ok(true)
}

/// An integer column's words: each value's bits sign-extended to 64 (a null is [`NULL_INTEGER`]), so equal values
/// have equal words.
pub(crate) fn integer_words(column: &ArrayRef, out: &mut Vec<u128>) -> Result<()> {
    fn push<T: datafusion::arrow::datatypes::ArrowPrimitiveType>(
        column: &ArrayRef,
        out: &mut Vec<u128>,
        bits: impl Fn(T::Native) -> u64,
    ) {
        let array = column.as_primitive::<T>();
        match array.nulls() {
            None => out.extend(array.values().iter().map(|v| u128::from(bits(*v)))),
            Some(nulls) => out.extend(array.values().iter().zip(nulls.iter()).map(|(v, valid)| {
                if valid {
                    u128::from(bits(*v))
                } else {
                    NULL_INTEGER
                }
            })),
        }
    }
    match column.data_type() {
        DataType::Int8 => push::<Int8Type>(column, out, |v| i64::from(v).cast_unsigned()),
        DataType::Int16 => push::<Int16Type>(column, out, |v| i64::from(v).cast_unsigned()),
        DataType::Int32 => push::<Int32Type>(column, out, |v| i64::from(v).cast_unsigned()),
        DataType::Int64 => push::<Int64Type>(column, out, i64::cast_unsigned),
        DataType::UInt8 => push::<UInt8Type>(column, out, u64::from),
        DataType::UInt16 => push::<UInt16Type>(column, out, u64::from),
        DataType::UInt32 => push::<UInt32Type>(column, out, u64::from),
        DataType::UInt64 => push::<UInt64Type>(column, out, |v| v),
        DataType::Date32 => push::<Date32Type>(column, out, |v| i64::from(v).cast_unsigned()),
        DataType::Date64 => push::<Date64Type>(column, out, i64::cast_unsigned),
        other => {
            return Err(internal_datafusion_err!(
                "short keys: {other} is no integer type"
            ));
        }
    }
    Ok(())
}

/// An array of `data_type` from one column's words.
pub(crate) fn array_of(
    data_type: &DataType,
    words: impl Iterator<Item = u128> + Clone,
) -> Result<ArrayRef> {
    /// The integers back from their bits; a value out of the type's range would be a key this map never made.
    fn primitive<T: datafusion::arrow::datatypes::ArrowPrimitiveType>(
        words: impl Iterator<Item = u128>,
        value: impl Fn(u64) -> Option<T::Native>,
    ) -> Result<ArrayRef> {
        let values = words
            .map(|word| {
                if word == NULL_INTEGER {
                    return Ok(None);
                }
                value(halves(word).0).map(Some).ok_or_else(|| {
                    internal_datafusion_err!("short keys: a key out of its type's range")
                })
            })
            .collect::<Result<PrimitiveArray<T>>>()?;
        Ok(Arc::new(values))
    }
    let signed = |bits: u64| bits.cast_signed();
    let nulls = |null: u128| {
        words
            .clone()
            .map(|word| word != null)
            .collect::<NullBuffer>()
    };
    let views = || -> ScalarBuffer<u128> {
        words
            .clone()
            .map(|word| if word == NULL_VIEW { 0 } else { word })
            .collect()
    };
    match data_type {
        DataType::Utf8View => Ok(Arc::new(StringViewArray::try_new(
            views(),
            Vec::new(),
            Some(nulls(NULL_VIEW)),
        )?)),
        DataType::BinaryView => Ok(Arc::new(BinaryViewArray::try_new(
            views(),
            Vec::new(),
            Some(nulls(NULL_VIEW)),
        )?)),
        DataType::Int8 => primitive::<Int8Type>(words, |v| i8::try_from(signed(v)).ok()),
        DataType::Int16 => primitive::<Int16Type>(words, |v| i16::try_from(signed(v)).ok()),
        DataType::Int32 => primitive::<Int32Type>(words, |v| i32::try_from(signed(v)).ok()),
        DataType::Int64 => primitive::<Int64Type>(words, |v| Some(signed(v))),
        DataType::UInt8 => primitive::<UInt8Type>(words, |v| u8::try_from(v).ok()),
        DataType::UInt16 => primitive::<UInt16Type>(words, |v| u16::try_from(v).ok()),
        DataType::UInt32 => primitive::<UInt32Type>(words, |v| u32::try_from(v).ok()),
        DataType::UInt64 => primitive::<UInt64Type>(words, Some),
        DataType::Date32 => primitive::<Date32Type>(words, |v| i32::try_from(signed(v)).ok()),
        DataType::Date64 => primitive::<Date64Type>(words, |v| Some(signed(v))),
        other => Err(internal_datafusion_err!("short keys: no {other} column")),
    }
}
