//! `+`, `-` and `*` of two `DECIMAL` values without a per-value overflow check, a physical optimizer rule of ours.
//!
//! Arrow evaluates decimal arithmetic with a checked operation per value (`mul_checked` on `i128` is a call into
//! the compiler's runtime, and the error path keeps the loop from vectorising), which made `price * (1 - discount)`
//! a quarter of TPC-H Q1's CPU (docs/benchmarks.md, "Decimal arithmetic, conjunctions and routed scan filters").
//! Whether a batch can overflow at all follows from the magnitudes of its values: [`DecimalArithmetic`] bounds
//! them once per batch (the bitwise OR of the absolute values has the bit length of the largest) and, when no
//! result can leave `i128`, computes every value with plain wrapping arithmetic — exact in that case —, a
//! 64 × 64 → 128-bit product when both sides fit in 64 bits. Otherwise, and for the rare shapes it does not
//! cover, it calls Arrow's own kernel on the values already evaluated, so answers, result types and overflow
//! errors are Arrow's.

use std::any::Any;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Datum, Decimal128Array};
use datafusion::arrow::buffer::{NullBuffer, ScalarBuffer};
use datafusion::arrow::compute::kernels::numeric;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::config::ConfigOptions;
use datafusion::common::{Result, ScalarValue, internal_err};
use datafusion::logical_expr::{ColumnarValue, Operator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::BinaryExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;

use super::rewrite_expressions::{ExpressionRewrite, rewrite_plan};

/// The rule: every `DECIMAL` `+`, `-` or `*` in a filter, projection or aggregate argument becomes a
/// [`DecimalArithmetic`].
#[derive(Debug, Default)]
pub struct DecimalArithmetics;

impl PhysicalOptimizerRule for DecimalArithmetics {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        rewrite_plan(plan, self).map(|rewritten| rewritten.data)
    }

    fn name(&self) -> &'static str {
        "tabletalk_decimal_arithmetic"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

impl ExpressionRewrite for DecimalArithmetics {
    fn replace(
        &self,
        expr: &Arc<dyn PhysicalExpr>,
        schema: &Schema,
    ) -> Option<Arc<dyn PhysicalExpr>> {
        DecimalArithmetic::replacing(expr, schema).map(|e| Arc::new(e) as Arc<dyn PhysicalExpr>)
    }
}

/// The operation, with the factors that bring both sides of a sum to the result's scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum DecimalOp {
    Add {
        left_factor: i128,
        right_factor: i128,
    },
    Sub {
        left_factor: i128,
        right_factor: i128,
    },
    Mul,
}

impl DecimalOp {
    fn symbol(self) -> &'static str {
        match self {
            Self::Add { .. } => "+",
            Self::Sub { .. } => "-",
            Self::Mul => "*",
        }
    }
}

/// `left op right` over two `DECIMAL(p, s)` values (Arrow's `Decimal128`).
#[derive(Debug)]
pub struct DecimalArithmetic {
    left: Arc<dyn PhysicalExpr>,
    right: Arc<dyn PhysicalExpr>,
    op: DecimalOp,
    precision: u8,
    scale: i8,
}

impl DecimalArithmetic {
    /// The replacement of `expr` when it is a `+`, `-` or `*` of two decimals whose result type Arrow would
    /// compute as the plan expects.
    fn replacing(expr: &Arc<dyn PhysicalExpr>, schema: &Schema) -> Option<Self> {
        let binary = (expr.as_ref() as &dyn Any).downcast_ref::<BinaryExpr>()?;
        let (DataType::Decimal128(p1, s1), DataType::Decimal128(p2, s2)) = (
            binary.left().data_type(schema).ok()?,
            binary.right().data_type(schema).ok()?,
        ) else {
            return None;
        };
        let (op, precision, scale) = match binary.op() {
            Operator::Plus | Operator::Minus => {
                // Arrow's rule (Hive's): scale max(s1, s2), precision scale + max(p1 - s1, p2 - s2) + 1.
                let scale = s1.max(s2);
                let integral = (i16::from(p1) - i16::from(s1)).max(i16::from(p2) - i16::from(s2));
                let precision = (i16::from(scale) + integral + 1).clamp(1, 38);
                let left_factor = 10_i128.checked_pow(u32::try_from(scale - s1).ok()?)?;
                let right_factor = 10_i128.checked_pow(u32::try_from(scale - s2).ok()?)?;
                let op = if *binary.op() == Operator::Plus {
                    DecimalOp::Add {
                        left_factor,
                        right_factor,
                    }
                } else {
                    DecimalOp::Sub {
                        left_factor,
                        right_factor,
                    }
                };
                (op, u8::try_from(precision).ok()?, scale)
            }
            Operator::Multiply => {
                let scale = s1.checked_add(s2)?;
                if scale > 38 {
                    return None;
                }
                (DecimalOp::Mul, (p1 + p2 + 1).min(38), scale)
            }
            _ => return None,
        };
        // The plan's type must be what the kernel produces, or other operators would see another type.
        if expr.data_type(schema).ok()? != DataType::Decimal128(precision, scale) {
            return None;
        }
        Some(Self {
            left: Arc::clone(binary.left()),
            right: Arc::clone(binary.right()),
            op,
            precision,
            scale,
        })
    }

