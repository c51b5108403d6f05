//! Filter predicates that are a conjunction (`a AND b AND …`), evaluated term by term over one selection — a
//! physical optimizer rule of ours.
//!
//! DataFusion 55 evaluates `AND` pairwise: when the left side keeps at most a fifth of the rows it copies the
//! *whole batch* down to those rows, evaluates the right side there and scatters the result back bit by bit
//! (`pre_selection_scatter` appends one value at a time), once per `AND` of the chain. On TPC-H Q6 (five
//! comparisons, 2 % of 6 M rows kept) that made the filter a third of the query's CPU (docs/benchmarks.md,
//! "Decimal arithmetic, conjunctions and routed scan filters"). [`Conjunction`] keeps one selection bitmap for
//! the batch instead: cheap terms (a comparison or null test of a non-string column and a constant, which cannot
//! fail) go first and are evaluated on every row and combined with a bitwise `AND` (vectorised, cheaper than
//! selecting rows for them; a column's lower and upper bound among them are one `ranges::RangeComparison`, read
//! in one pass); the other terms follow in the order written, on every row while at least half are
//! still selected and otherwise on just the selected rows of just the columns they read, their answer set back
//! into the bitmap by walking its set bits. Evaluation stops as soon as no row is left. A null answer counts as
//! `false`, which is all a filter needs: the expression only ever stands as a whole filter predicate.

use std::any::Any;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::BooleanArray;
use datafusion::arrow::buffer::{BooleanBuffer, MutableBuffer};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::config::ConfigOptions;
use datafusion::common::{Result, internal_err};
use datafusion::logical_expr::{ColumnarValue, Operator};
use datafusion::physical_expr::expressions::{
    BinaryExpr, Column, IsNotNullExpr, IsNullExpr, Literal,
};
use datafusion::physical_expr::{PhysicalExpr, split_conjunction};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;

use super::float_compare::FloatComparison;
use super::ranges::joined_ranges;
use super::rewrite_expressions::{ExpressionRewrite, narrowed, rewrite_plan, truth};

/// The rule: every filter predicate with two or more `AND`ed terms becomes a [`Conjunction`].
#[derive(Debug, Default)]
pub struct Conjunctions;

impl PhysicalOptimizerRule for Conjunctions {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        rewrite_plan(plan, self).map(|rewritten| rewritten.data)
    }

    fn name(&self) -> &'static str {
        "tabletalk_conjunctions"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

impl ExpressionRewrite for Conjunctions {
    fn replace(
        &self,
        expr: &Arc<dyn PhysicalExpr>,
        schema: &Schema,
    ) -> Option<Arc<dyn PhysicalExpr>> {
        if expr.data_type(schema).ok()? != DataType::Boolean {
            return None;
        }
        let terms = split_conjunction(expr);
        if terms.len() < 2 {
            return None;
        }
        let (cheap, costly): (Vec<_>, Vec<_>) = terms
            .into_iter()
            .map(|term| (Arc::clone(term), is_cheap(term, schema)))
            .partition(|(_, cheap)| *cheap);
        // Both bounds of a range in one pass (`ranges`).
        let cheap = joined_ranges(cheap.into_iter().map(|(term, _)| term).collect(), schema);
        let cheap_count = cheap.len();
        let terms = cheap
            .into_iter()
            .chain(costly.into_iter().map(|(term, _)| term))
            .collect();
        Conjunction::new(terms, cheap_count)
            .ok()
            .map(|c| Arc::new(c) as Arc<dyn PhysicalExpr>)
    }

    fn predicates_only(&self) -> bool {
        true
    }
}

/// Whether `term` is a comparison or null test of a non-string column with constants: vectorised, and unable to
/// fail, so it may move ahead of the terms written before it.
fn is_cheap(term: &Arc<dyn PhysicalExpr>, schema: &Schema) -> bool {
    let any = term.as_ref() as &dyn Any;
    let plain_column = |e: &Arc<dyn PhysicalExpr>| {
        (e.as_ref() as &dyn Any).is::<Column>()
            && e.data_type(schema)
                .is_ok_and(|t| t.is_primitive() || t == DataType::Boolean)
    };
    let constant = |e: &Arc<dyn PhysicalExpr>| (e.as_ref() as &dyn Any).is::<Literal>();
    if let Some(binary) = any.downcast_ref::<BinaryExpr>() {
        let comparison = matches!(
            binary.op(),
            Operator::Eq
                | Operator::NotEq
                | Operator::Lt
                | Operator::LtEq
                | Operator::Gt
                | Operator::GtEq
                | Operator::IsDistinctFrom
                | Operator::IsNotDistinctFrom
        );
        let (l, r) = (binary.left(), binary.right());
        return comparison
            && ((plain_column(l) && constant(r)) || (constant(l) && plain_column(r)));
    }
    if let Some(test) = any.downcast_ref::<IsNullExpr>() {
        return plain_column(test.arg());
    }
    if let Some(test) = any.downcast_ref::<IsNotNullExpr>() {
        return plain_column(test.arg());
    }
    any.downcast_ref::<FloatComparison>()
        .is_some_and(|c| c.children().into_iter().all(plain_column))
}

