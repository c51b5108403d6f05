//! Replacing expressions inside the operators that evaluate most of a query's expressions — a filter's predicate,
//! a projection's outputs and an aggregate's arguments — for the expression rules of ours
//! (`decimal_arithmetic`, `conjunctions`). Other operators are left as planned. Also: an expression narrowed to
//! read a batch of only its own columns, for evaluating it on a few selected rows without copying the others, and
//! the rows where a predicate holds as a bitmap, for the operators of ours that combine predicates.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Result, internal_err};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::projection::ProjectionExpr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};
use datafusion::physical_plan::projection::ProjectionExec;

use super::filtered_aggregate::FilteredPartialAggregateExec;

/// Which expressions a rule rewrites: every node of the filter predicates, projections and aggregate arguments
/// (`all`), or only a filter's whole predicate (`predicates`).
pub(crate) trait ExpressionRewrite {
    /// The replacement of `expr` (evaluated against `schema`), or `None` to keep it.
    fn replace(
        &self,
        expr: &Arc<dyn PhysicalExpr>,
        schema: &Schema,
    ) -> Option<Arc<dyn PhysicalExpr>>;

    /// Whether the rewrite applies to every sub-expression everywhere, or only to filter predicates as a whole.
    fn predicates_only(&self) -> bool {
        false
    }
}

/// `plan` with the rewrite applied in every filter, projection and aggregate (also those a
/// [`FilteredPartialAggregateExec`] took in).
pub(crate) fn rewrite_plan(
    plan: Arc<dyn ExecutionPlan>,
    rewrite: &dyn ExpressionRewrite,
) -> Result<Transformed<Arc<dyn ExecutionPlan>>> {
    plan.transform_up(|node| {
        if let Some(fused) = node.downcast_ref::<FilteredPartialAggregateExec>() {
            // The operators it took in, as their template; its input is rewritten as any other plan.
            let template = rewrite_plan(Arc::clone(fused.template()), rewrite)?;
            if !template.transformed {
                return Ok(Transformed::no(node));
            }
            let rebuilt = fused.with_template(template.data)?;
            return Ok(Transformed::yes(Arc::new(rebuilt) as Arc<dyn ExecutionPlan>));
        }
        if let Some(filter) = node.downcast_ref::<FilterExec>() {
            let schema = filter.input().schema();
            let predicate = if rewrite.predicates_only() {
                match rewrite.replace(filter.predicate(), &schema) {
                    Some(replaced) => Transformed::yes(replaced),
                    None => Transformed::no(Arc::clone(filter.predicate())),
                }
            } else {
                rewrite_tree(filter.predicate(), &schema, rewrite)?
            };
            if !predicate.transformed {
                return Ok(Transformed::no(node));
            }
            let rebuilt = FilterExecBuilder::from(filter)
                .with_predicate(predicate.data)
                .build()?;
            return Ok(Transformed::yes(Arc::new(rebuilt) as Arc<dyn ExecutionPlan>));
        }
        if rewrite.predicates_only() {
            return Ok(Transformed::no(node));
        }
        if let Some(projection) = node.downcast_ref::<ProjectionExec>() {
            let schema = projection.input().schema();
            let mut changed = false;
            let mut exprs = Vec::with_capacity(projection.expr().len());
            for item in projection.expr() {
                let expr = rewrite_tree(&item.expr, &schema, rewrite)?;
                changed |= expr.transformed;
                exprs.push(ProjectionExpr {
                    expr: expr.data,
                    alias: item.alias.clone(),
                });
            }
            if !changed {
                return Ok(Transformed::no(node));
            }
            let rebuilt = ProjectionExec::try_new_with_schema_metadata(
                exprs,
                Arc::clone(projection.input()),
                projection.schema().as_ref(),
            )?;
            return Ok(Transformed::yes(Arc::new(rebuilt) as Arc<dyn ExecutionPlan>));
        }
        if let Some(aggregate) = node.downcast_ref::<AggregateExec>() {
            let schema = aggregate.input_schema();
            let mut changed = false;
            let mut functions: Vec<Arc<AggregateFunctionExpr>> = Vec::new();
            for function in aggregate.aggr_expr() {
                let mut args = Vec::new();
                let mut args_changed = false;
                for arg in function.expressions() {
                    let arg = rewrite_tree(&arg, &schema, rewrite)?;
                    args_changed |= arg.transformed;
                    args.push(arg.data);
                }
                let order_by = function
                    .order_bys()
                    .iter()
                    .map(|sort| Arc::clone(&sort.expr))
                    .collect();
                match args_changed
                    .then(|| function.with_new_expressions(args, order_by))
                    .flatten()
                {
                    Some(rewritten) => {
                        changed = true;
                        functions.push(Arc::new(rewritten));
                    }
                    None => functions.push(Arc::clone(function)),
                }
            }
            if !changed {
                return Ok(Transformed::no(node));
            }
            let rebuilt = aggregate.with_new_aggr_exprs(functions);
            return Ok(Transformed::yes(Arc::new(rebuilt) as Arc<dyn ExecutionPlan>));
        }
        Ok(Transformed::no(node))
    })
}

/// Every node of `expr`, bottom up, through the rewrite.
fn rewrite_tree(
    expr: &Arc<dyn PhysicalExpr>,
    schema: &Schema,
    rewrite: &dyn ExpressionRewrite,
) -> Result<Transformed<Arc<dyn PhysicalExpr>>> {
    Arc::clone(expr).transform_up(|node| {
        Ok(match rewrite.replace(&node, schema) {
            Some(replaced) => Transformed::yes(replaced),
            None => Transformed::no(node),
        })
    })
}

/// The columns `expr` reads (ascending), and `expr` renumbered to read them from a batch of just those columns
/// (what `RecordBatch::project` with them gives).
pub(crate) fn narrowed(
    expr: &Arc<dyn PhysicalExpr>,
) -> Result<(Vec<usize>, Arc<dyn PhysicalExpr>)> {
    let mut columns = Vec::new();
    expr.apply(|node| {
        if let Some(column) = node.downcast_ref::<Column>() {
            columns.push(column.index());
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    columns.sort_unstable();
    columns.dedup();
    let narrowed = Arc::clone(expr)
        .transform_up(|node| {
            let Some(column) = node.downcast_ref::<Column>() else {
                return Ok(Transformed::no(node));
            };
            let position = columns.binary_search(&column.index()).unwrap_or_default();
            Ok(Transformed::yes(
                Arc::new(Column::new(column.name(), position)) as Arc<dyn PhysicalExpr>,
            ))
        })?
        .data;
    Ok((columns, narrowed))
}

/// Where `predicate` holds over `batch`, one bit per row (a null answer counts as false, as a filter reads it).
pub(crate) fn truth(
    predicate: &Arc<dyn PhysicalExpr>,
    batch: &RecordBatch,
) -> Result<BooleanBuffer> {
    let array = predicate.evaluate(batch)?.into_array(batch.num_rows())?;
    let Some(booleans) = array.as_boolean_opt() else {
        return internal_err!("a predicate gave {}", array.data_type());
    };
    Ok(match booleans.nulls() {
        Some(nulls) => booleans.values() & nulls.inner(),
        None => booleans.values().clone(),
    })
}