    /// Arrow's kernel on the values already evaluated: the answer (or overflow error) Arrow gives.
    fn by_arrow(&self, left: &dyn Datum, right: &dyn Datum) -> Result<ArrayRef> {
        Ok(match self.op {
            DecimalOp::Add { .. } => numeric::add(left, right)?,
            DecimalOp::Sub { .. } => numeric::sub(left, right)?,
            DecimalOp::Mul => numeric::mul(left, right)?,
        })
    }

    /// Every value without overflow checks, when the magnitudes show none can overflow; `None` otherwise.
    fn unchecked(&self, left: Side<'_>, right: Side<'_>, len: usize) -> Option<Vec<i128>> {
        let (left_bits, right_bits) = (left.bits(), right.bits());
        // Results that fit in 62 bits are computed in 64-bit lanes, which vectorise far better than 128-bit ones.
        #[expect(
            clippy::cast_possible_truncation,
            reason = "every magnitude was just bounded so that the 64-bit operation is exact"
        )]
        match self.op {
            DecimalOp::Mul if left_bits + right_bits <= 62 => {
                Some(combine(left, right, len, |a, b| {
                    i128::from((a as i64) * (b as i64))
                }))
            }
            DecimalOp::Mul if left_bits <= 63 && right_bits <= 63 => {
                // Both fit in i64: the widening product is exact and cheap.
                Some(combine(left, right, len, |a, b| {
                    i128::from(a as i64) * i128::from(b as i64)
                }))
            }
            DecimalOp::Mul if left_bits + right_bits <= 126 => {
                Some(combine(left, right, len, i128::wrapping_mul))
            }
            DecimalOp::Mul => None,
            DecimalOp::Add {
                left_factor,
                right_factor,
            }
            | DecimalOp::Sub {
                left_factor,
                right_factor,
            } => {
                let scaled = |bits: u32, factor: i128| bits + (128 - factor.leading_zeros());
                let widest = scaled(left_bits, left_factor).max(scaled(right_bits, right_factor));
                if widest > 125 {
                    return None;
                }
                let add = matches!(self.op, DecimalOp::Add { .. });
                if widest <= 61 {
                    let (lf, rf) = (left_factor as i64, right_factor as i64);
                    return Some(match (lf, rf, add) {
                        (1, 1, true) => {
                            combine(left, right, len, |a, b| i128::from((a as i64) + (b as i64)))
                        }
                        (1, 1, false) => {
                            combine(left, right, len, |a, b| i128::from((a as i64) - (b as i64)))
                        }
                        (_, _, true) => combine(left, right, len, |a, b| {
                            i128::from((a as i64) * lf + (b as i64) * rf)
                        }),
                        (_, _, false) => combine(left, right, len, |a, b| {
                            i128::from((a as i64) * lf - (b as i64) * rf)
                        }),
                    });
                }
                Some(match (left_factor, right_factor, add) {
                    (1, 1, true) => combine(left, right, len, i128::wrapping_add),
                    (1, 1, false) => combine(left, right, len, i128::wrapping_sub),
                    (_, _, true) => combine(left, right, len, |a, b| {
                        a.wrapping_mul(left_factor) + b.wrapping_mul(right_factor)
                    }),
                    (_, _, false) => combine(left, right, len, |a, b| {
                        a.wrapping_mul(left_factor) - b.wrapping_mul(right_factor)
                    }),
                })
            }
        }
    }
}

/// One side of the operation: a column of values or one constant.
#[derive(Clone, Copy)]
enum Side<'a> {
    Values(&'a [i128]),
    Constant(i128),
}

impl Side<'_> {
    /// An upper bound of the bit length of every magnitude (null slots included: their values are arbitrary but
    /// computed anyway, so they must not overflow either).
    fn bits(self) -> u32 {
        let magnitudes = match self {
            Self::Values(values) => values.iter().fold(0_u128, |acc, v| acc | v.unsigned_abs()),
            Self::Constant(value) => value.unsigned_abs(),
        };
        128 - magnitudes.leading_zeros()
    }
}

