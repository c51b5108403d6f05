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
//!
//! A join whose build side is too big for a key list hands the scan a lookup into its hash table; once the join's
//! [`KeyCollectExec`] has hashed every build row into a bloom (`key_bloom`), the scan checks the bloom instead,
//! plain or routed alike: TPC-H 0.89–0.905× of before (docs/benchmarks.md, "Key blooms"). A join whose filter
//! reached no scan (one of its keys is computed above the scans, as an aggregate's result is) sends each other key
//! column's build values down on their own (`column_sets`).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{BooleanArray, RecordBatch};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::compute::filter_record_batch;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, NullEquality, Result, ScalarValue};
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::expressions::{DynamicFilterPhysicalExpr, Literal};
use datafusion::physical_expr::utils::reassign_expr_columns;
use datafusion::physical_expr::{PhysicalExpr, split_conjunction};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::joins::{HashExpr, HashJoinExec};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::recursive_query::RecursiveQueryExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, ReplaceChildrenOptions,
};
use futures_util::StreamExt;

use super::column_sets::with_column_sets;
use super::key_bloom::{KeyBloom, KeyCollectExec, KeySlot};
use super::rewrite_expressions::truth;
use super::routed_filter::routed_truth;
use super::single_input::{only_child, passed_through_properties, recompute, visit_expressions};

/// Rows evaluated before the pass rate decides anything.
const MEASURED_ROWS: usize = 64 * 1024;
/// While most rows pass, one batch in this many is still filtered (and measured).
pub(crate) const SAMPLE_EVERY: usize = 8;

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
        let slots = join_slots(&plan)?;
        let mut used = HashSet::new();
        let plan = plan
            .transform_up(|node| {
                if let Some(join) = node.downcast_ref::<HashJoinExec>() {
                    return with_key_collection(&node, join, &slots, &used);
                }
                if let Some(hoisted) = above_static_filter(&node)? {
                    return Ok(Transformed::yes(hoisted));
                }
                let filters = dynamic_filters_of(&node);
                if filters.is_empty() {
                    return Ok(Transformed::no(node));
                }
                let blooms: Vec<Option<Arc<KeySlot>>> = filters
                    .iter()
                    .map(|filter| {
                        let id = filter.expression_id()?;
                        used.insert(id);
                        slots.get(&id).cloned()
                    })
                    .collect();
                let properties = Arc::clone(node.properties());
                Ok(Transformed::yes(Arc::new(ScanFilterExec {
                    input: node,
                    filters,
                    blooms,
                    kinds: Kinds::All,
                    properties,
                    metrics: ExecutionPlanMetricsSet::new(),
                })
                    as Arc<dyn ExecutionPlan>))
            })?
            .data;
        // No slots: no join with a dynamic filter, or a recursive query (whose joins run again every round).
        if slots.is_empty() {
            return Ok(plan);
        }
        with_column_sets(plan, &used)
    }

    fn name(&self) -> &'static str {
        "tabletalk_scan_filters"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// A bloom slot for every hash join that writes a dynamic filter, by the filter's expression id. None in a
