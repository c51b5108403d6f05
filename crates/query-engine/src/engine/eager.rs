//! Eager aggregation below a join, an optimizer rule of our own. A `GROUP BY` on columns of one side of an inner
//! equi-join whose aggregates (`count`, `sum`, `min`, `max`) read only the other side is computed by first
//! aggregating that other side on its join keys, then joining the (few) partial results and combining them:
//!
//! ```text
//! Aggregate [z.borough] [count(*)]                Projection [z.borough, CAST(n AS Int64) AS "count(*)"]
//!   Join t.zone = z.id                     ==>      Aggregate [z.borough] [sum(n)]
//!     trips (10 M rows)                               Join t.zone = z.id
//!     zones                                             Aggregate [t.zone] [count(*) AS n]  (≤ 264 rows)
//!                                                         trips
//!                                                       zones
//! ```
//!
//! DataFusion does not do this itself; on the benchmark's join it halves the time, because the hash aggregation
//! then runs on integer keys before the join instead of on the joined strings (docs/benchmarks.md). The rewrite is
//! correct whatever the data, but it only pays off, and only stays small, when the aggregated side's join keys have
//! few distinct values: it is applied only when the stored statistics bound them to at most [`MAX_KEY_VALUES`].

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, DFSchema, Result};
use datafusion::functions_aggregate::expr_fn::{max, min, sum};
use datafusion::logical_expr::{
    Aggregate, Expr, Join, JoinType, LogicalPlan, LogicalPlanBuilder, cast, col,
};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};

/// The most distinct join-key values the aggregated side may have: its early aggregation is then a small hash
/// table whatever its row count.
pub const MAX_KEY_VALUES: i128 = 1 << 16;

/// `(table, column)` → the stored `(min, max)` of an integer column, tables under their registered
/// (lower-case) names.
pub type KeyRanges = HashMap<(String, String), (i64, i64)>;

/// The rule; one per query context, knowing that query's tables.
#[derive(Debug, Default)]
pub struct EagerAggregation {
    ranges: KeyRanges,
}

impl EagerAggregation {
    pub fn new(ranges: KeyRanges) -> Self {
        Self { ranges }
    }
}

impl OptimizerRule for EagerAggregation {
    fn name(&self) -> &'static str {
        "tabletalk_eager_aggregation"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Aggregate(aggregate) = &plan else {
            return Ok(Transformed::no(plan));
        };
        // A plan this rule cannot build is left as DataFusion made it: the rule may only make queries faster.
        match self.eager(aggregate) {
            Ok(Some(rewritten)) => Ok(Transformed::yes(rewritten)),
            Ok(None) | Err(_) => Ok(Transformed::no(plan)),
        }
    }
}

/// One aggregate split in two: the early one on the aggregated side, the combining one above the join.
struct Split {
    early: Expr,
    combine: fn(Expr) -> Expr,
}

impl EagerAggregation {
    fn eager(&self, aggregate: &Aggregate) -> Result<Option<LogicalPlan>> {
        let Some(join) = join_below(aggregate) else {
            return Ok(None);
        };
        let Some(groups) = columns(&aggregate.group_expr) else {
            return Ok(None);
        };
        let (left, right) = (join.left.schema(), join.right.schema());
        let on = |schema: &DFSchema| groups.iter().all(|c| schema.has_column(c));
        let grouped_left = match (on(left), on(right)) {
            (true, false) => true,
            (false, true) => false,
            _ => return Ok(None),
        };
        let (early_side, kept_side) = if grouped_left {
            (&join.right, &join.left)
        } else {
            (&join.left, &join.right)
        };
        let key_exprs: Vec<Expr> = join
            .on
            .iter()
            .map(|(l, r)| if grouped_left { r.clone() } else { l.clone() })
            .collect();
        let Some(keys) = columns(&key_exprs) else {
            return Ok(None);
        };
        if (1..keys.len()).any(|i| keys[..i].contains(&keys[i])) {
            return Ok(None);
        }
        if !self.few_key_values(early_side, &keys) {
            return Ok(None);
        }
        let Some(splits) = splits(&aggregate.aggr_expr, early_side.schema()) else {
            return Ok(None);
        };

        let names: Vec<String> = (0..splits.len())
            .map(|i| format!("__tabletalk_eager_{i}"))
            .collect();
        let early = LogicalPlanBuilder::from(early_side.as_ref().clone())
            .aggregate(
                key_exprs,
                splits
                    .iter()
                    .zip(&names)
                    .map(|(s, name)| s.early.clone().alias(name)),
            )?
            .build()?;
        let (new_left, new_right) = if grouped_left {
            (kept_side.clone(), Arc::new(early))
        } else {
            (Arc::new(early), kept_side.clone())
        };
        let joined = Join::try_new(
            new_left,
            new_right,
            join.on.clone(),
            None,
            JoinType::Inner,
            join.join_constraint,
            join.null_equality,
            false,
        )?;
        // The same output as before: the grouping columns, then each aggregate under its own name and type.
        let width = aggregate.group_expr.len();
        let outputs = splits.iter().zip(&names).enumerate().map(|(i, (_, name))| {
            let (qualifier, field) = aggregate.schema.qualified_field(width + i);
            let value = cast(col(name.as_str()), field.data_type().clone());
            match qualifier {
                Some(q) => value.alias_qualified(Some(q.clone()), field.name()),
                None => value.alias(field.name()),
            }
        });
        let projection: Vec<Expr> = groups
            .into_iter()
            .map(Expr::Column)
            .chain(outputs)
            .collect();
        let plan = LogicalPlanBuilder::from(LogicalPlan::Join(joined))
            .aggregate(
                aggregate.group_expr.clone(),
                splits
                    .iter()
                    .zip(&names)
                    .map(|(s, name)| (s.combine)(col(name.as_str())).alias(name)),
            )?
            .project(projection)?
            .build()?;
        Ok(Some(plan))
    }

