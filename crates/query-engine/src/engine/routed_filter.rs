//! Evaluating the dynamic filter of a partitioned hash join — `CASE hash(key) % n WHEN 0 THEN f0 WHEN 1 THEN f1 …
//! ELSE e END`, one branch per build partition — in one pass, for `ScanFilterExec`.
//!
//! DataFusion's `CASE` evaluation copies the *whole batch* down to each branch's rows (every column the scan read,
//! strings included) and merges the branch results back, once per partition; that made such filters cost more
//! than they saved (docs/benchmarks.md, "Top rows per group and scan filters"). Here the routing hash is computed
//! once, rows are bucketed by partition with a counting pass, each branch is evaluated on just its rows of just
//! the columns it reads (its key columns), and the answers are set straight into one bitmap.

use std::any::Any;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch, UInt32Array};
use datafusion::arrow::buffer::{BooleanBuffer, MutableBuffer};
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::datatypes::UInt64Type;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{BinaryExpr, CaseExpr, Literal};
use datafusion::physical_plan::joins::HashExpr;

use super::rewrite_expressions::narrowed;

/// The rows where a routed filter `expr` holds (null counts as false), or `None` when `expr` is not a routed
/// filter of the shape DataFusion writes.
pub(crate) fn routed_truth(
    expr: &Arc<dyn PhysicalExpr>,
    batch: &RecordBatch,
) -> Result<Option<BooleanBuffer>> {
    let Some(routing) = Routing::of(expr) else {
        return Ok(None);
    };
    let rows = batch.num_rows();
    let hashes = routing.hash.evaluate(batch)?.into_array(rows)?;
    let Some(hashes) = hashes.as_primitive_opt::<UInt64Type>() else {
        return Ok(None);
    };
    let partitions = routing.partitions;
    // Each row's partition, computed once: a 64-bit division per row cost more than the rest of the routing
    // (`perf`, TPC-H Q17), and partition counts are usually powers of two, where a mask gives the same remainder.
    let partition_of: Vec<u32> = if partitions.is_power_of_two() {
        let mask = partitions - 1;
        hashes.values().iter().map(|h| narrow(h & mask)).collect()
    } else {
        hashes
            .values()
            .iter()
            .map(|h| narrow(h % partitions))
            .collect()
    };
    // Bucket the rows by partition (a counting pass, then the row numbers in order).
    let buckets = usize::try_from(partitions).unwrap_or_default();
    let mut starts = vec![0_usize; buckets + 1];
    for &partition in &partition_of {
        starts[partition as usize + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut next = starts.clone();
    let mut ordered = vec![0_u32; rows];
    for (row, &partition) in partition_of.iter().enumerate() {
        let slot = &mut next[partition as usize];
        ordered[*slot] = u32::try_from(row).unwrap_or(u32::MAX);
        *slot += 1;
    }
    let mut bits = MutableBuffer::new_null(rows);
    let bytes = bits.as_slice_mut();
    let mut covered = vec![false; buckets];
    for (partition, branch) in &routing.branches {
        let Some(slot) = usize::try_from(*partition).ok().filter(|p| *p < buckets) else {
            return Ok(None);
        };
        covered[slot] = true;
        let members = &ordered[starts[slot]..starts[slot + 1]];
        if members.is_empty() {
            continue;
        }
        let (columns, narrowed) = narrowed(branch)?;
        let indices = UInt32Array::from(members.to_vec());
        let subset = take_record_batch(&batch.project(&columns)?, &indices)?;
        let answers = narrowed.evaluate(&subset)?.into_array(members.len())?;
        let Some(answers) = answers
            .as_boolean_opt()
            .filter(|a| a.len() == members.len())
        else {
            return Ok(None);
        };
        for (position, &row) in members.iter().enumerate() {
            if answers.is_valid(position) && answers.value(position) {
                let row = row as usize;
                bytes[row / 8] |= 1 << (row % 8);
            }
        }
    }
    if routing.otherwise {
        for (slot, _) in covered.iter().enumerate().filter(|(_, c)| !**c) {
            for &row in &ordered[starts[slot]..starts[slot + 1]] {
                let row = row as usize;
                bytes[row / 8] |= 1 << (row % 8);
            }
        }
    }
    Ok(Some(BooleanBuffer::new(bits.into(), 0, rows)))
}

/// A partition number, below `Routing::partitions` (at most 4,096), as the bucket index type.
#[expect(
    clippy::cast_possible_truncation,
    reason = "partition numbers are remainders of a division by at most 4,096"
)]
fn narrow(partition: u64) -> u32 {
    partition as u32
}

/// A routed filter taken apart: the routing hash, the partition count, each branch's partition and filter, and
/// what the rows of the other partitions get.
struct Routing {
    hash: Arc<dyn PhysicalExpr>,
    partitions: u64,
    branches: Vec<(u64, Arc<dyn PhysicalExpr>)>,
    otherwise: bool,
}

impl Routing {
    fn of(expr: &Arc<dyn PhysicalExpr>) -> Option<Self> {
        let case = (expr.as_ref() as &dyn Any).downcast_ref::<CaseExpr>()?;
        let modulo = (case.expr()?.as_ref() as &dyn Any).downcast_ref::<BinaryExpr>()?;
        if *modulo.op() != Operator::Modulo
            || !(modulo.left().as_ref() as &dyn Any).is::<HashExpr>()
        {
            return None;
        }
        let partitions = match literal(modulo.right())? {
            ScalarValue::UInt64(Some(n)) if *n > 0 && *n <= 4_096 => *n,
            _ => return None,
        };
        let branches = case
            .when_then_expr()
            .iter()
            .map(|(when, then)| match literal(when)? {
                ScalarValue::UInt64(Some(p)) => Some((*p, Arc::clone(then))),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?;
        let otherwise = match case.else_expr().map(literal) {
            None => false,
            Some(Some(ScalarValue::Boolean(value))) => value.unwrap_or(false),
            Some(_) => return None,
        };
        Some(Self {
            hash: Arc::clone(modulo.left()),
            partitions,
            branches,
            otherwise,
        })
    }
}

fn literal(expr: &Arc<dyn PhysicalExpr>) -> Option<&ScalarValue> {
    (expr.as_ref() as &dyn Any)
        .downcast_ref::<Literal>()
        .map(Literal::value)
}
