//! Repeated joins made to read the same columns, a logical optimizer rule of ours.
//!
//! A query that uses one join twice — TPC-H Q11 compares each part's value over `partsupp ⋈ supplier ⋈ nation`
//! with the total of the same join in a scalar subquery — gets two copies of it from DataFusion, and DataFusion's
//! projection pushdown gives each copy only the columns its own use reads (the subquery does not read
//! `ps_partkey`). The copies then differ in their scans, and [`super::shared_subplans`] cannot compute them once
//! (docs/benchmarks.md, "Repeated joins and one hash table over a scan").
//!
//! The rule runs after DataFusion's rules. It compares joins with their column pruning set aside — scans reading
//! every column, projections that only pick columns skipped — so two joins of the same tables under the same
//! conditions and filters compare equal whatever columns their users read. Every copy of such a join is replaced
//! by one plan shared by all of them, the join pruned to the columns any copy reads, under a projection to the
//! columns the copy had: each copy produces exactly its former rows and schema, and the physical copies print alike
//! but for the columns each keeps of them, which `SharedSubplans` sets aside in turn. Anything the rule cannot
//! rebuild is left as DataFusion planned it: the rule may only make a query compute less.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use datafusion::common::Column;
use datafusion::common::Result;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::{Expr, LogicalPlan, Projection, TableScanBuilder};
use datafusion::optimizer::optimize_projections::OptimizeProjections;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

/// The rule (see the module's documentation).
#[derive(Debug, Default)]
pub struct RepeatedJoins;

impl OptimizerRule for RepeatedJoins {
    fn name(&self) -> &'static str {
        "tabletalk_repeated_joins"
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        match share(&plan, config) {
            Ok(Some(rewritten)) => Ok(Transformed::yes(rewritten)),
            Ok(None) | Err(_) => Ok(Transformed::no(plan)),
        }
    }
}

/// The copies of one join, as they are found: how many, and every column one of them produces.
#[derive(Default)]
struct Copies {
    count: usize,
    columns: HashSet<Column>,
}

/// The tables a subtree scans, sorted. Copies of one join scan the same tables, so only joins whose tables another
/// join scans too are widened: rebuilding a join tree and hashing it was a fifth of the logical optimizer's time
/// on queries with joins, nearly all of which repeat none.
fn scanned_tables(plan: &LogicalPlan) -> Vec<String> {
    let mut tables = Vec::new();
    // The closure never fails.
    let _ = plan.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            tables.push(scan.table_name.to_string());
        }
        Ok(TreeNodeRecursion::Continue)
    });
    tables.sort_unstable();
    tables
}

/// The scanned tables of every join that shares them with another join.
fn repeated_table_sets(plan: &LogicalPlan) -> Result<HashSet<Vec<String>>> {
    let mut joins: HashMap<Vec<String>, usize> = HashMap::new();
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::Join(_) = node {
            *joins.entry(scanned_tables(node)).or_default() += 1;
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(joins
        .into_iter()
        .filter_map(|(tables, count)| (count > 1).then_some(tables))
        .collect())
}

/// The plan with every repeated join replaced, or `None` when no join is repeated.
fn share(plan: &LogicalPlan, config: &dyn OptimizerConfig) -> Result<Option<LogicalPlan>> {
    let candidates = repeated_table_sets(plan)?;
    if candidates.is_empty() {
        return Ok(None);
    }
    let candidate = |node: &LogicalPlan| {
        matches!(node, LogicalPlan::Join(_)) && candidates.contains(&scanned_tables(node))
    };
    let mut found: HashMap<LogicalPlan, Copies> = HashMap::new();
    plan.apply_with_subqueries(|node| {
        if candidate(node)
            && let Some(widened) = widened(node)
        {
            let copies = found.entry(widened).or_default();
            copies.count += 1;
            copies.columns.extend(node.schema().columns());
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    let mut shared: HashMap<LogicalPlan, LogicalPlan> = HashMap::new();
    for (widened, copies) in found {
        if copies.count > 1 {
            let pruned = pruned_to(&widened, &copies.columns, config)?;
            shared.insert(widened, pruned);
        }
    }
    if shared.is_empty() {
        return Ok(None);
    }
    // Top down, so the largest repeated join is shared and the joins inside it are not replaced again.
    let rewritten = plan.clone().transform_down_with_subqueries(|node| {
        if !candidate(&node) {
            return Ok(Transformed::no(node));
        }
        let Some(pruned) = widened(&node).and_then(|w| shared.get(&w)) else {
            return Ok(Transformed::no(node));
        };
        match copy_over(&node, pruned) {
            Some(copy) => Ok(Transformed::new(copy, true, TreeNodeRecursion::Jump)),
            None => Ok(Transformed::no(node)),
        }
    })?;
    Ok(rewritten.transformed.then_some(rewritten.data))
}

/// The join with its column pruning set aside: scans read every column, projections that only pick columns are
/// skipped, everything else kept. `None` when the subtree holds anything but joins, filters, aliases,
/// projections and table scans (only such a subtree is a relation of its tables that any copy can read columns
/// of).
fn widened(plan: &LogicalPlan) -> Option<LogicalPlan> {
    match plan {
        LogicalPlan::TableScan(scan) => TableScanBuilder::from(scan.clone())
            .with_projection(None)
            .build()
            .ok()
            .map(LogicalPlan::TableScan),
        LogicalPlan::Projection(projection)
            if projection
                .expr
                .iter()
                .all(|expr| matches!(expr, Expr::Column(_))) =>
        {
            widened(&projection.input)
        }
        LogicalPlan::Join(_)
        | LogicalPlan::Filter(_)
        | LogicalPlan::SubqueryAlias(_)
        | LogicalPlan::Projection(_) => {
            let inputs = plan
                .inputs()
                .into_iter()
                .map(widened)
                .collect::<Option<Vec<_>>>()?;
            plan.with_new_exprs(plan.expressions(), inputs).ok()
        }
        _ => None,
    }
}

/// The widened join pruned by DataFusion's own projection pushdown to `columns` (in the join's order).
fn pruned_to(
    widened: &LogicalPlan,
    columns: &HashSet<Column>,
    config: &dyn OptimizerConfig,
) -> Result<LogicalPlan> {
    let kept: Vec<Expr> = widened
        .schema()
        .columns()
        .into_iter()
        .filter(|column| columns.contains(column))
        .map(Expr::Column)
        .collect();
    let projected = Projection::try_new(kept, Arc::new(widened.clone()))?;
    OptimizeProjections::new()
        .rewrite(LogicalPlan::Projection(projected), config)
        .map(|transformed| transformed.data)
}

/// `copy`'s columns read from the shared plan, when that gives exactly `copy`'s schema.
fn copy_over(copy: &LogicalPlan, shared: &LogicalPlan) -> Option<LogicalPlan> {
    let columns = copy
        .schema()
        .columns()
        .into_iter()
        .map(Expr::Column)
        .collect();
    let projection = Projection::try_new(columns, Arc::new(shared.clone())).ok()?;
    let same = projection.schema.iter().eq(copy.schema().iter());
    same.then_some(LogicalPlan::Projection(projection))
}
