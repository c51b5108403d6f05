//! The engine's `LIKE` rule: patterns that Arrow matches with a regular expression (a `_`, or pieces between `%`s)
//! give exactly DataFusion's answers — `NOT LIKE`, nulls, strings, large strings and string views, multibyte
//! characters under `_`, newlines, anchored and open ends, pieces that overlap or repeat — in projections and
//! filters; so does `ILIKE` with an ASCII pattern, over a partition of ASCII text (matched by the rule) and one with
//! other text (handed to DataFusion); the shapes Arrow has kernels for and escapes stay DataFusion's.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use tabletalk_query_engine::engine::LikePatterns;
use tabletalk_tests::plans::{context_with_rules, physical_plan_and_rows};

const VALUES: [Option<&str>; 24] = [
    Some(""),
    Some("a"),
    Some("ab"),
    Some("aXb"),
    Some("aXXb"),
    Some("a\nb"),
    Some("abab"),
    Some("abcabc"),
    Some("Blue Line"),
    Some("Blue_Line"),
    Some("BlueXLine"),
    Some("Blüe Line"),
    Some("Blue"),
    Some("zone_1"),
    Some("zone11"),
    Some("zone 12x"),
    Some("zone_2"),
    Some("日本語テキスト"),
    Some("日x語テキスト"),
    Some("テスト"),
    Some("x%y"),
    Some("é"),
    None,
    Some("trip 10 zone 42"),
];

/// ASCII only, cases mixed: a partition `ILIKE` matches without DataFusion.
const ASCII_VALUES: [Option<&str>; 12] = [
    Some("BLUE LINE"),
    Some("blue_line"),
    Some("Blue Line"),
    Some("ZONE_1"),
    Some("zone 42"),
    Some("Trip 10 Zone 42"),
    Some("A\nb"),
    Some("aXB"),
    Some(""),
    None,
    Some("x%Y"),
    Some("LINE"),
];

/// Three partitions: all the values (ids from 0), the ASCII ones (from 100), all the values again (from 200).
fn context(with_rule: bool) -> SessionContext {
    let batches: Vec<RecordBatch> = [
        VALUES.as_slice(),
        ASCII_VALUES.as_slice(),
        VALUES.as_slice(),
    ]
    .into_iter()
    .zip(0_i64..)
    .map(|(values, part)| {
        let ids = (0..i64::try_from(values.len()).unwrap()).map(|i| part * 100 + i);
        RecordBatch::try_from_iter(vec![
            (
                "id",
                Arc::new(Int64Array::from_iter_values(ids)) as ArrayRef,
            ),
            (
                "s",
                Arc::new(StringArray::from(values.to_vec())) as ArrayRef,
            ),
        ])
        .unwrap()
    })
    .collect();
    let rules = if with_rule {
        vec![Arc::new(LikePatterns) as _]
    } else {
        Vec::new()
    };
    context_with_rules(batches, rules)
}

/// Patterns Arrow matches with a regular expression.
const REGEX_SHAPES: [&str; 22] = [
    "Blue_L%", "_", "__", "a_b", "%a_b%", "a%b", "%a%b%", "a%b%", "%a%b", "a%%b", "ab%ab",
    "%abc%abc", "abc%abc%", "zone_1%", "_one%", "%_", "_%", "%e_", "日_語%", "%テ_ト", "_%_%_",
    "x%%y",
];

/// Patterns Arrow has kernels for, escapes and the empty pattern: left as planned.
const OTHER_SHAPES: [&str; 7] = ["Blue%", "%Line", "%one%", "Blue", "", "%", "zone\\_1%"];

