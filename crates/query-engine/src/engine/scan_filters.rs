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
//! filter not yet built (still `true`) is not evaluated; one routed per build partition by a hash of the key is
//! evaluated by `routed_filter`, after the others and only while it drops nine rows in ten (see [`Evaluation`]),
//! and above a static filter of the scan (see [`above_static_filter`]). Dropping rows here is always safe: these
//! are the filters DataFusion itself would apply in the scan with pushdown on. Measured on TPC-H SF1 against the
//! same build without it (docs/benchmarks.md): Q7, Q19 and Q21 18–27 % faster, Q4 (whose filter only repeats the
//! probe right above the scan) 13–20 % slower; with routed filters, Q17, Q18 and Q20 another 21–37 % faster.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{BooleanArray, RecordBatch};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::compute::filter_record_batch;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::expressions::{DynamicFilterPhysicalExpr, Literal};
use datafusion::physical_expr::utils::reassign_expr_columns;
use datafusion::physical_expr::{PhysicalExpr, split_conjunction};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::joins::HashExpr;
use datafusion::physical_plan::metrics::{
    BaselineMetrics, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, ReplaceChildrenOptions,
};
use futures_util::StreamExt;

use super::rewrite_expressions::truth;
use super::routed_filter::routed_truth;
use super::single_input::{only_child, passed_through_properties, recompute, visit_expressions};

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
            if let Some(hoisted) = above_static_filter(&node)? {
                return Ok(Transformed::yes(hoisted));
            }
            let filters = dynamic_filters_of(&node);
            if filters.is_empty() {
                return Ok(Transformed::no(node));
            }
            let properties = Arc::clone(node.properties());
            Ok(Transformed::yes(Arc::new(ScanFilterExec {
                input: node,
                filters,
                kinds: Kinds::All,
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

/// A static filter right above a scan's [`ScanFilterExec`] split it in two, when the dynamic filters' columns
/// survive the static filter's projection: the plain dynamic filters (bounds, key lists, one lookup) stay below,
/// since they are cheap next to most static conditions (TPC-H Q19's `OR` of string comparisons was 15 % slower
/// above), and the routed ones — a hash-table probe per row — go above, to see only the rows the static filter
/// kept (TPC-H Q20 probed all 6 M `lineitem` rows otherwise, where the date condition keeps 0.9 M).
fn above_static_filter(node: &Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    // A filter that stops after some rows would count rows the dynamic filters drop: left where it is.
    let Some(filter) = node
        .downcast_ref::<FilterExec>()
        .filter(|f| f.fetch().is_none())
    else {
        return Ok(None);
    };
    let Some(scan_filter) = filter.input().downcast_ref::<ScanFilterExec>() else {
        return Ok(None);
    };
    let output = node.schema();
    let Ok(filters) = scan_filter
        .filters
        .iter()
        .map(|f| reassign_expr_columns(Arc::clone(f), &output))
        .collect::<Result<Vec<_>>>()
    else {
        return Ok(None);
    };
    if scan_filter.kinds != Kinds::All {
        return Ok(None);
    }
    let plain = Arc::new(ScanFilterExec {
        input: Arc::clone(&scan_filter.input),
        filters: scan_filter.filters.clone(),
        kinds: Kinds::Plain,
        properties: Arc::clone(&scan_filter.properties),
        metrics: ExecutionPlanMetricsSet::new(),
    });
    let static_filter = Arc::clone(node).replace_children(vec![plain], recompute())?;
    let properties = Arc::clone(static_filter.properties());
    Ok(Some(Arc::new(ScanFilterExec {
        input: static_filter,
        filters,
        kinds: Kinds::Routed,
        properties,
        metrics: ExecutionPlanMetricsSet::new(),
    })))
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
    kinds: Kinds,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

/// Which of its filters a [`ScanFilterExec`] evaluates (see [`Evaluation`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kinds {
    /// Right above the scan: both kinds.
    All,
    /// Right above the scan, below a static filter: the plain filters, cheap next to most static conditions.
    Plain,
    /// Above the static filter: the routed filters, which then probe only the rows the static filter kept.
    Routed,
}

impl Kinds {
    fn evaluates(self, evaluation: &Evaluation) -> bool {
        match evaluation {
            Evaluation::Skip => false,
            Evaluation::Whole => self != Self::Routed,
            Evaluation::Routed(_) => self != Self::Plain,
        }
    }
}

impl DisplayAs for ScanFilterExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let filters: Vec<String> = self.filters.iter().map(ToString::to_string).collect();
        let kinds = match self.kinds {
            Kinds::All => "",
            Kinds::Plain => " (plain filters)",
            Kinds::Routed => " (routed filters)",
        };
        write!(f, "ScanFilterExec{kinds}: {}", filters.join(" AND "))
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
        let properties = passed_through_properties(options, &self.properties, &input);
        Ok(Arc::new(Self {
            input,
            filters: self.filters.clone(),
            kinds: self.kinds,
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
        let kinds = self.kinds;
        // Its own time shows in plans with metrics: filters evaluated over whole scans are not free.
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let input_rows = MetricBuilder::new(&self.metrics).counter("input_rows", partition);
        let filtered = input.filter_map(move |batch| {
            let result = batch.map(|batch| {
                input_rows.add(batch.num_rows());
                let _timer = baseline.elapsed_compute().timer();
                state.apply(&filters, kinds, batch)
            });
            if let Ok(batch) = &result {
                baseline.record_output(batch.num_rows());
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
    all: Counts,
    /// Each routed filter's own counts (by position among the filters), over the rows that reached it.
    routed: Vec<Counts>,
    batches: usize,
    /// A filter failed to evaluate: the stream passes everything from then on (the join still decides).
    failed: bool,
}

#[derive(Default, Clone, Copy)]
struct Counts {
    seen: usize,
    passed: usize,
}

impl Counts {
    fn add(&mut self, seen: usize, passed: usize) {
        self.seen += seen;
        self.passed += passed;
    }

    fn mostly_passing(self) -> bool {
        self.seen >= MEASURED_ROWS && self.passed * 10 > self.seen * 9
    }

    /// Whether a routed filter keeps too many rows to pay for its probes: more than one in ten. (It probes the
    /// join's hash table once per row, as the join then does again for the rows it keeps, so it only pays when
    /// it drops nearly everything: TPC-H Q17, Q18 and Q20 keep well under 1 %, Q5 15 % and was slower.)
    fn too_many_routed(self) -> bool {
        self.seen >= MEASURED_ROWS && self.passed * 10 > self.seen
    }
}

impl PassRate {
    fn apply(
        &mut self,
        filters: &[Arc<dyn PhysicalExpr>],
        kinds: Kinds,
        batch: RecordBatch,
    ) -> RecordBatch {
        if self.failed {
            return batch;
        }
        let generation = filters.iter().map(|f| f.snapshot_generation()).sum();
        if generation != self.generation || self.routed.len() != filters.len() {
            *self = Self {
                generation,
                routed: vec![Counts::default(); filters.len()],
                ..Self::default()
            };
        }
        self.batches += 1;
        let sampled = self.batches.is_multiple_of(SAMPLE_EVERY);
        if self.all.mostly_passing() && !sampled {
            return batch;
        }
        let rows = batch.num_rows();
        match self.kept_rows(filters, kinds, batch, sampled) {
            Ok(kept) => {
                self.all.add(rows, kept.num_rows());
                kept
            }
            // Dropping rows here only saves work, so a filter that cannot be evaluated costs speed, not the query.
            Err((error, batch)) => {
                tracing::debug!(%error, "a scan filter failed; its scan passes every row");
                self.failed = true;
                batch
            }
        }
    }

    /// The rows of `batch` the filters keep: first every plain filter over all rows (their answers combined),
    /// then each routed filter over the rows still left — skipped, but on sampled batches, once it has been seen
    /// to keep more than one row in ten of those that reach it (see [`Counts::too_many_routed`]).
    fn kept_rows(
        &mut self,
        filters: &[Arc<dyn PhysicalExpr>],
        kinds: Kinds,
        batch: RecordBatch,
        sampled: bool,
    ) -> Result<RecordBatch, (DataFusionError, RecordBatch)> {
        let mut plans = Vec::with_capacity(filters.len());
        for filter in filters {
            match evaluation(filter) {
                Ok(plan) if kinds.evaluates(&plan) => plans.push(plan),
                Ok(_) => plans.push(Evaluation::Skip),
                Err(error) => return Err((error, batch)),
            }
        }
        let mut keep: Option<BooleanBuffer> = None;
        for (filter, plan) in filters.iter().zip(&plans) {
            if !matches!(plan, Evaluation::Whole) {
                continue;
            }
            let passing = match truth(filter, &batch) {
                Ok(passing) => passing,
                Err(error) => return Err((error, batch)),
            };
            keep = Some(match keep {
                Some(so_far) => &so_far & &passing,
                None => passing,
            });
        }
        let mut current = match keep {
            Some(keep) => match filter_record_batch(&batch, &BooleanArray::new(keep, None)) {
                Ok(kept) => kept,
                Err(error) => return Err((error.into(), batch)),
            },
            None => batch.clone(),
        };
        for (position, plan) in plans.iter().enumerate() {
            let Evaluation::Routed(current_filter) = plan else {
                continue;
            };
            if current.num_rows() == 0 {
                break;
            }
            if self.routed[position].too_many_routed() && !sampled {
                continue;
            }
            let passing = match routed_truth(current_filter, &current) {
                Ok(Some(passing)) => passing,
                Ok(None) => continue,
                Err(error) => return Err((error, batch)),
            };
            let rows = current.num_rows();
            current = match filter_record_batch(&current, &BooleanArray::new(passing, None)) {
                Ok(kept) => kept,
                Err(error) => return Err((error.into(), batch)),
            };
            self.routed[position].add(rows, current.num_rows());
        }
        Ok(current)
    }
}

/// How a filter as it stands now is evaluated.
enum Evaluation {
    /// Not at all: the literal `true` a dynamic filter starts as, or a routed filter in a shape not recognised.
    Skip,
    /// As DataFusion evaluates it: bounds, key lists and a single build side's key lookup are cheap next to what
    /// the dropped rows cost above.
    Whole,
    /// A join whose build side is split into partitions writes `CASE hash(key) % n WHEN 0 THEN … END`, one branch
    /// per partition. DataFusion's own `CASE` evaluation of it cost more than it saved (TPC-H Q9 1.2 s instead of
    /// 0.46 s); `routed_filter` evaluates it in one pass over just the key columns.
    Routed(Arc<dyn PhysicalExpr>),
}

fn evaluation(filter: &Arc<dyn PhysicalExpr>) -> Result<Evaluation> {
    let Some(current) = filter.snapshot()? else {
        return Ok(Evaluation::Whole);
    };
    let always_true = current
        .downcast_ref::<Literal>()
        .is_some_and(|l| *l.value() == ScalarValue::Boolean(Some(true)));
    if always_true {
        return Ok(Evaluation::Skip);
    }
    let mut routed = false;
    current.apply(|node| {
        routed = node.downcast_ref::<HashExpr>().is_some();
        Ok(if routed {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    })?;
    Ok(if routed {
        Evaluation::Routed(current)
    } else {
        Evaluation::Whole
    })
}
