//! Rows a join cannot match dropped as they leave the scan, a physical optimizer rule of our own.
//!
//! While a hash join builds its table, DataFusion 55 writes a *dynamic filter* (the build side's key bounds and
//! key set) into the scan on the other side, and a top-k sort does the same with the bound of what it keeps. With
//! Parquet filter pushdown off — Tabletalk's default, because decoding the filtered columns twice made single-table
//! filters up to twice as slow (docs/benchmarks.md, "Engine settings compared") — the scan uses those filters only
//! to skip whole row groups by their statistics. Every other row still goes through the static filters, the
//! repartition and the probe on the way: TPC-H Q19 evaluates its long `OR` of conditions on all 6 M `lineitem`
//! rows before the join keeps those of the few hundred parts it asked for.
//!
//! [`ScanFilterExec`] sits right above such a scan and applies its dynamic filters to the decoded batches: no
//! second decode, and the work saved is everything downstream. It is adaptive, because a filter that keeps most
//! rows only costs: after 64 Ki rows, if more than nine in ten pass, it checks only one batch in eight (and goes
//! back to every batch when the pass rate drops or the filter changes, as a top-k bound does while it tightens). A
//! filter not yet built (still `true`) is not evaluated, nor one routed per build partition by a hash of the key
//! (see [`worth_evaluating`]). Dropping rows here is always safe: these are the filters DataFusion itself would
//! apply in the scan with pushdown on. Measured on TPC-H SF1 against the same build without it (docs/benchmarks.md):
//! Q7, Q19 and Q21 18–27 % faster, Q4 (whose filter only repeats the probe right above the scan) 13–20 % slower.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{BooleanArray, RecordBatch};
use datafusion::arrow::compute::{and, filter_record_batch};
use datafusion::common::cast::as_boolean_array;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Result, ScalarValue};
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::expressions::{DynamicFilterPhysicalExpr, Literal};
use datafusion::physical_expr::utils::reassign_expr_columns;
use datafusion::physical_expr::{PhysicalExpr, split_conjunction};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::joins::HashExpr;
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties,
    ReplaceChildrenOptions,
};
use futures_util::StreamExt;

use super::single_input::{only_child, recompute, visit_expressions};

/// Rows evaluated before the pass rate decides anything.
const MEASURED_ROWS: usize = 64 * 1024;
/// While most rows pass, one batch in this many is still filtered (and measured).
const SAMPLE_EVERY: usize = 8;

/// The rule: every file scan holding dynamic filters gets a [`ScanFilterExec`] above it.
#[derive(Debug, Default)]
pub struct ScanFilters;