/// `f` over the values of both sides, in one tight loop per shape so the compiler can vectorise it.
fn combine(
    left: Side<'_>,
    right: Side<'_>,
    len: usize,
    f: impl Fn(i128, i128) -> i128,
) -> Vec<i128> {
    match (left, right) {
        (Side::Values(l), Side::Values(r)) => l.iter().zip(r).map(|(&a, &b)| f(a, b)).collect(),
        (Side::Values(l), Side::Constant(b)) => l.iter().map(|&a| f(a, b)).collect(),
        (Side::Constant(a), Side::Values(r)) => r.iter().map(|&b| f(a, b)).collect(),
        (Side::Constant(a), Side::Constant(b)) => vec![f(a, b); len],
    }
}

impl PartialEq for DecimalArithmetic {
    fn eq(&self, other: &Self) -> bool {
        self.left.eq(&other.left)
            && self.right.eq(&other.right)
            && self.op == other.op
            && self.precision == other.precision
            && self.scale == other.scale
    }
}

impl Eq for DecimalArithmetic {}

impl Hash for DecimalArithmetic {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.left.hash(state);
        self.right.hash(state);
        self.op.hash(state);
        self.precision.hash(state);
        self.scale.hash(state);
    }
}

impl fmt::Display for DecimalArithmetic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DecimalArithmetic({} {} {})",
            self.left,
            self.op.symbol(),
            self.right
        )
    }
}

impl PhysicalExpr for DecimalArithmetic {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(DataType::Decimal128(self.precision, self.scale))
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        Ok(self.left.nullable(input_schema)? || self.right.nullable(input_schema)?)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let left = self.left.evaluate(batch)?;
        let right = self.right.evaluate(batch)?;
        let len = batch.num_rows();
        let fast = match (&left, &right) {
            (ColumnarValue::Array(l), ColumnarValue::Array(r)) => {
                match (
                    l.as_primitive_opt::<Decimal128Type>(),
                    r.as_primitive_opt::<Decimal128Type>(),
                ) {
                    (Some(l), Some(r)) if l.len() == r.len() => self
                        .unchecked(Side::Values(l.values()), Side::Values(r.values()), l.len())
                        .map(|values| (values, NullBuffer::union(l.nulls(), r.nulls()))),
                    _ => None,
                }
            }
            (
                ColumnarValue::Array(l),
                ColumnarValue::Scalar(ScalarValue::Decimal128(Some(b), ..)),
            ) => l.as_primitive_opt::<Decimal128Type>().and_then(|l| {
                self.unchecked(Side::Values(l.values()), Side::Constant(*b), l.len())
                    .map(|values| (values, l.nulls().cloned()))
            }),
            (
                ColumnarValue::Scalar(ScalarValue::Decimal128(Some(a), ..)),
                ColumnarValue::Array(r),
            ) => r.as_primitive_opt::<Decimal128Type>().and_then(|r| {
                self.unchecked(Side::Constant(*a), Side::Values(r.values()), r.len())
                    .map(|values| (values, r.nulls().cloned()))
            }),
            _ => None,
        };
        if let Some((values, nulls)) = fast {
            let array = Decimal128Array::new(ScalarBuffer::from(values), nulls)
                .with_precision_and_scale(self.precision, self.scale)?;
            return Ok(ColumnarValue::Array(Arc::new(array)));
        }
        let scalar_result = matches!(
            (&left, &right),
            (ColumnarValue::Scalar(_), ColumnarValue::Scalar(_))
        );
        let as_datum = |value: ColumnarValue| -> Result<Box<dyn Datum>> {
            Ok(match value {
                ColumnarValue::Array(array) => Box::new(array),
                ColumnarValue::Scalar(scalar) => Box::new(scalar.to_scalar()?),
            })
        };
        let result = self.by_arrow(as_datum(left)?.as_ref(), as_datum(right)?.as_ref())?;
        if scalar_result {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &result, 0,
            )?));
        }
        if result.len() != len {
            return internal_err!("DecimalArithmetic produced {} of {len} rows", result.len());
        }
        Ok(ColumnarValue::Array(result))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.left, &self.right]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        let [left, right]: [Arc<dyn PhysicalExpr>; 2] = match children.try_into() {
            Ok(pair) => pair,
            Err(_) => return internal_err!("DecimalArithmetic has exactly two children"),
        };
        Ok(Arc::new(Self {
            left,
            right,
            op: self.op,
            precision: self.precision,
            scale: self.scale,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.left.fmt_sql(f)?;
        write!(f, " {} ", self.op.symbol())?;
        self.right.fmt_sql(f)
    }
}