#[tokio::test]
async fn like_patterns_give_datafusions_answers() {
    let datafusion_only = context(false);
    let ours = context(true);
    let mut matched_somewhere = 0;
    for (pattern, taken) in REGEX_SHAPES
        .iter()
        .map(|p| (p, true))
        .chain(OTHER_SHAPES.iter().map(|p| (p, false)))
    {
        let quoted = pattern.replace('\'', "''");
        for sql in [
            format!(
                "SELECT id, s LIKE '{quoted}' AS plain, s NOT LIKE '{quoted}' AS negated, \
                 arrow_cast(s, 'LargeUtf8') LIKE '{quoted}' AS large, \
                 arrow_cast(s, 'Utf8View') NOT LIKE '{quoted}' AS view FROM t ORDER BY id"
            ),
            format!("SELECT id FROM t WHERE s LIKE '{quoted}' ORDER BY id"),
            format!(
                "SELECT count(*) FROM t WHERE arrow_cast(s, 'Utf8View') NOT LIKE '{quoted}' AND id < 250"
            ),
        ] {
            let (plain_plan, expected) = physical_plan_and_rows(&datafusion_only, &sql).await;
            let (plan, rows) = physical_plan_and_rows(&ours, &sql).await;
            assert!(!plain_plan.contains("LikeMatch"), "{plain_plan}");
            assert_eq!(
                plan.contains("LikeMatch("),
                taken,
                "{pattern:?}: taken should be {taken}\n{plan}"
            );
            assert_eq!(rows, expected, "{pattern:?}: {sql}\n{plan}");
        }
        let (_, ids) =
            physical_plan_and_rows(&ours, &format!("SELECT id FROM t WHERE s LIKE '{quoted}'"))
                .await;
        if ids.lines().count() > 4 {
            matched_somewhere += 1;
        }
    }
    // The patterns are not vacuous: most match some rows (and the negated columns cover the rest).
    assert!(matched_somewhere >= 20, "{matched_somewhere}");
}

/// `ILIKE` patterns the rule takes (ASCII, and a shape Arrow's `ILIKE` has no kernel for) and some it leaves.
const ILIKE_SHAPES: [(&str, bool); 10] = [
    ("blue_l%", true),
    ("%ZONE%4_", true),
    ("%line%", true),
    ("%a_B%", true),
    ("z_NE%", true),
    ("x%%y", true),
    ("blue%", false),
    ("%LINE", false),
    ("日_語%", false),
    ("zone\\_1%", false),
];

#[tokio::test]
async fn ilike_patterns_give_datafusions_answers() {
    let datafusion_only = context(false);
    let ours = context(true);
    for (pattern, taken) in ILIKE_SHAPES {
        let quoted = pattern.replace('\'', "''");
        for sql in [
            format!(
                "SELECT id, s ILIKE '{quoted}' AS plain, s NOT ILIKE '{quoted}' AS negated, \
                 arrow_cast(s, 'Utf8View') ILIKE '{quoted}' AS view FROM t ORDER BY id"
            ),
            format!("SELECT id FROM t WHERE s ILIKE '{quoted}' ORDER BY id"),
        ] {
            let (_, expected) = physical_plan_and_rows(&datafusion_only, &sql).await;
            let (plan, rows) = physical_plan_and_rows(&ours, &sql).await;
            assert_eq!(
                plan.contains("LikeMatch("),
                taken,
                "{pattern:?}: taken should be {taken}\n{plan}"
            );
            assert_eq!(rows, expected, "{pattern:?}: {sql}\n{plan}");
        }
    }
    // The ASCII partition (ids 100..) matches in the rule's own path, the others through DataFusion's.
    let (_, ids) =
        physical_plan_and_rows(&ours, "SELECT id FROM t WHERE s ILIKE '%line%' ORDER BY id").await;
    for id in ["| 8   |", "| 100 |", "| 101 |", "| 111 |", "| 208 |"] {
        assert!(ids.contains(id), "{id} missing: {ids}");
    }
}

#[tokio::test]
async fn a_pattern_from_a_column_stays_datafusions() {
    let ours = context(true);
    let sql = "SELECT id FROM t WHERE s LIKE s ORDER BY id";
    let (plan, rows) = physical_plan_and_rows(&ours, sql).await;
    assert!(!plan.contains("LikeMatch"), "{sql}\n{plan}");
    let (_, expected) = physical_plan_and_rows(&context(false), sql).await;
    assert_eq!(rows, expected, "{sql}");
}
