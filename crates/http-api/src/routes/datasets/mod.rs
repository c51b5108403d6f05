//! Dataset endpoints: add, upload, rename, refresh, delete, profile, preview and describe datasets (docs/api.md,
//! "Datasets"). The pipelines and their rules live in the domain's `DatasetService`.

pub(crate) mod upload;

use std::collections::BTreeMap;

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tabletalk_domain::datasets::PreviewRequest;

use crate::dto::{ColumnDto, DatasetDto, columns, profiles_json, statistics_json};
use crate::openapi::Success;
use tabletalk_ports::{ConversationId, Dataset, DatasetId};

use super::resource;
use crate::extract::{ApiJson, CurrentUser, QueryParams, conversation_id};
use crate::{ApiError, ApiState};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    let base = "/conversations/{conversation_id}/datasets";
    cfg.service(resource(base, &[Method::POST]).route(web::post().to(add)));
    cfg.service(
        resource(&format!("{base}/upload"), &[Method::POST]).route(web::post().to(upload::upload)),
    );
    cfg.service(
        resource(
            &format!("{base}/{{dataset_id}}"),
            &[Method::PATCH, Method::DELETE],
        )
        .route(web::patch().to(rename))
        .route(web::delete().to(delete)),
    );
    cfg.service(
        resource(&format!("{base}/{{dataset_id}}/refresh"), &[Method::POST])
            .route(web::post().to(refresh)),
    );
    cfg.service(
        resource(&format!("{base}/{{dataset_id}}/profile"), &[Method::POST])
            .route(web::post().to(profile)),
    );
    cfg.service(
        resource(
            &format!("{base}/{{dataset_id}}/profile-column"),
            &[Method::POST],
        )
        .route(web::post().to(profile_column)),
    );
    cfg.service(
        resource(&format!("{base}/{{dataset_id}}/preview"), &[Method::POST])
            .route(web::post().to(preview)),
    );
    cfg.service(
        resource(
            &format!("{base}/{{dataset_id}}/column-descriptions"),
            &[Method::GET, Method::PATCH],
        )
        .route(web::get().to(descriptions))
        .route(web::patch().to(set_descriptions)),
    );
}

/// Conversation and dataset ids from the path; a malformed dataset id answers like an unknown one (after the
/// conversation checks, which the service makes first).
fn ids(path: &(String, String)) -> Result<(ConversationId, DatasetId), ApiError> {
    let conversation = conversation_id(&path.0)?;
    let dataset = path
        .1
        .parse()
        .unwrap_or_else(|_| DatasetId::from_uuid(uuid::Uuid::nil()));
    Ok((conversation, dataset))
}

/// A dataset added or uploaded.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CreatedDatasetDto {
    dataset_id: String,
    status: &'static str,
    dataset: DatasetDto,
}

pub(super) fn created(dataset: &Dataset) -> HttpResponse {
    HttpResponse::Created().json(CreatedDatasetDto {
        dataset_id: dataset.id.to_string(),
        status: dataset.status.as_str(),
        dataset: DatasetDto::from(dataset),
    })
}

#[derive(Serialize, utoipa::ToSchema)]
struct SchemaDto<'a> {
    columns: Vec<ColumnDto<'a>>,
}

/// A dataset after rename or refresh, in the chatDF client's shape plus the full object.
#[derive(Serialize, utoipa::ToSchema)]
struct DatasetDetailDto<'a> {
    id: String,
    name: &'a str,
    #[serde(rename = "tableName")]
    table_name: &'a str,
    url: &'a str,
    row_count: i64,
    column_count: i64,
    schema: SchemaDto<'a>,
    dataset: DatasetDto,
}

fn detail(dataset: &Dataset) -> HttpResponse {
    HttpResponse::Ok().json(DatasetDetailDto {
        id: dataset.id.to_string(),
        name: &dataset.name,
        table_name: &dataset.name,
        url: &dataset.url,
        row_count: dataset.row_count,
        column_count: dataset.column_count,
        schema: SchemaDto {
            columns: columns(dataset),
        },
        dataset: DatasetDto::from(dataset),
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct AddRequest {
    /// An http(s) URL to a Parquet, CSV, TSV, gzip CSV or NDJSON file (SSRF-guarded).
    url: String,
    #[serde(default)]
    name: Option<String>,
}

#[utoipa::path(
    post,
    path = "/conversations/{conversation_id}/datasets",
    tag = "datasets",
    summary = "Add a dataset by URL (loaded before the answer)",
    params(("conversation_id" = String, Path, description = "The conversation's id")),
    request_body = AddRequest,
    responses((status = 201, body = CreatedDatasetDto)),
    security(("session" = []))
)]
pub(crate) async fn add(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
    body: ApiJson<AddRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let conversation = conversation_id(&path)?;
    let dataset = state
        .datasets
        .add_url(user.user.id, conversation, &body.url, body.name.as_deref())
        .await?;
    Ok(created(&dataset))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct TableRenameRequest {
    /// A SQL identifier, unique in the conversation.
    #[serde(rename = "tableName")]
    table_name: String,
}

#[utoipa::path(
    patch,
    path = "/conversations/{conversation_id}/datasets/{dataset_id}",
    tag = "datasets",
    summary = "Rename the table",
    params(("conversation_id" = String, Path, description = "The conversation's id"), ("dataset_id" = String, Path, description = "A dataset of that conversation")),
    request_body = TableRenameRequest,
    responses((status = 200, body = DatasetDetailDto)),
    security(("session" = []))
)]
pub(crate) async fn rename(
    user: CurrentUser,
    path: web::Path<(String, String)>,
    state: web::Data<ApiState>,
    body: ApiJson<TableRenameRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let (conversation, id) = ids(&path)?;
    let dataset = state
        .datasets
        .rename(user.user.id, conversation, id, &body.table_name)
        .await?;
    Ok(detail(&dataset))
}

