//! Short multi-column group keys: `ShortKeyGroupValues` gives every row the group whose emitted key is the row's
//! own, numbers groups as first seen, and finds the same distinct keys as DataFusion's own group values — nulls
//! apart from empty strings and zeros, negative integers and dates, strings of exactly twelve bytes, a partial emit
//! renumbering the rest — rows a mask drops getting no group and making none, and a batch with a longer string,
//! or one past the most groups it keeps, hands over to DataFusion's group values without a group changing its id.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryViewArray, Date32Array, Int64Array, StringViewArray,
};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::logical_expr::EmitTo;
use datafusion::physical_plan::aggregates::group_values::{GroupValues, new_group_values};
use datafusion::physical_plan::aggregates::order::GroupOrdering;
use tabletalk_query_engine::engine::ShortKeyGroupValues;

/// The values the string columns take: empty, one letter, twelve bytes (the longest a view holds whole), a null.
const SHORT: [Option<&str>; 6] = [
    Some(""),
    Some("A"),
    Some("N"),
    Some("R"),
    Some("twelve bytes"),
    None,
];

fn schema(width: usize) -> SchemaRef {
    let fields = [
        Field::new("flag", DataType::Utf8View, true),
        Field::new("amount", DataType::Int64, true),
        Field::new("day", DataType::Date32, true),
        Field::new("code", DataType::BinaryView, true),
    ];
    Arc::new(Schema::new(fields[..width].to_vec()))
}

/// `rows` rows from `first`, the first `width` columns; `long` puts a 13-byte string in every seventh row's flag.
fn batch(first: usize, rows: usize, width: usize, long: bool) -> Vec<ArrayRef> {
    let ids = first..first + rows;
    let flag: StringViewArray = ids
        .clone()
        .map(|i| {
            if long && i % 7 == 0 {
                Some("thirteen byte")
            } else {
                SHORT[i % SHORT.len()]
            }
        })
        .collect();
    // A null, zero and negative values, so a null is told from 0 and sign extension shows.
    let amount: Int64Array = ids
        .clone()
        .map(|i| (i % 5 != 0).then(|| i64::try_from(i % 37).unwrap() - 18))
        .collect();
    let day: Date32Array = ids
        .clone()
        .map(|i| (i % 11 != 3).then(|| i32::try_from(i % 3).unwrap() * -365))
        .collect();
    let code: BinaryViewArray = ids
        .map(|i| (i % 9 != 0).then(|| if i % 2 == 0 { &b"\0"[..] } else { &b""[..] }))
        .collect();
    let columns: [ArrayRef; 4] = [
        Arc::new(flag),
        Arc::new(amount),
        Arc::new(day),
        Arc::new(code),
    ];
    columns[..width].to_vec()
}

