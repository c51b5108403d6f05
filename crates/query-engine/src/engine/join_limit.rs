//! The join limit (`query.max_join_rows`): a join without an equality condition pairs every row of one side with
//! every row of the other, and DataFusion evaluates those pairs inside single polls that nothing interrupts. Such a
//! join is refused before it runs when the row counts recorded for its tables say it would pair more rows than
//! the limit. Row counts are upper bounds taken from the optimized plan: filters, projections and sorts keep their
//! input's count, a global aggregate has one row, a limit caps, a union adds; anything we cannot bound (table
//! functions, unknown tables) makes the estimate unknown, and an unknown estimate is never refused.

use std::collections::HashMap;

use datafusion::logical_expr::{Aggregate, Join, JoinType, Limit, LogicalPlan, Sort};

use crate::isolation::protocol::Failure;

/// The largest keyless join found so far.
#[derive(Debug, Default)]
struct Worst {
    estimate: u128,
    tables: Vec<String>,
}

/// Refuses the plan when one of its joins without equality keys would pair more than `limit` rows (0: no limit).
pub(crate) fn check(
    plan: &LogicalPlan,
    row_counts: &HashMap<String, u64>,
    limit: u64,
) -> Result<(), Failure> {
    if limit == 0 {
        return Ok(());
    }
    let mut worst = Worst::default();
    rows(plan, row_counts, &mut worst);
    if worst.estimate > u128::from(limit) {
        return Err(Failure::JoinTooLarge {
            tables: worst.tables.join(" × "),
            estimate: worst.estimate,
            limit,
        });
    }
    Ok(())
}

/// The tables scanned under `plan`, in plan order.
fn scanned_tables(plan: &LogicalPlan, into: &mut Vec<String>) {
    if let LogicalPlan::TableScan(scan) = plan {
        into.push(scan.table_name.table().to_owned());
    }
    for input in plan.inputs() {
        scanned_tables(input, into);
    }
}

fn fetch_of(limit: &Limit) -> Option<u128> {
    match limit.get_fetch_type() {
        Ok(datafusion::logical_expr::FetchType::Literal(Some(fetch))) => u128::try_from(fetch).ok(),
        _ => None,
    }
}

/// An upper bound of the rows `plan` produces, if one can be known; records keyless joins on the way.
fn rows(plan: &LogicalPlan, row_counts: &HashMap<String, u64>, worst: &mut Worst) -> Option<u128> {
    // Every input is visited, so a keyless join deep inside an unbounded plan is still found.
    let inputs: Vec<Option<u128>> = plan
        .inputs()
        .into_iter()
        .map(|input| rows(input, row_counts, worst))
        .collect();
    let only = || inputs.first().copied().flatten();
    match plan {
        LogicalPlan::TableScan(scan) => {
            let recorded = row_counts
                .get(&scan.table_name.table().to_lowercase())
                .map(|r| u128::from(*r))?;
            Some(match scan.fetch {
                Some(fetch) => recorded.min(u128::try_from(fetch).unwrap_or(u128::MAX)),
                None => recorded,
            })
        }
        LogicalPlan::Join(join) => join_rows(plan, join, &inputs, worst),
        LogicalPlan::Aggregate(Aggregate { group_expr, .. }) if group_expr.is_empty() => Some(1),
        LogicalPlan::Limit(limit) => match (fetch_of(limit), only()) {
            (Some(fetch), Some(input)) => Some(fetch.min(input)),
            (fetch, input) => fetch.or(input),
        },
        LogicalPlan::Sort(Sort { fetch, .. }) => match (fetch, only()) {
            (Some(fetch), Some(input)) => Some(input.min(u128::try_from(*fetch).ok()?)),
            (_, input) => input,
        },
        LogicalPlan::Union(_) => inputs
            .iter()
            .try_fold(0_u128, |sum, r| r.map(|r| sum.saturating_add(r))),
        LogicalPlan::Values(values) => u128::try_from(values.values.len()).ok(),
        LogicalPlan::EmptyRelation(empty) => Some(u128::from(empty.produce_one_row)),
        LogicalPlan::Projection(_)
        | LogicalPlan::Filter(_)
        | LogicalPlan::Window(_)
        | LogicalPlan::Aggregate(_)
        | LogicalPlan::Repartition(_)
        | LogicalPlan::SubqueryAlias(_)
        | LogicalPlan::Subquery(_)
        | LogicalPlan::Distinct(_) => only(),
        _ => None,
    }
}

fn join_rows(
    plan: &LogicalPlan,
    join: &Join,
    inputs: &[Option<u128>],
    worst: &mut Worst,
) -> Option<u128> {
    let (left, right) = (
        inputs.first().copied().flatten(),
        inputs.get(1).copied().flatten(),
    );
    if !join.on.is_empty() {
        // With equality keys the work is a hash join: bounded by its inputs for the estimate's purpose.
        return match join.join_type {
            JoinType::LeftSemi | JoinType::LeftAnti | JoinType::LeftMark => left,
            JoinType::RightSemi | JoinType::RightAnti | JoinType::RightMark => right,
            _ => Some(left?.max(right?)),
        };
    }
    let pairs = left?.saturating_mul(right?);
    if pairs > worst.estimate {
        let mut tables = Vec::new();
        scanned_tables(plan, &mut tables);
        *worst = Worst {
            estimate: pairs,
            tables,
        };
    }
    match join.join_type {
        JoinType::LeftSemi | JoinType::LeftAnti | JoinType::LeftMark => left,
        JoinType::RightSemi | JoinType::RightAnti | JoinType::RightMark => right,
        _ => Some(pairs),
    }
}