#[utoipa::path(
    post,
    path = "/conversations/{conversation_id}/datasets/{dataset_id}/refresh",
    tag = "datasets",
    summary = "Read the source again (remote datasets)",
    params(("conversation_id" = String, Path, description = "The conversation's id"), ("dataset_id" = String, Path, description = "A dataset of that conversation")),
    responses((status = 200, body = DatasetDetailDto)),
    security(("session" = []))
)]
pub(crate) async fn refresh(
    user: CurrentUser,
    path: web::Path<(String, String)>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let (conversation, id) = ids(&path)?;
    let dataset = state
        .datasets
        .refresh(user.user.id, conversation, id)
        .await?;
    Ok(detail(&dataset))
}

#[utoipa::path(
    delete,
    path = "/conversations/{conversation_id}/datasets/{dataset_id}",
    tag = "datasets",
    summary = "Remove a dataset",
    params(("conversation_id" = String, Path, description = "The conversation's id"), ("dataset_id" = String, Path, description = "A dataset of that conversation")),
    responses((status = 200, body = Success)),
    security(("session" = []))
)]
pub(crate) async fn delete(
    user: CurrentUser,
    path: web::Path<(String, String)>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let (conversation, id) = ids(&path)?;
    state
        .datasets
        .delete(user.user.id, conversation, id)
        .await?;
    Ok(HttpResponse::Ok().json(Success::YES))
}

#[derive(Serialize, utoipa::ToSchema)]
struct ProfilesDto {
    /// One profile per column (docs/api.md, "Datasets").
    #[schema(value_type = Vec<Object>)]
    profiles: Vec<Value>,
    sampled_rows: u64,
}