/// Row `row` of `columns` as text, a null told apart from every value.
fn key(columns: &[ArrayRef], row: usize) -> String {
    columns
        .iter()
        .map(|column| {
            if column.is_null(row) {
                "∅".to_owned()
            } else {
                format!("<{}>", array_value_to_string(column, row).unwrap())
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Every row of `arrays` as text.
fn keys(arrays: &[ArrayRef]) -> Vec<String> {
    (0..arrays[0].len()).map(|row| key(arrays, row)).collect()
}

/// Interns `batches` into `groups`: the ids of each batch's rows.
fn intern(groups: &mut dyn GroupValues, batches: &[Vec<ArrayRef>]) -> Vec<Vec<usize>> {
    batches
        .iter()
        .map(|columns| {
            let mut ids = Vec::new();
            groups.intern(columns, &mut ids).unwrap();
            assert_eq!(ids.len(), columns[0].len());
            ids
        })
        .collect()
}

/// Each row's group emitted with the row's own key; with `first_seen`, groups numbered as their keys were first
/// seen (DataFusion's group values, once handed over to, number their own way).
fn assert_rows_in_their_groups(
    batches: &[Vec<ArrayRef>],
    ids: &[Vec<usize>],
    emitted: &[String],
    first_seen: bool,
) {
    let mut next = 0;
    for (columns, ids) in batches.iter().zip(ids) {
        for (row, id) in ids.iter().enumerate() {
            assert_eq!(emitted[*id], key(columns, row), "row {row} in group {id}");
            assert!(
                !first_seen || *id <= next,
                "group {id} numbered before group {next}"
            );
            next = next.max(id + 1);
        }
    }
}

fn sorted(mut keys: Vec<String>) -> Vec<String> {
    keys.sort();
    keys
}

/// Our group values and DataFusion's over the same batches: every row in its own key's group, the same keys.
fn check_against_datafusion(width: usize, batches: &[Vec<ArrayRef>]) -> ShortKeyGroupValues {
    let mut ours = ShortKeyGroupValues::new(schema(width)).expect("short columns are taken");
    let mut theirs = new_group_values(schema(width), &GroupOrdering::None).unwrap();
    let ids = intern(&mut ours, batches);
    intern(theirs.as_mut(), batches);
    assert_eq!(ours.len(), theirs.len());
    let fell_back = ours.fell_back();
    let emitted = keys(&ours.emit(EmitTo::All).unwrap());
    assert_rows_in_their_groups(batches, &ids, &emitted, !fell_back);
    assert_eq!(
        sorted(emitted),
        sorted(keys(&theirs.emit(EmitTo::All).unwrap()))
    );
    assert!(ours.is_empty());
    ours
}

#[test]
fn every_row_lands_in_the_group_of_its_own_key() {
    for width in 2..=4 {
        let batches: Vec<_> = [0, 1_000, 2_500]
            .into_iter()
            .map(|start| batch(start, 1_000, width, false))
            .collect();
        let ours = check_against_datafusion(width, &batches);
        assert!(!ours.fell_back());
    }
    // Enough groups to grow the table past its first 64 slots several times.
    let batches = vec![batch(0, 3_000, 2, false)];
    let mut ours = ShortKeyGroupValues::new(schema(2)).unwrap();
    intern(&mut ours, &batches);
    assert!(ours.len() > 200, "{}", ours.len());
}

#[test]
fn a_partial_emit_renumbers_the_groups_left() {
    let mut ours = ShortKeyGroupValues::new(schema(3)).unwrap();
    let first = vec![batch(0, 500, 3, false)];
    intern(&mut ours, &first);
    let before = ours.len();
    // The first seven groups are the first seven distinct keys in row order.
    let mut first_seen: Vec<String> = Vec::new();
    for row in 0..500 {
        let key = key(&first[0], row);
        if !first_seen.contains(&key) {
            first_seen.push(key);
        }
    }
    assert_eq!(keys(&ours.emit(EmitTo::First(7)).unwrap()), first_seen[..7]);
    assert_eq!(ours.len(), before - 7);
    // The groups left keep their keys under ids from zero; new keys come after them.
    let second = vec![batch(300, 900, 3, false)];
    let ids = intern(&mut ours, &second);
    let emitted = keys(&ours.emit(EmitTo::All).unwrap());
    assert_eq!(emitted[..before - 7], first_seen[7..]);
    for (row, id) in ids[0].iter().enumerate() {
        assert_eq!(emitted[*id], key(&second[0], row));
    }
}

#[test]
fn a_longer_string_hands_the_groups_over_unchanged() {
    for width in 2..=4 {
        let batches = vec![
            batch(0, 400, width, false),
            batch(400, 400, width, true),
            batch(800, 400, width, false),
        ];
        let ours = check_against_datafusion(width, &batches);
        assert!(ours.fell_back());
    }
}

#[test]
fn many_groups_are_handed_over_in_order() {
    // 40,000 distinct amounts (beyond the 32,768 groups kept), then old and new keys, nulls among them.
    let rows = |from: i64, to: i64| -> Vec<ArrayRef> {
        let flag: StringViewArray = (from..to)
            .map(|i| (i % 1_000 != 7).then_some("A"))
            .collect();
        let amount: Int64Array = (from..to).map(|i| (i % 999 != 5).then_some(i)).collect();
        vec![Arc::new(flag), Arc::new(amount)]
    };
    let batches = vec![rows(0, 40_000), rows(30_000, 50_000), rows(45_000, 46_000)];
    let ours = check_against_datafusion(2, &batches);
    assert!(ours.fell_back());
}

#[test]
fn rows_a_mask_drops_make_no_group() {
    // Every third row dropped; the flag `R` only on dropped rows; the second batch's kept rows with a 13-byte string.
    let drop = |row: usize| row.is_multiple_of(3);
    let batches = [batch(0, 600, 2, false), batch(600, 600, 2, true)];
    let mut ours = ShortKeyGroupValues::new(schema(2)).unwrap();
    let mut all_ids = Vec::new();
    let mut kept_keys = Vec::new();
    for (b, columns) in batches.iter().enumerate() {
        let flag = columns[0].as_string_view();
        let moved: StringViewArray = (0..600)
            .map(|row| {
                let value = flag.is_valid(row).then(|| flag.value(row));
                if drop(row) {
                    Some(if b == 0 { "R" } else { "thirteen byte" })
                } else {
                    value.filter(|v| *v != "R")
                }
            })
            .collect();
        let columns = vec![Arc::new(moved) as ArrayRef, Arc::clone(&columns[1])];
        let kept: BooleanBuffer = (0..600).map(|row| !drop(row)).collect();
        let mut ids = Vec::new();
        ours.intern_kept(&columns, Some(&kept), &mut ids).unwrap();
        for (row, id) in ids.iter().enumerate() {
            if drop(row) {
                assert_eq!(*id, ShortKeyGroupValues::DROPPED, "row {row}");
            } else {
                kept_keys.push(key(&columns, row));
                all_ids.push(*id);
            }
        }
        // The long string among kept rows sends the groups over, unchanged.
        assert_eq!(ours.fell_back(), b == 1);
    }
    let emitted = keys(&ours.emit(EmitTo::All).unwrap());
    for (kept, id) in kept_keys.iter().zip(&all_ids) {
        assert_eq!(&emitted[*id], kept);
    }
    assert_eq!(sorted(emitted.clone()).len(), {
        let mut distinct = sorted(kept_keys.clone());
        distinct.dedup();
        distinct.len()
    });
    assert!(emitted.iter().all(|k| !k.starts_with("<R>")), "{emitted:?}");
}

#[test]
fn only_keys_of_short_columns_are_taken() {
    let wide = Schema::new(vec![
        Field::new("flag", DataType::Utf8View, true),
        Field::new("name", DataType::Utf8, true),
    ]);
    assert!(ShortKeyGroupValues::new(Arc::new(wide)).is_none());
    // One column: DataFusion's single-column maps are as fast.
    assert!(ShortKeyGroupValues::new(schema(1)).is_none());
}
