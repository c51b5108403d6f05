//! Comparisons of a `DOUBLE` with a non-zero constant in filters, a physical optimizer rule of our own.
//!
//! DataFusion 55 compares floats in IEEE 754 total order (NaN above +∞, a negative NaN below −∞) and, to keep
//! `-0.0 = 0.0` true as SQL wants, first scans every float batch for `-0.0` (`normalize_float_zero`, an early-exit
//! scan that does not vectorise). Against a constant that is neither zero nor NaN the sign of a zero cannot change
//! any answer, so that scan is pure cost: it and the total-order comparison kernel took a quarter of the CPU of the
//! benchmark's `WHERE fare > 20` (docs/benchmarks.md). [`FloatComparison`] gives the same answers — total order,
//! nulls stay null — from one branch-free IEEE comparison per value plus a NaN-sign test, half that cost.

use std::any::Any;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, BooleanArray};
use datafusion::arrow::buffer::{BooleanBuffer, Buffer};
use datafusion::arrow::datatypes::{DataType, Float64Type, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Result, ScalarValue, internal_err};
use datafusion::logical_expr::{ColumnarValue, Operator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{BinaryExpr, Literal};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};

/// The rule: every eligible comparison inside a filter's predicate becomes a [`FloatComparison`].
#[derive(Debug, Default)]
pub struct FloatComparisons;

impl PhysicalOptimizerRule for FloatComparisons {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(filter) = node.downcast_ref::<FilterExec>() else {
                return Ok(Transformed::no(node));
            };
            let schema = filter.input().schema();
            let predicate = Arc::clone(filter.predicate()).transform_up(|expr| {
                Ok(match FloatComparison::replacing(&expr, &schema) {
                    Some(comparison) => {
                        Transformed::yes(Arc::new(comparison) as Arc<dyn PhysicalExpr>)
                    }
                    None => Transformed::no(expr),
                })
            })?;
            if !predicate.transformed {
                return Ok(Transformed::no(node));
            }
            let rebuilt = FilterExecBuilder::from(filter)
                .with_predicate(predicate.data)
                .build()?;
            Ok(Transformed::yes(Arc::new(rebuilt) as Arc<dyn ExecutionPlan>))
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &'static str {
        "tabletalk_float_comparisons"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The comparison, with the float on the left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Comparison {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

impl Comparison {
    fn of(op: Operator) -> Option<Self> {
        Some(match op {
            Operator::Eq => Self::Eq,
            Operator::NotEq => Self::NotEq,
            Operator::Lt => Self::Lt,
            Operator::LtEq => Self::LtEq,
            Operator::Gt => Self::Gt,
            Operator::GtEq => Self::GtEq,
            _ => return None,
        })
    }

    /// `constant op float` as `float op' constant`.
    fn mirrored(self) -> Self {
        match self {
            Self::Lt => Self::Gt,
            Self::LtEq => Self::GtEq,
            Self::Gt => Self::Lt,
            Self::GtEq => Self::LtEq,
            same => same,
        }
    }

    /// `value op constant` in total order, for a constant that is neither zero nor NaN: IEEE comparison agrees with
    /// total order everywhere except at NaN, which sorts above everything when positive and below when negative.
    #[expect(
        clippy::float_cmp,
        reason = "SQL equality of doubles is exact equality"
    )]
    fn holds(self, value: f64, constant: f64) -> bool {
        match self {
            Self::Eq => value == constant,
            Self::NotEq => value != constant,
            Self::Gt => value > constant || (value.is_nan() && value.is_sign_positive()),
            Self::GtEq => value >= constant || (value.is_nan() && value.is_sign_positive()),
            Self::Lt => value < constant || (value.is_nan() && value.is_sign_negative()),
            Self::LtEq => value <= constant || (value.is_nan() && value.is_sign_negative()),
        }
    }

    /// `value op constant` for every value, one bit each. The comparison is chosen once per batch and each
    /// 64-value word is packed from a loop without bounds checks, so the compiler vectorises it.
    #[expect(
        clippy::float_cmp,
        reason = "SQL equality of doubles is exact equality"
    )]
    fn mask(self, values: &[f64], constant: f64) -> BooleanBuffer {
        match self {
            Self::Eq => pack(values, |v| v == constant),
            Self::NotEq => pack(values, |v| v != constant),
            Self::Gt => pack(values, |v| {
                (v > constant) | (v.is_nan() & v.is_sign_positive())
            }),
            Self::GtEq => pack(values, |v| {
                (v >= constant) | (v.is_nan() & v.is_sign_positive())
            }),
            Self::Lt => pack(values, |v| {
                (v < constant) | (v.is_nan() & v.is_sign_negative())
            }),
            Self::LtEq => pack(values, |v| {
                (v <= constant) | (v.is_nan() & v.is_sign_negative())
            }),
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::NotEq => "!=",
            Self::Lt => "<",
            Self::LtEq => "<=",
            Self::Gt => ">",
            Self::GtEq => ">=",
        }
    }
}