    /// Whether the stored ranges of `keys` (traced to their tables) allow at most [`MAX_KEY_VALUES`] combinations.
    fn few_key_values(&self, side: &LogicalPlan, keys: &[Column]) -> bool {
        let mut values: i128 = 1;
        for key in keys {
            let Some((min, max)) = source(side, key).and_then(|source| self.ranges.get(&source))
            else {
                return false;
            };
            values = values.saturating_mul(i128::from(*max) - i128::from(*min) + 1);
            if values > MAX_KEY_VALUES {
                return false;
            }
        }
        true
    }
}

/// The inner equi-join under the aggregate, directly or under a projection of plain columns.
fn join_below(aggregate: &Aggregate) -> Option<&Join> {
    if aggregate.group_expr.is_empty() {
        // Without groups an empty input must still give one row (count 0), which the split would not.
        return None;
    }
    let join = match aggregate.input.as_ref() {
        LogicalPlan::Join(join) => join,
        LogicalPlan::Projection(projection)
            if projection.expr.iter().all(|e| matches!(e, Expr::Column(_))) =>
        {
            match projection.input.as_ref() {
                LogicalPlan::Join(join) => join,
                _ => return None,
            }
        }
        _ => return None,
    };
    let plain = join.join_type == JoinType::Inner
        && join.filter.is_none()
        && !join.null_aware
        && !join.on.is_empty();
    plain.then_some(join)
}

/// The columns, when every expression is a plain column.
fn columns(exprs: &[Expr]) -> Option<Vec<Column>> {
    exprs
        .iter()
        .map(|e| match e {
            Expr::Column(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

/// Every aggregate split in two, or `None` when one of them cannot be (another function, DISTINCT, FILTER,
/// ORDER BY, an argument from the grouped side or an expression).
fn splits(aggregates: &[Expr], early: &DFSchema) -> Option<Vec<Split>> {
    aggregates
        .iter()
        .map(|expr| {
            let Expr::AggregateFunction(function) = expr else {
                return None;
            };
            let params = &function.params;
            if params.distinct
                || params.filter.is_some()
                || !params.order_by.is_empty()
                || params.null_treatment.is_some()
            {
                return None;
            }
            let name = function.func.name();
            let mut types: Vec<&DataType> = Vec::new();
            for arg in &params.args {
                match arg {
                    Expr::Column(c) if early.has_column(c) => {
                        types.push(early.qualified_field_from_column(c).ok()?.1.data_type());
                    }
                    Expr::Literal(..) if name == "count" => {}
                    _ => return None,
                }
            }
            let combine: fn(Expr) -> Expr = match (name, types.as_slice()) {
                ("count", _) => sum,
                ("sum", [t]) if t.is_integer() || t.is_floating() => sum,
                ("min", [_]) => min,
                ("max", [_]) => max,
                _ => return None,
            };
            Some(Split {
                early: expr.clone(),
                combine,
            })
        })
        .collect()
}

/// The `(table, column)` whose values a column of `plan`'s output carries unchanged: through aliases, filters
/// and projections of plain columns down to a table scan.
fn source(plan: &LogicalPlan, column: &Column) -> Option<(String, String)> {
    match plan {
        LogicalPlan::TableScan(scan) => scan
            .projected_schema
            .has_column(column)
            .then(|| (scan.table_name.table().to_lowercase(), column.name.clone())),
        LogicalPlan::SubqueryAlias(alias) => {
            let (qualifier, field) = alias
                .input
                .schema()
                .qualified_field_with_unqualified_name(&column.name)
                .ok()?;
            source(&alias.input, &Column::new(qualifier.cloned(), field.name()))
        }
        LogicalPlan::Filter(filter) => source(&filter.input, column),
        LogicalPlan::Projection(projection) => {
            let index = projection.schema.maybe_index_of_column(column)?;
            match &projection.expr[index] {
                Expr::Column(inner) => source(&projection.input, inner),
                Expr::Alias(alias) => match alias.expr.as_ref() {
                    Expr::Column(inner) => source(&projection.input, inner),
                    _ => None,
                },
                _ => None,
            }
        }
        _ => None,
    }
}
