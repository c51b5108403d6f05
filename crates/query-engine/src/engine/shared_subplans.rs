//! A subplan that appears twice in a query computed once, a physical optimizer rule of ours.
//!
//! DataFusion 55 inlines a `WITH` view used twice, so both uses plan and run the same join or aggregate: TPC-H
//! Q15 scans and aggregates `lineitem` once for its scalar subquery (`max(total_revenue)`) and again for the join
//! with `supplier` — twice the work `DuckDB` does (docs/benchmarks.md, "Shared subplans"). The rule finds subtrees
//! that print identically (same operators, expressions, files and partitioning) and are a join or an aggregate
//! over file scans only, and puts a [`SharedSubplanExec`] on top of each copy, all copies sharing one state. Per
//! output partition, the first copy to run streams its own input and keeps the batches (counted against the
//! query's memory limit); a copy that runs after it has finished replays them. A copy that starts while another is
//! still running, or after the kept batches outgrew the memory limit or the stream was abandoned, runs its own
//! input — so no copy ever waits for another (no deadlock whatever the operators above do), and the answer is the
//! same either way. The rule runs before DataFusion pushes its dynamic join filters down, and those filters are
//! not pushed into a shared copy, so every copy computes exactly the same rows.

use std::collections::HashMap;
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::joins::HashJoinExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties,
    ReplaceChildrenOptions, displayable,
};
use futures_util::{Stream, StreamExt};

use super::single_input::{only_child, passed_through_properties, recompute};

/// The rule: every copy of a repeated join or aggregate gets a [`SharedSubplanExec`] sharing one state.
#[derive(Debug, Default)]
pub struct SharedSubplans;

