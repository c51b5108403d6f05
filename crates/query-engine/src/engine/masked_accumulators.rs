//! The accumulators of a filtered aggregate without `GROUP BY`: DataFusion's plain (one-group) accumulators, fed
//! a batch whole with the rows its filter drops marked null.
//!
//! With `GROUP BY`, `filtered_aggregate` sends the dropped rows to a group of their own. Without it every row
//! would go to one group of DataFusion's *groups* accumulators, whose per-row loops add into one slot row after
//! row: `sum`s of four decimals over `WHERE l_shipdate <= …` (98.6 % of `lineitem` kept) took 107 ms against 88
//! without the filter (docs/benchmarks.md, "Planning, and where TPC-H Q1's time goes"). The plain
//! accumulators sum, count and compare a whole array at once, vectorised, and skip nulls; replacing a batch's
//! null buffer with one that also clears the dropped rows is a bitwise `AND`, so the kept rows are aggregated
//! without being copied. Only aggregates that ignore null arguments (`sum`, `count`, `avg`, `min`, `max`) are fed
//! this way, and `count(*)` too: DataFusion counts its constant argument, which the mask makes null where a row is
//! dropped.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::compute::nullif;
use datafusion::common::Result;
use datafusion::logical_expr::Accumulator;
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_plan::aggregates::AggregateExec;

use super::partial_aggregate::{AccumulatorInput, AggregateArguments};

/// Aggregates that ignore a null argument, so that a row whose arguments are all null counts for nothing.
const NULL_SKIPPING: [&str; 5] = ["sum", "count", "avg", "min", "max"];

/// One accumulator per aggregate of an aggregate without `GROUP BY`.
pub(crate) struct MaskedAccumulators {
    aggregates: Vec<Arc<AggregateFunctionExpr>>,
    arguments: AggregateArguments,
    each: Vec<Box<dyn Accumulator>>,
}

impl MaskedAccumulators {
    /// Accumulators for `aggregate`, when it has no `GROUP BY` and every aggregate of it ignores nulls.
    pub(crate) fn of(aggregate: &AggregateExec) -> Result<Option<Self>> {
        let aggregates = aggregate.aggr_expr();
        let eligible = aggregate.group_expr().expr().is_empty()
            && aggregates
                .iter()
                .all(|a| NULL_SKIPPING.contains(&a.fun().name()));
        if !eligible {
            return Ok(None);
        }
        Ok(Some(Self {
            aggregates: aggregates.to_vec(),
            arguments: AggregateArguments::of(aggregate),
            each: fresh(aggregates)?,
        }))
    }

    /// Every aggregate's arguments and `FILTER` clause over `batch`, changing nothing.
    pub(crate) fn evaluate(
        &self,
        batch: &datafusion::arrow::record_batch::RecordBatch,
    ) -> Result<Vec<AccumulatorInput>> {
        self.arguments.evaluate(batch)
    }

    /// Adds the rows `kept` sets (all rows without one) of evaluated arguments.
    pub(crate) fn apply(
        &mut self,
        inputs: Vec<AccumulatorInput>,
        kept: Option<&BooleanBuffer>,
    ) -> Result<()> {
        for (accumulator, input) in self.each.iter_mut().zip(inputs) {
            let (values, filter) = input.into_parts();
            let counted = match (kept, filter) {
                (None, None) => None,
                (Some(kept), None) => Some(kept.clone()),
                (None, Some(filter)) => Some(filter),
                (Some(kept), Some(filter)) => Some(kept & &filter),
            };
            let values = match counted {
                None => values,
                Some(counted) => {
                    let dropped = BooleanArray::new(!&counted, None);
                    values
                        .iter()
                        .map(|value| nullif(value, &dropped))
                        .collect::<std::result::Result<Vec<ArrayRef>, _>>()?
                }
            };
            accumulator.update_batch(&values)?;
        }
        Ok(())
    }

    /// Every aggregate's state as one row, in the partial aggregate's column order; the accumulators start over.
    pub(crate) fn take_states(&mut self) -> Result<Vec<ArrayRef>> {
        let mut columns = Vec::new();
        for accumulator in &mut self.each {
            for value in accumulator.state()? {
                columns.push(value.to_array()?);
            }
        }
        self.each = fresh(&self.aggregates)?;
        Ok(columns)
    }

    /// The bytes the accumulators hold.
    pub(crate) fn size(&self) -> usize {
        self.each.iter().map(|a| a.size()).sum()
    }
}

fn fresh(aggregates: &[Arc<AggregateFunctionExpr>]) -> Result<Vec<Box<dyn Accumulator>>> {
    aggregates.iter().map(|a| a.create_accumulator()).collect()
}
