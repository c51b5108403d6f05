//! Result export end to end: CSV bytes as RFC 4180 writes them, XLSX cells typed and never formulas, Parquet
//! read back with its inferred types, file names made safe, and the limits.

use std::io::Read;

use datafusion::arrow::array::{Array, BooleanArray, Float64Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use reqwest::Method;
use serde_json::{Value, json};
use tabletalk_tests::{TestApp, json_with_status};

fn body() -> Value {
    json!({
        "columns": ["city", "population", "share", "capital", "note"],
        "rows": [
            ["Zürich", 421_878, 0.5, true, "=1+1"],
            ["Say \"hi\", then\nleave", -3, 2, false, {"a": [1, null]}],
            ["short"]
        ],
        "filename": "Résumé 📈 / Q3*"
    })
}

async fn export(app: &TestApp, format: &str, body: &Value) -> reqwest::Response {
    app.send_json(Method::POST, &format!("/export/{format}"), body)
        .await
}

#[actix_web::test]
async fn csv_is_rfc_4180_with_a_safe_unicode_file_name() {
    let app = TestApp::spawn().await;
    app.login().await;
    let response = export(&app, "csv", &body()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    // Letters (any script), digits, `-`, `_` and spaces stay; the emoji, `/` and `*` go.
    assert_eq!(
        disposition,
        "attachment; filename=\"R_sum_   Q3.csv\"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%20%20Q3.csv"
    );
    let text = response.text().await.unwrap();
    assert_eq!(
        text,
        "city,population,share,capital,note\r\n\
         Zürich,421878,0.5,true,=1+1\r\n\
         \"Say \"\"hi\"\", then\nleave\",-3,2,false,\"{\"\"a\"\":[1,null]}\"\r\n\
         short,,,,\r\n"
    );
    app.stop().await;
}

#[actix_web::test]
async fn xlsx_cells_are_typed_and_never_formulas() {
    let app = TestApp::spawn().await;
    app.login().await;
    let response = export(&app, "xlsx", &body()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let bytes = response.bytes().await.unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut workbook = String::new();
    archive
        .by_name("xl/workbook.xml")
        .unwrap()
        .read_to_string(&mut workbook)
        .unwrap();
    assert!(workbook.contains("name=\"Results\""), "{workbook}");
    let mut sheet = String::new();
    archive
        .by_name("xl/worksheets/sheet1.xml")
        .unwrap()
        .read_to_string(&mut sheet)
        .unwrap();
    assert!(!sheet.contains("<f>"), "no formula anywhere: {sheet}");
    assert!(
        sheet.contains("=1+1"),
        "the formula-looking value is text: {sheet}"
    );
    assert!(
        sheet.contains("<v>421878</v>"),
        "numbers are numbers: {sheet}"
    );
    assert!(sheet.contains("t=\"b\""), "booleans are booleans: {sheet}");
    assert!(sheet.contains("Zürich"));
    assert!(sheet.contains("{&quot;a&quot;:[1,null]}") || sheet.contains("{\"a\":[1,null]}"));
    app.stop().await;
}

#[actix_web::test]
async fn parquet_reads_back_with_inferred_types() {
    let app = TestApp::spawn().await;
    app.login().await;
    let response = export(&app, "parquet", &body()).await;
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<_> = reader.map(Result::unwrap).collect();
    let batch = &batches[0];
    let types: Vec<DataType> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    assert_eq!(
        types,
        [
            DataType::Utf8,
            DataType::Int64,
            DataType::Float64,
            DataType::Boolean,
            DataType::Utf8
        ]
    );
    let population = batch
        .column(1)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    assert_eq!(
        (
            population.value(0),
            population.value(1),
            population.is_null(2)
        ),
        (421_878, -3, true)
    );
    let share = batch
        .column(2)
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    assert!((share.value(1) - 2.0).abs() < f64::EPSILON);
    let capital = batch
        .column(3)
        .as_any()
        .downcast_ref::<BooleanArray>()
        .unwrap();
    assert!(capital.value(0) && !capital.value(1));
    let note = batch
        .column(4)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!((note.value(0), note.value(1)), ("=1+1", "{\"a\":[1,null]}"));
    app.stop().await;
}

#[actix_web::test]
async fn exports_check_their_input_and_need_a_session() {
    let app = TestApp::spawn().await;
    let anonymous = export(&app, "csv", &body()).await;
    assert_eq!(anonymous.status(), 401);
    app.login().await;
    let too_wide = json_with_status(
        export(
            &app,
            "xlsx",
            &json!({"columns": ["a"], "rows": [[1], [1, 2]]}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(
        too_wide["details"][0]["message"],
        "rows[1] has more values than columns"
    );
    for (body, field) in [
        (json!({"columns": [], "rows": []}), "columns"),
        (
            json!({"columns": ["a"], "rows": vec![json!([1]); 100_001]}),
            "rows",
        ),
        (
            json!({"columns": ["a"], "rows": [], "filename": "x".repeat(201)}),
            "filename",
        ),
        (json!({"rows": []}), "columns"),
    ] {
        let refused = json_with_status(export(&app, "csv", &body).await, 422).await;
        assert_eq!(refused["details"][0]["field"], field, "{field}");
    }
    let unnamed = export(
        &app,
        "parquet",
        &json!({"columns": ["a"], "rows": [], "filename": "../../"}),
    )
    .await;
    assert_eq!(
        unnamed.headers()["content-disposition"].to_str().unwrap(),
        "attachment; filename=\"export.parquet\"; filename*=UTF-8''export.parquet"
    );
    let text = app
        .raw(
            Method::POST,
            "/export/csv",
            &[("Content-Type", "text/plain")],
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(text.status(), 415);
    app.stop().await;
}
