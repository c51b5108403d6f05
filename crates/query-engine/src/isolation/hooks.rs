//! Functions that exist only in test builds (feature `test-hooks`), so the suite can make a worker misbehave the
//! ways a real engine bug would: `tabletalk_test_panic()` panics inside an operator, `tabletalk_test_abort()`
//! aborts the process, `tabletalk_test_spin(seconds)` keeps a thread busy inside one poll without yielding.

use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::prelude::SessionContext;

#[expect(
    clippy::panic,
    reason = "the hook's whole purpose is to panic inside the engine"
)]
fn panic_now(_: &[ColumnarValue]) -> datafusion::error::Result<ColumnarValue> {
    panic!("tabletalk_test_panic() was called");
}

fn abort_now(_: &[ColumnarValue]) -> datafusion::error::Result<ColumnarValue> {
    std::process::abort();
}

fn spin(args: &[ColumnarValue]) -> ColumnarValue {
    let seconds = match args.first() {
        Some(ColumnarValue::Scalar(ScalarValue::Int64(Some(s)))) => *s,
        _ => 1,
    };
    let until = Instant::now() + Duration::from_secs(u64::try_from(seconds).unwrap_or(1));
    let mut turns: u64 = 0;
    while Instant::now() < until {
        turns = std::hint::black_box(turns.wrapping_add(1));
    }
    ColumnarValue::Scalar(ScalarValue::Int64(Some(
        i64::try_from(turns % 2).unwrap_or(0),
    )))
}

/// Registers the hooks in one query's context.
pub(crate) fn register(context: &SessionContext) {
    context.register_udf(create_udf(
        "tabletalk_test_panic",
        vec![],
        DataType::Int64,
        Volatility::Volatile,
        Arc::new(panic_now),
    ));
    context.register_udf(create_udf(
        "tabletalk_test_abort",
        vec![],
        DataType::Int64,
        Volatility::Volatile,
        Arc::new(abort_now),
    ));
    context.register_udf(create_udf(
        "tabletalk_test_spin",
        vec![DataType::Int64],
        DataType::Int64,
        Volatility::Volatile,
        Arc::new(|args| Ok(spin(args))),
    ));
}
