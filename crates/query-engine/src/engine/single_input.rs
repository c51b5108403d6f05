//! What every single-input operator of ours does alike in DataFusion's `ExecutionPlan`: visit its expressions,
//! take its one new input, and rebuild with recomputed properties (its input's, for one that passes rows through).

use std::sync::Arc;

use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Result, internal_err};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, ExecutionPlan, PlanProperties, ReplaceChildrenOptions,
};

/// Calls `f` on each expression until it asks to stop: the body of `ExecutionPlan::apply_expressions`.
pub(crate) fn visit_expressions(
    expressions: impl IntoIterator<Item = Arc<dyn PhysicalExpr>>,
    f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
) -> Result<TreeNodeRecursion> {
    for expr in expressions {
        if f(&expr)? == TreeNodeRecursion::Stop {
            return Ok(TreeNodeRecursion::Stop);
        }
    }
    Ok(TreeNodeRecursion::Continue)
}

/// The one input among `children` of the operator `name`.
pub(crate) fn only_child(
    mut children: Vec<Arc<dyn ExecutionPlan>>,
    name: &str,
) -> Result<Arc<dyn ExecutionPlan>> {
    if children.len() != 1 {
        return internal_err!("{name} has exactly one input");
    }
    Ok(children.swap_remove(0))
}

/// Rebuilding with a new input: properties worked out again (what `with_new_children` means).
pub(crate) fn recompute() -> ReplaceChildrenOptions {
    ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute)
}

/// The properties after a new input, for an operator that passes its input's rows on in order (fewer of them, or
/// the same again): its own when asked to keep them, else its input's — order, partitioning and constants hold.
pub(crate) fn passed_through_properties(
    options: ReplaceChildrenOptions,
    own: &Arc<PlanProperties>,
    input: &Arc<dyn ExecutionPlan>,
) -> Arc<PlanProperties> {
    match options.children_properties {
        ChildrenPropertiesMode::Keep => Arc::clone(own),
        ChildrenPropertiesMode::Recompute => Arc::clone(input.properties()),
    }
}