/// The bits of `holds` over `values`, least significant bit first, as Arrow lays out booleans.
fn pack(values: &[f64], holds: impl Fn(f64) -> bool) -> BooleanBuffer {
    let word = |chunk: &[f64]| {
        chunk
            .iter()
            .enumerate()
            .fold(0_u64, |word, (bit, &v)| word | (u64::from(holds(v)) << bit))
    };
    let chunks = values.chunks_exact(64);
    let rest = chunks.remainder();
    let mut words: Vec<u64> = chunks.map(word).collect();
    if !rest.is_empty() {
        words.push(word(rest));
    }
    BooleanBuffer::new(Buffer::from_vec(words), 0, values.len())
}

/// `float op constant` for a `DOUBLE` expression and a constant that is neither zero nor NaN.
#[derive(Debug)]
pub struct FloatComparison {
    input: Arc<dyn PhysicalExpr>,
    op: Comparison,
    constant: f64,
}

impl FloatComparison {
    fn replacing(expr: &Arc<dyn PhysicalExpr>, schema: &Schema) -> Option<Self> {
        let binary = (expr.as_ref() as &dyn Any).downcast_ref::<BinaryExpr>()?;
        let op = Comparison::of(*binary.op())?;
        let constant = |side: &Arc<dyn PhysicalExpr>| match (side.as_ref() as &dyn Any)
            .downcast_ref::<Literal>()
            .map(Literal::value)
        {
            Some(ScalarValue::Float64(Some(v))) if *v != 0.0 && !v.is_nan() => Some(*v),
            _ => None,
        };
        let is_float =
            |side: &Arc<dyn PhysicalExpr>| side.data_type(schema).ok() == Some(DataType::Float64);
        let (input, op, constant) = match (constant(binary.left()), constant(binary.right())) {
            (None, Some(c)) if is_float(binary.left()) => (binary.left(), op, c),
            (Some(c), None) if is_float(binary.right()) => (binary.right(), op.mirrored(), c),
            _ => return None,
        };
        Some(Self {
            input: Arc::clone(input),
            op,
            constant,
        })
    }
}

impl PartialEq for FloatComparison {
    fn eq(&self, other: &Self) -> bool {
        self.input.eq(&other.input)
            && self.op == other.op
            && self.constant.to_bits() == other.constant.to_bits()
    }
}

impl Eq for FloatComparison {}

impl Hash for FloatComparison {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.input.hash(state);
        self.op.hash(state);
        self.constant.to_bits().hash(state);
    }
}

impl fmt::Display for FloatComparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FloatComparison({} {} {})",
            self.input,
            self.op.symbol(),
            self.constant
        )
    }
}

impl PhysicalExpr for FloatComparison {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        self.input.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let (op, constant) = (self.op, self.constant);
        match self.input.evaluate(batch)? {
            ColumnarValue::Scalar(ScalarValue::Float64(value)) => Ok(ColumnarValue::Scalar(
                ScalarValue::Boolean(value.map(|v| op.holds(v, constant))),
            )),
            ColumnarValue::Array(array) => {
                let Some(floats) = array.as_primitive_opt::<Float64Type>() else {
                    return internal_err!("FloatComparison got a {}", array.data_type());
                };
                Ok(ColumnarValue::Array(Arc::new(BooleanArray::new(
                    op.mask(floats.values(), constant),
                    floats.nulls().cloned(),
                ))))
            }
            ColumnarValue::Scalar(other) => {
                internal_err!("FloatComparison got a {}", other.data_type())
            }
        }
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.input]
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        if children.len() != 1 {
            return internal_err!("FloatComparison has exactly one child");
        }
        Ok(Arc::new(Self {
            input: children.swap_remove(0),
            op: self.op,
            constant: self.constant,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.input.fmt_sql(f)?;
        write!(f, " {} {}", self.op.symbol(), self.constant)
    }
}