#[utoipa::path(
    post,
    path = "/conversations/{conversation_id}/datasets/{dataset_id}/profile",
    tag = "datasets",
    summary = "Profile every column on a sample",
    params(("conversation_id" = String, Path, description = "The conversation's id"), ("dataset_id" = String, Path, description = "A dataset of that conversation")),
    responses((status = 200, body = ProfilesDto)),
    security(("session" = []))
)]
pub(crate) async fn profile(
    user: CurrentUser,
    path: web::Path<(String, String)>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let (conversation, id) = ids(&path)?;
    let profiles = state
        .datasets
        .profile(user.user.id, conversation, id)
        .await?;
    Ok(HttpResponse::Ok().json(ProfilesDto {
        profiles: profiles_json(&profiles.profiles),
        sampled_rows: profiles.sampled_rows,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct ProfileColumnRequest {
    column_name: String,
    #[serde(default)]
    #[allow(
        dead_code,
        reason = "accepted for compatibility and ignored: the stored schema decides"
    )]
    column_type: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ColumnProfileDto {
    /// The column's statistics (docs/api.md, "Datasets").
    #[schema(value_type = Object)]
    stats: Value,
    sampled_rows: u64,
}

#[utoipa::path(
    post,
    path = "/conversations/{conversation_id}/datasets/{dataset_id}/profile-column",
    tag = "datasets",
    summary = "Profile one column",
    params(("conversation_id" = String, Path, description = "The conversation's id"), ("dataset_id" = String, Path, description = "A dataset of that conversation")),
    request_body = ProfileColumnRequest,
    responses((status = 200, body = ColumnProfileDto)),
    security(("session" = []))
)]
pub(crate) async fn profile_column(
    user: CurrentUser,
    path: web::Path<(String, String)>,
    state: web::Data<ApiState>,
    body: ApiJson<ProfileColumnRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let (conversation, id) = ids(&path)?;
    let (column_stats, sampled) = state
        .datasets
        .profile_column(user.user.id, conversation, id, &body.column_name)
        .await?;
    Ok(HttpResponse::Ok().json(ColumnProfileDto {
        stats: statistics_json(&column_stats),
        sampled_rows: sampled,
    }))
}

/// Preview's query parameters, validated by hand so every problem is a 422 naming its parameter.
fn preview_request(req: &HttpRequest) -> Result<PreviewRequest, ApiError> {
    let params = QueryParams::of(req);
    let sample_size = params.number(
        "sample_size",
        10_u64,
        |n| (1..=100).contains(n),
        "must be an integer from 1 to 100",
    )?;
    let random_sample = params.flag("random_sample")?.unwrap_or(false);
    let method = params.get("sample_method").unwrap_or("head").to_owned();
    if !["head", "tail", "random", "stratified", "percentage"].contains(&method.as_str()) {
        return Err(ApiError::validation(&[(
            "sample_method",
            "must be one of head, tail, random, stratified, percentage",
        )]));
    }
    let sample_percentage = params.number(
        "sample_percentage",
        1.0_f64,
        |p| (0.01..=100.0).contains(p),
        "must be a number from 0.01 to 100",
    )?;
    Ok(PreviewRequest {
        sample_size,
        random_sample,
        method,
        sample_column: params
            .get("sample_column")
            .filter(|c| !c.is_empty())
            .map(str::to_owned),
        sample_percentage,
    })
}

#[derive(Serialize, utoipa::ToSchema)]
struct PreviewDto {
    columns: Vec<String>,
    /// Cells as JSON values (docs/api.md, "Result cells").
    rows: Vec<Vec<Value>>,
    total_rows: i64,
    sample_method: String,
}

#[utoipa::path(
    post,
    path = "/conversations/{conversation_id}/datasets/{dataset_id}/preview",
    tag = "datasets",
    summary = "Sample rows: head, tail, random, stratified or a percentage",
    params(("conversation_id" = String, Path, description = "The conversation's id"), ("dataset_id" = String, Path, description = "A dataset of that conversation"), ("sample_size" = Option<u64>, Query, description = "1..100, default 10"), ("random_sample" = Option<bool>, Query, description = "Same as `sample_method=random`"), ("sample_method" = Option<String>, Query, description = "head (default), tail, random, stratified, percentage"), ("sample_column" = Option<String>, Query, description = "For stratified sampling"), ("sample_percentage" = Option<f64>, Query, description = "0.01..100, default 1")),
    responses((status = 200, body = PreviewDto)),
    security(("session" = []))
)]
pub(crate) async fn preview(
    user: CurrentUser,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let request = preview_request(&req)?;
    let (conversation, id) = ids(&path)?;
    let (output, row_count) = state
        .datasets
        .preview(user.user.id, conversation, id, &request)
        .await?;
    let method = if request.random_sample && request.method == "head" {
        "random".to_owned()
    } else {
        request.method
    };
    Ok(HttpResponse::Ok().json(PreviewDto {
        columns: output.columns.iter().map(|c| c.name.clone()).collect(),
        rows: output.rows,
        total_rows: row_count,
        sample_method: method,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct DescriptionsDto {
    /// Column name → description.
    descriptions: BTreeMap<String, String>,
}

#[utoipa::path(
    get,
    path = "/conversations/{conversation_id}/datasets/{dataset_id}/column-descriptions",
    tag = "datasets",
    summary = "The columns' descriptions",
    params(("conversation_id" = String, Path, description = "The conversation's id"), ("dataset_id" = String, Path, description = "A dataset of that conversation")),
    responses((status = 200, body = DescriptionsDto)),
    security(("session" = []))
)]
pub(crate) async fn descriptions(
    user: CurrentUser,
    path: web::Path<(String, String)>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let (conversation, id) = ids(&path)?;
    let descriptions = state
        .datasets
        .descriptions(user.user.id, conversation, id)
        .await?;
    Ok(HttpResponse::Ok().json(DescriptionsDto { descriptions }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct DescriptionsSetDto {
    success: bool,
    descriptions: BTreeMap<String, String>,
}

/// `{descriptions: {column: text}}`: replaces the descriptions given, keeps the others.
#[derive(utoipa::ToSchema)]
#[expect(
    dead_code,
    reason = "documents the body, which is read as JSON to word its errors"
)]
struct DescriptionsUpdate {
    descriptions: BTreeMap<String, String>,
}

#[utoipa::path(
    patch,
    path = "/conversations/{conversation_id}/datasets/{dataset_id}/column-descriptions",
    tag = "datasets",
    summary = "Set columns' descriptions (shown to the model)",
    params(("conversation_id" = String, Path, description = "The conversation's id"), ("dataset_id" = String, Path, description = "A dataset of that conversation")),
    request_body = DescriptionsUpdate,
    responses((status = 200, body = DescriptionsSetDto)),
    security(("session" = []))
)]
pub(crate) async fn set_descriptions(
    user: CurrentUser,
    path: web::Path<(String, String)>,
    state: web::Data<ApiState>,
    body: ApiJson<Value>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let Some(Value::Object(given)) = body.get("descriptions").cloned() else {
        return Err(ApiError::validation(&[(
            "descriptions",
            "descriptions must be an object",
        )]));
    };
    let descriptions: BTreeMap<String, String> = given
        .into_iter()
        .map(|(column, text)| match text {
            Value::String(text) => Ok((column, text)),
            _ => Err(ApiError::validation(&[(
                "descriptions",
                "All keys and values must be strings",
            )])),
        })
        .collect::<Result<_, _>>()?;
    let (conversation, id) = ids(&path)?;
    let kept = state
        .datasets
        .set_descriptions(user.user.id, conversation, id, &descriptions)
        .await?;
    Ok(HttpResponse::Ok().json(DescriptionsSetDto {
        success: true,
        descriptions: kept,
    }))
}