impl PhysicalOptimizerRule for ScanFilters {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // With pushdown on, the Parquet reader applies the filters itself.
        if config.execution.parquet.pushdown_filters {
            return Ok(plan);
        }
        plan.transform_up(|node| {
            let filters = dynamic_filters_of(&node);
            if filters.is_empty() {
                return Ok(Transformed::no(node));
            }
            let properties = Arc::clone(node.properties());
            Ok(Transformed::yes(Arc::new(ScanFilterExec {
                input: node,
                filters,
                properties,
                metrics: ExecutionPlanMetricsSet::new(),
            }) as Arc<dyn ExecutionPlan>))
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &'static str {
        "tabletalk_scan_filters"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The dynamic filters among the conjuncts of a file scan's predicate, their columns renumbered from the table's
/// schema to the scan's output (a filter on a column the scan does not output is left out).
fn dynamic_filters_of(node: &Arc<dyn ExecutionPlan>) -> Vec<Arc<dyn PhysicalExpr>> {
    let Some(scan) = node.downcast_ref::<DataSourceExec>() else {
        return Vec::new();
    };
    let Some(config) = scan.data_source().downcast_ref::<FileScanConfig>() else {
        return Vec::new();
    };
    let Some(predicate) = config.file_source().filter() else {
        return Vec::new();
    };
    let output = node.schema();
    split_conjunction(&predicate)
        .into_iter()
        .filter(|conjunct| {
            conjunct
                .downcast_ref::<DynamicFilterPhysicalExpr>()
                .is_some()
        })
        .filter_map(|conjunct| reassign_expr_columns(Arc::clone(conjunct), &output).ok())
        .collect()
}

/// A scan's dynamic filters applied to its batches.
#[derive(Debug)]
pub struct ScanFilterExec {
    input: Arc<dyn ExecutionPlan>,
    filters: Vec<Arc<dyn PhysicalExpr>>,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl DisplayAs for ScanFilterExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let filters: Vec<String> = self.filters.iter().map(ToString::to_string).collect();
        write!(f, "ScanFilterExec: {}", filters.join(" AND "))
    }
}

impl ExecutionPlan for ScanFilterExec {
    fn name(&self) -> &'static str {
        "ScanFilterExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        visit_expressions(self.filters.iter().cloned(), f)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = only_child(children, "ScanFilterExec")?;
        let properties = match options.children_properties {
            ChildrenPropertiesMode::Keep => Arc::clone(&self.properties),
            // Filtering rows keeps every property of the input that matters above: order, partitioning, constants.
            ChildrenPropertiesMode::Recompute => Arc::clone(input.properties()),
        };
        Ok(Arc::new(Self {
            input,
            filters: self.filters.clone(),
            properties,
            metrics: ExecutionPlanMetricsSet::new(),
        }))
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(children, recompute())
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let mut state = PassRate::default();
        let filters = self.filters.clone();
        let output_rows = MetricBuilder::new(&self.metrics).output_rows(partition);
        let filtered = input.filter_map(move |batch| {
            let result = batch.map(|batch| state.apply(&filters, batch));
            if let Ok(batch) = &result {
                output_rows.add(batch.num_rows());
            }
            std::future::ready(match result {
                Ok(batch) if batch.num_rows() == 0 => None,
                other => Some(other),
            })
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            filtered,
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// How many of the rows the filters were evaluated on passed, since they last changed.
#[derive(Default)]
struct PassRate {
    generation: u64,
    seen: usize,
    passed: usize,
    batches: usize,
    /// A filter failed to evaluate: the stream passes everything from then on (the join still decides).
    failed: bool,
}

impl PassRate {
    fn apply(&mut self, filters: &[Arc<dyn PhysicalExpr>], batch: RecordBatch) -> RecordBatch {
        if self.failed {
            return batch;
        }
        let generation = filters.iter().map(|f| f.snapshot_generation()).sum();
        if generation != self.generation {
            *self = Self {
                generation,
                ..Self::default()
            };
        }
        self.batches += 1;
        if self.mostly_passing() && !self.batches.is_multiple_of(SAMPLE_EVERY) {
            return batch;
        }
        match kept_rows(filters, &batch) {
            Ok(Some(kept)) => {
                self.seen += batch.num_rows();
                self.passed += kept.num_rows();
                kept
            }
            Ok(None) => batch,
            // Dropping rows here only saves work, so a filter that cannot be evaluated costs speed, not the query.
            Err(error) => {
                tracing::debug!(%error, "a scan filter failed; its scan passes every row");
                self.failed = true;
                batch
            }
        }
    }

    fn mostly_passing(&self) -> bool {
        self.seen >= MEASURED_ROWS && self.passed * 10 > self.seen * 9
    }
}

/// The rows of `batch` every filter worth evaluating keeps; `None` when no filter is.
fn kept_rows(
    filters: &[Arc<dyn PhysicalExpr>],
    batch: &RecordBatch,
) -> Result<Option<RecordBatch>> {
    let mut keep: Option<BooleanArray> = None;
    for filter in filters {
        if !worth_evaluating(filter)? {
            continue;
        }
        let result = filter.evaluate(batch)?.into_array(batch.num_rows())?;
        let result = as_boolean_array(&result)?;
        keep = Some(match keep {
            Some(so_far) => and(&so_far, result)?,
            None => result.clone(),
        });
    }
    keep.map(|keep| Ok(filter_record_batch(batch, &keep)?))
        .transpose()
}

/// Whether the filter as it stands now is worth a pass over the rows: not the literal `true` a dynamic filter
/// starts as, and not routed by a hash of the keys. A join whose build side is split into partitions writes
/// `CASE hash(key) % n WHEN 0 THEN … END`, one branch per partition; evaluating that per row cost more than it
/// saved (TPC-H Q9 1.2 s instead of 0.46 s), while bounds, key lists and a single build side's key lookup are
/// cheap next to what the dropped rows cost above.
fn worth_evaluating(filter: &Arc<dyn PhysicalExpr>) -> Result<bool> {
    let Some(current) = filter.snapshot()? else {
        return Ok(true);
    };
    let always_true = current
        .downcast_ref::<Literal>()
        .is_some_and(|l| *l.value() == ScalarValue::Boolean(Some(true)));
    let mut routed = false;
    current.apply(|node| {
        routed = node.downcast_ref::<HashExpr>().is_some();
        Ok(if routed {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    })?;
    Ok(!always_true && !routed)
}