/// recursive query: its joins run again for every round, and a bloom is made once.
fn join_slots(plan: &Arc<dyn ExecutionPlan>) -> Result<HashMap<u64, Arc<KeySlot>>> {
    let mut slots = HashMap::new();
    let mut recursive = false;
    plan.apply(|node| {
        if node.downcast_ref::<RecursiveQueryExec>().is_some() {
            recursive = true;
            return Ok(TreeNodeRecursion::Stop);
        }
        if let Some(join) = node.downcast_ref::<HashJoinExec>()
            // A null key matches a null only under `NullEqualsNull`, and the null-aware anti join keeps rows by
            // nulls: the bloom drops rows with a null key.
            && join.null_equality() == NullEquality::NullEqualsNothing
            && !join.null_aware
            && let Some(id) = join_filter_id(join)
        {
            slots.insert(id, KeySlot::new());
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    if recursive {
        slots.clear();
    }
    Ok(slots)
}

/// The expression id of the dynamic filter a hash join writes, if it writes one.
pub(crate) fn join_filter_id(join: &HashJoinExec) -> Option<u64> {
    join.dynamic_expressions_produced()
        .first()
        .and_then(|filter| filter.expression_id())
}

/// A join whose dynamic filter a scan below reads gets its build input hashed into the filter's bloom.
fn with_key_collection(
    node: &Arc<dyn ExecutionPlan>,
    join: &HashJoinExec,
    slots: &HashMap<u64, Arc<KeySlot>>,
    used: &HashSet<u64>,
) -> Result<Transformed<Arc<dyn ExecutionPlan>>> {
    let slot = join_filter_id(join)
        .filter(|id| used.contains(id))
        .and_then(|id| slots.get(&id));
    let Some(slot) = slot else {
        return Ok(Transformed::no(Arc::clone(node)));
    };
    let keys = join.on().iter().map(|(left, _)| Arc::clone(left)).collect();
    let collecting = Arc::new(KeyCollectExec::new(
        Arc::clone(join.left()),
        keys,
        Arc::clone(slot),
    ));
    let rebuilt = Arc::clone(node)
        .replace_children(vec![collecting, Arc::clone(join.right())], recompute())?;
    Ok(Transformed::yes(rebuilt))
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
        blooms: scan_filter.blooms.clone(),
        kinds: Kinds::Plain,
        properties: Arc::clone(&scan_filter.properties),
        metrics: ExecutionPlanMetricsSet::new(),
    });
    let static_filter = Arc::clone(node).replace_children(vec![plain], recompute())?;
    let properties = Arc::clone(static_filter.properties());
    Ok(Some(Arc::new(ScanFilterExec {
        input: static_filter,
        filters,
        blooms: scan_filter.blooms.clone(),
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
    /// Each filter's join bloom (`key_bloom`), where its join has one: used instead of the filter once made.
    blooms: Vec<Option<Arc<KeySlot>>>,
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
            Evaluation::Whole | Evaluation::Bloom { routed: false } => self != Self::Routed,
            Evaluation::Routed(_) | Evaluation::Bloom { routed: true } => self != Self::Plain,
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
        let blooms = if self.blooms.iter().any(Option::is_some) {
            " (key blooms)"
        } else {
            ""
        };
        write!(
            f,
            "ScanFilterExec{kinds}{blooms}: {}",
            filters.join(" AND ")
        )
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
            blooms: self.blooms.clone(),
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
        let filters = Filters {
            exprs: self.filters.clone(),
            blooms: self.blooms.clone(),
            bloom_rows: MetricBuilder::new(&self.metrics).counter("bloom_rows", partition),
        };
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
pub(crate) struct Counts {
    seen: usize,
    passed: usize,
}

impl Counts {
    pub(crate) fn add(&mut self, seen: usize, passed: usize) {
        self.seen += seen;
        self.passed += passed;
    }

    pub(crate) fn mostly_passing(self) -> bool {
        self.seen >= MEASURED_ROWS && self.passed * 10 > self.seen * 9
    }

    /// Whether a routed filter keeps too many rows to pay for its probes: more than one in ten. (It probes the
    /// join's hash table once per row, as the join then does again for the rows it keeps, so it only pays when
    /// it drops nearly everything: TPC-H Q17, Q18 and Q20 keep well under 1 %, Q5 15 % and was slower.)
    fn too_many_routed(self) -> bool {
        self.seen >= MEASURED_ROWS && self.passed * 10 > self.seen
    }
}

/// A scan filter's dynamic filters and, beside each, its join's bloom slot if it has one.
struct Filters {
    exprs: Vec<Arc<dyn PhysicalExpr>>,
    blooms: Vec<Option<Arc<KeySlot>>>,
    /// Rows checked against a bloom (a metric: plans with metrics show whether the blooms were made in time).
    bloom_rows: Count,
}

impl Filters {
    /// Changes when a filter is updated or a bloom is made: what was measured before says nothing about it.
    fn generation(&self) -> u64 {
        let updates: u64 = self.exprs.iter().map(|f| f.snapshot_generation()).sum();
        let blooms = self
            .blooms
            .iter()
            .flatten()
            .filter(|slot| slot.bloom().is_some())
            .count();
        updates.wrapping_add(u64::try_from(blooms).unwrap_or_default() << 48)
    }

    fn bloom(&self, position: usize) -> Option<&KeyBloom> {
        self.blooms.get(position)?.as_deref()?.bloom()
    }
}

impl PassRate {
    fn apply(&mut self, filters: &Filters, kinds: Kinds, batch: RecordBatch) -> RecordBatch {
        if self.failed {
            return batch;
        }
        let generation = filters.generation();
        if generation != self.generation || self.routed.len() != filters.exprs.len() {
            *self = Self {
                generation,
                routed: vec![Counts::default(); filters.exprs.len()],
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
    /// to keep more than one row in ten of those that reach it (see [`Counts::too_many_routed`]). A filter whose
    /// join's bloom is made is checked against the bloom instead, where the filter itself would be.
    fn kept_rows(
        &mut self,
        filters: &Filters,
        kinds: Kinds,
        batch: RecordBatch,
        sampled: bool,
    ) -> Result<RecordBatch, (DataFusionError, RecordBatch)> {
        let mut plans = Vec::with_capacity(filters.exprs.len());
        for (position, filter) in filters.exprs.iter().enumerate() {
            let plan = match evaluation(filter) {
                Ok(plan) if filters.bloom(position).is_some() => Evaluation::Bloom {
                    routed: matches!(plan, Evaluation::Routed(_)),
                },
                Ok(plan) => plan,
                Err(error) => return Err((error, batch)),
            };
            plans.push(if kinds.evaluates(&plan) {
                plan
            } else {
                Evaluation::Skip
            });
        }
        let mut keep: Option<BooleanBuffer> = None;
        for (position, (filter, plan)) in filters.exprs.iter().zip(&plans).enumerate() {
            let passing = match plan {
                Evaluation::Whole => truth(filter, &batch),
                Evaluation::Bloom { routed: false } => bloom_truth(filters, position, &batch),
                _ => continue,
            };
            let passing = match passing {
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
            if current.num_rows() == 0 {
                break;
            }
            let counts = self.routed[position];
            let passing = match plan {
                Evaluation::Routed(_) if counts.too_many_routed() && !sampled => continue,
                Evaluation::Routed(current_filter) => routed_truth(current_filter, &current),
                // A bloom costs one read per row, not a probe: it steps aside only when it drops almost nothing.
                Evaluation::Bloom { routed: true } if counts.mostly_passing() && !sampled => {
                    continue;
                }
                Evaluation::Bloom { routed: true } => {
                    bloom_truth(filters, position, &current).map(Some)
                }
                _ => continue,
            };
            let passing = match passing {
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
    /// The filter's join has made its bloom (`key_bloom`): the bloom is checked instead, where the filter would
    /// have been (above a static filter if it is routed).
    Bloom { routed: bool },
}

/// The rows of `batch` the bloom of the filter at `position` may let through, its keys being the filter's
/// columns (the probe side's join keys, in the order of the join's keys).
fn bloom_truth(filters: &Filters, position: usize, batch: &RecordBatch) -> Result<BooleanBuffer> {
    let (Some(filter), Some(bloom)) = (filters.exprs.get(position), filters.bloom(position)) else {
        return Ok(BooleanBuffer::new_set(batch.num_rows()));
    };
    let keys: Vec<Arc<dyn PhysicalExpr>> = filter.children().into_iter().cloned().collect();
    filters.bloom_rows.add(batch.num_rows());
    bloom.truth(&keys, batch)
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