/// Whether `expr` is an `OR`, which needs parentheses to be read as one term.
fn is_or(expr: &Arc<dyn PhysicalExpr>) -> bool {
    (expr.as_ref() as &dyn Any)
        .downcast_ref::<BinaryExpr>()
        .is_some_and(|binary| *binary.op() == Operator::Or)
}

/// One term: the expression as planned, and the same reading only its own columns (for the selected rows).
#[derive(Debug)]
struct Term {
    expr: Arc<dyn PhysicalExpr>,
    columns: Vec<usize>,
    narrowed: Arc<dyn PhysicalExpr>,
}

impl Term {
    fn new(expr: Arc<dyn PhysicalExpr>) -> Result<Self> {
        let (columns, narrowed) = narrowed(&expr)?;
        Ok(Self {
            expr,
            columns,
            narrowed,
        })
    }

    /// The rows where this term is true among the `selected` rows `selection` keeps (every row when `None`).
    fn apply(
        &self,
        cheap: bool,
        batch: &RecordBatch,
        selection: Option<(BooleanBuffer, usize)>,
    ) -> Result<BooleanBuffer> {
        let Some((selection, selected)) = selection else {
            return truth(&self.expr, batch);
        };
        if cheap || selected * 2 >= batch.num_rows() {
            return Ok(&selection & &truth(&self.expr, batch)?);
        }
        let narrowed = filter_record_batch(
            &batch.project(&self.columns)?,
            &BooleanArray::new(selection.clone(), None),
        )?;
        let answers = truth(&self.narrowed, &narrowed)?;
        if answers.len() != selected {
            return internal_err!(
                "a conjunction's term gave {} answers for {selected} rows",
                answers.len()
            );
        }
        Ok(scatter(&selection, &answers))
    }
}

/// `t1 AND t2 AND …` as a filter predicate: true where every term is true, false elsewhere (nulls included).
#[derive(Debug)]
pub struct Conjunction {
    terms: Vec<Term>,
    /// The leading terms that are cheap (always evaluated on every row).
    cheap: usize,
}

impl Conjunction {
    fn new(terms: Vec<Arc<dyn PhysicalExpr>>, cheap: usize) -> Result<Self> {
        Ok(Self {
            terms: terms.into_iter().map(Term::new).collect::<Result<_>>()?,
            cheap,
        })
    }
}

/// `selection` with its set bits replaced, in order, by `answers` (one answer per selected row).
fn scatter(selection: &BooleanBuffer, answers: &BooleanBuffer) -> BooleanBuffer {
    let mut bits = MutableBuffer::new_null(selection.len());
    let bytes = bits.as_slice_mut();
    for (position, row) in selection.set_indices().enumerate() {
        if answers.value(position) {
            bytes[row / 8] |= 1 << (row % 8);
        }
    }
    BooleanBuffer::new(bits.into(), 0, selection.len())
}

impl PartialEq for Conjunction {
    fn eq(&self, other: &Self) -> bool {
        self.cheap == other.cheap
            && self.terms.len() == other.terms.len()
            && self
                .terms
                .iter()
                .zip(&other.terms)
                .all(|(a, b)| a.expr.eq(&b.expr))
    }
}

impl Eq for Conjunction {}

impl Hash for Conjunction {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.cheap.hash(state);
        for term in &self.terms {
            term.expr.hash(state);
        }
    }
}

impl fmt::Display for Conjunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Conjunction(")?;
        for (i, term) in self.terms.iter().enumerate() {
            if i > 0 {
                write!(f, " AND ")?;
            }
            if is_or(&term.expr) {
                write!(f, "({})", term.expr)?;
            } else {
                write!(f, "{}", term.expr)?;
            }
        }
        write!(f, ")")
    }
}

impl PhysicalExpr for Conjunction {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn nullable(&self, _input_schema: &Schema) -> Result<bool> {
        Ok(false)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let mut selection: Option<(BooleanBuffer, usize)> = None;
        for (i, term) in self.terms.iter().enumerate() {
            if selection
                .as_ref()
                .is_some_and(|(_, selected)| *selected == 0)
            {
                break;
            }
            let kept = term.apply(i < self.cheap, batch, selection)?;
            let selected = kept.count_set_bits();
            selection = Some((kept, selected));
        }
        let selection = selection.map_or_else(
            || BooleanBuffer::new_set(batch.num_rows()),
            |(bits, _)| bits,
        );
        Ok(ColumnarValue::Array(Arc::new(BooleanArray::new(
            selection, None,
        ))))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        self.terms.iter().map(|term| &term.expr).collect()
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        if children.len() != self.terms.len() {
            return internal_err!("a Conjunction keeps its number of terms");
        }
        Ok(Arc::new(Self::new(children, self.cheap)?))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, term) in self.terms.iter().enumerate() {
            if i > 0 {
                write!(f, " AND ")?;
            }
            if is_or(&term.expr) {
                write!(f, "(")?;
                term.expr.fmt_sql(f)?;
                write!(f, ")")?;
            } else {
                term.expr.fmt_sql(f)?;
            }
        }
        Ok(())
    }
}