impl PhysicalOptimizerRule for SharedSubplans {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // Printing a subtree costs far more than walking it, so only subtrees whose operators have the same shape
        // as another's are printed and compared.
        let mut shapes: HashMap<u64, Vec<Arc<dyn ExecutionPlan>>> = HashMap::new();
        plan.apply(|node| {
            if let Some(shape) = shareable_shape(node) {
                shapes.entry(shape).or_default().push(Arc::clone(node));
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        shapes.retain(|_, nodes| nodes.len() > 1);
        let mut seen: HashMap<String, usize> = HashMap::new();
        for node in shapes.values().flatten() {
            *seen.entry(printed(&Shareable::of(node).whole)).or_default() += 1;
        }
        let mut states: HashMap<String, Arc<SharedState>> = seen
            .into_iter()
            .filter(|(_, copies)| *copies > 1)
            .map(|(text, _)| (text, Arc::new(SharedState::default())))
            .collect();
        if states.is_empty() {
            return Ok(plan);
        }
        // Top down, so the largest repeated subtree is shared and nothing inside it again.
        plan.transform_down(|node| {
            let repeated_shape =
                shareable_shape(&node).is_some_and(|shape| shapes.contains_key(&shape));
            if !repeated_shape {
                return Ok(Transformed::no(node));
            }
            let Shareable { whole, kept } = Shareable::of(&node);
            let Some(state) = states.get_mut(&printed(&whole)) else {
                return Ok(Transformed::no(node));
            };
            let shared: Arc<dyn ExecutionPlan> =
                Arc::new(SharedSubplanExec::new(whole, Arc::clone(state)));
            let copy = match kept {
                None => shared,
                Some(columns) => keep_columns(shared, &columns)?,
            };
            Ok(Transformed::new(copy, true, TreeNodeRecursion::Jump))
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &'static str {
        "tabletalk_shared_subplans"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// DataFusion's physical optimizer rules with [`SharedSubplans`] placed right before the pass that pushes dynamic
/// join filters down (`FilterPushdown(Post)`), so the copies it compares are still alike (or last, should that
/// pass ever be renamed).
pub fn physical_rules_with_shared_subplans() -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
    let mut rules = PhysicalOptimizer::new().rules;
    let position = rules
        .iter()
        .position(|rule| rule.name() == "FilterPushdown(Post)")
        .unwrap_or(rules.len());
    rules.insert(position, Arc::new(SharedSubplans));
    rules
}

/// For a join or an aggregate with file scans below it, and no other kind of source — work worth doing once (a bare
/// scan is not: keeping it would hold a whole table in memory to save one decode), whose printed form names its
/// inputs (a file scan prints its paths; an in-memory source only its sizes, so two of them could print alike) —
/// a hash of its operators' names and fan-outs in order: subtrees that print alike have the same.
fn shareable_shape(node: &Arc<dyn ExecutionPlan>) -> Option<u64> {
    let heavy = node.downcast_ref::<AggregateExec>().is_some()
        || node.downcast_ref::<HashJoinExec>().is_some();
    if !heavy {
        return None;
    }
    let mut shape = DefaultHasher::new();
    let mut file_scans = 0_usize;
    let mut other_sources = 0_usize;
    let _ = node.apply(|n| {
        n.name().hash(&mut shape);
        n.children().len().hash(&mut shape);
        if n.children().is_empty() {
            if is_file_scan(n) {
                file_scans += 1;
            } else {
                other_sources += 1;
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    (file_scans > 0 && other_sources == 0).then(|| shape.finish())
}

/// Whether `node` scans files (not an in-memory or other source).
pub(crate) fn is_file_scan(node: &Arc<dyn ExecutionPlan>) -> bool {
    node.downcast_ref::<DataSourceExec>().is_some_and(|scan| {
        scan.data_source()
            .downcast_ref::<FileScanConfig>()
            .is_some()
    })
}

/// What a copy shares: the subtree itself, or for a join that keeps only some of its columns (its own projection)
/// the whole join, the copy keeping its columns above it — copies of one join whose users read different columns
/// (see `repeated_joins`) then share it.
struct Shareable {
    whole: Arc<dyn ExecutionPlan>,
    kept: Option<Vec<usize>>,
}

impl Shareable {
    fn of(node: &Arc<dyn ExecutionPlan>) -> Self {
        let unprojected = node.downcast_ref::<HashJoinExec>().and_then(|join| {
            let kept: Vec<usize> = join.projection.as_ref()?.iter().copied().collect();
            let whole = join.builder().with_projection(None).build().ok()?;
            Some(Self {
                whole: Arc::new(whole),
                kept: Some(kept),
            })
        });
        unprojected.unwrap_or_else(|| Self {
            whole: Arc::clone(node),
            kept: None,
        })
    }
}

/// `columns` of `input`, by position, under their own names.
fn keep_columns(
    input: Arc<dyn ExecutionPlan>,
    columns: &[usize],
) -> Result<Arc<dyn ExecutionPlan>> {
    let schema = input.schema();
    let expressions: Vec<(Arc<dyn PhysicalExpr>, String)> = columns
        .iter()
        .map(|&index| {
            let name = schema.field(index).name().clone();
            (
                Arc::new(Column::new(&name, index)) as Arc<dyn PhysicalExpr>,
                name,
            )
        })
        .collect();
    Ok(Arc::new(ProjectionExec::try_new(expressions, input)?))
}

/// The subtree as DataFusion prints it, with its partitioning: equal texts compute equal rows.
fn printed(node: &Arc<dyn ExecutionPlan>) -> String {
    format!(
        "{}\n{:?}",
        displayable(node.as_ref()).indent(true),
        node.output_partitioning()
    )
}

/// What the copies of one subplan share: per output partition, where its rows are.
#[derive(Debug, Default)]
struct SharedState {
    partitions: Mutex<HashMap<usize, Slot>>,
}

#[derive(Debug)]
enum Slot {
    /// A copy is streaming this partition and keeping its batches.
    Running,
    /// The partition's batches, kept (and counted against the memory limit) for the copies that run later.
    Done {
        batches: Arc<Vec<RecordBatch>>,
        _reservation: MemoryReservation,
    },
    /// Not kept (too large, failed or abandoned): every copy runs its own input.
    Unshared,
}

impl SharedState {
    fn slot<T>(&self, f: impl FnOnce(&mut HashMap<usize, Slot>) -> T) -> T {
        f(&mut self
            .partitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner))
    }
}

/// One copy of a repeated subplan (see the module's documentation).
#[derive(Debug)]
pub struct SharedSubplanExec {
    input: Arc<dyn ExecutionPlan>,
    state: Arc<SharedState>,
    properties: Arc<PlanProperties>,
}

impl SharedSubplanExec {
    fn new(input: Arc<dyn ExecutionPlan>, state: Arc<SharedState>) -> Self {
        let properties = Arc::clone(input.properties());
        Self {
            input,
            state,
            properties,
        }
    }
}

impl DisplayAs for SharedSubplanExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "SharedSubplanExec")
    }
}

impl ExecutionPlan for SharedSubplanExec {
    fn name(&self) -> &'static str {
        "SharedSubplanExec"
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
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        // No expressions of its own.
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = only_child(children, "SharedSubplanExec")?;
        let properties = passed_through_properties(options, &self.properties, &input);
        Ok(Arc::new(Self {
            input,
            state: Arc::clone(&self.state),
            properties,
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
        enum Plan {
            Replay(Arc<Vec<RecordBatch>>),
            Keep,
            Own,
        }
        let plan = self.state.slot(|slots| match slots.get(&partition) {
            Some(Slot::Done { batches, .. }) => Plan::Replay(Arc::clone(batches)),
            Some(Slot::Running | Slot::Unshared) => Plan::Own,
            None => {
                slots.insert(partition, Slot::Running);
                Plan::Keep
            }
        });
        let schema = self.schema();
        match plan {
            Plan::Replay(batches) => {
                let replay = futures_util::stream::iter(
                    (0..batches.len()).map(move |i| Ok(batches[i].clone())),
                );
                Ok(Box::pin(RecordBatchStreamAdapter::new(schema, replay)))
            }
            Plan::Own => self.input.execute(partition, context),
            Plan::Keep => {
                let input = match self.input.execute(partition, Arc::clone(&context)) {
                    Ok(input) => input,
                    Err(error) => {
                        self.state
                            .slot(|slots| slots.insert(partition, Slot::Unshared));
                        return Err(error);
                    }
                };
                let reservation = MemoryConsumer::new(format!("SharedSubplanExec[{partition}]"))
                    .register(context.memory_pool());
                Ok(Box::pin(KeepingStream {
                    input,
                    schema,
                    partition,
                    state: Arc::clone(&self.state),
                    kept: Some((Vec::new(), reservation)),
                    finished: false,
                }))
            }
        }
    }
}

/// The first copy's stream: passes its input's batches on and keeps them for the others.
struct KeepingStream {
    input: SendableRecordBatchStream,
    schema: SchemaRef,
    partition: usize,
    state: Arc<SharedState>,
    /// `None` once keeping was given up.
    kept: Option<(Vec<RecordBatch>, MemoryReservation)>,
    finished: bool,
}

impl KeepingStream {
    fn give_up(&mut self) {
        self.kept = None;
        let partition = self.partition;
        self.state
            .slot(|slots| slots.insert(partition, Slot::Unshared));
    }
}

impl Stream for KeepingStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.input.poll_next_unpin(cx);
        match &polled {
            Poll::Ready(Some(Ok(batch))) => {
                if let Some((batches, reservation)) = &mut self.kept {
                    if reservation.try_grow(batch.get_array_memory_size()).is_ok() {
                        batches.push(batch.clone());
                    } else {
                        self.give_up();
                    }
                }
            }
            Poll::Ready(Some(Err(_))) => self.give_up(),
            Poll::Ready(None) => {
                self.finished = true;
                if let Some((batches, reservation)) = self.kept.take() {
                    let partition = self.partition;
                    self.state.slot(|slots| {
                        slots.insert(
                            partition,
                            Slot::Done {
                                batches: Arc::new(batches),
                                _reservation: reservation,
                            },
                        )
                    });
                }
            }
            Poll::Pending => {}
        }
        polled
    }
}

impl RecordBatchStream for KeepingStream {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}

impl Drop for KeepingStream {
    fn drop(&mut self) {
        // Abandoned before its end (a limit above, a cancelled query): what was kept is not the whole partition.
        if !self.finished && self.kept.is_some() {
            self.give_up();
        }
    }
}
