//! Dataset endpoints: add, upload, rename, refresh, delete, profile, preview and describe datasets (docs/api.md,
//! "Datasets"). The pipelines and their rules live in the domain's `DatasetService`.

mod upload;

use std::collections::BTreeMap;

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use tabletalk_domain::datasets::PreviewRequest;

use crate::dto::{DatasetDto, columns, profiles_json, statistics_json};
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

/// 201 of Add by URL/Upload.
pub(super) fn created(dataset: &Dataset) -> HttpResponse {
    HttpResponse::Created().json(json!({
        "dataset_id": dataset.id.to_string(),
        "status": dataset.status.as_str(),
        "dataset": DatasetDto::from(dataset),
    }))
}

/// The Rename/Refresh shape.
fn detail(dataset: &Dataset) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "id": dataset.id.to_string(),
        "name": dataset.name,
        "tableName": dataset.name,
        "url": dataset.url,
        "row_count": dataset.row_count,
        "column_count": dataset.column_count,
        "schema": {"columns": columns(dataset)},
        "dataset": DatasetDto::from(dataset),
    }))
}

#[derive(Deserialize)]
struct AddRequest {
    url: String,
    #[serde(default)]
    name: Option<String>,
}

async fn add(
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

#[derive(Deserialize)]
struct RenameRequest {
    #[serde(rename = "tableName")]
    table_name: String,
}

async fn rename(
    user: CurrentUser,
    path: web::Path<(String, String)>,
    state: web::Data<ApiState>,
    body: ApiJson<RenameRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let (conversation, id) = ids(&path)?;
    let dataset = state
        .datasets
        .rename(user.user.id, conversation, id, &body.table_name)
        .await?;
    Ok(detail(&dataset))
}

async fn refresh(
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

async fn delete(
    user: CurrentUser,
    path: web::Path<(String, String)>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let (conversation, id) = ids(&path)?;
    state
        .datasets
        .delete(user.user.id, conversation, id)
        .await?;
    Ok(HttpResponse::Ok().json(json!({"success": true})))
}

async fn profile(
    user: CurrentUser,
    path: web::Path<(String, String)>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let (conversation, id) = ids(&path)?;
    let profiles = state
        .datasets
        .profile(user.user.id, conversation, id)
        .await?;
    Ok(HttpResponse::Ok()
        .json(json!({"profiles": profiles_json(&profiles.profiles), "sampled_rows": profiles.sampled_rows})))
}

#[derive(Deserialize)]
struct ProfileColumnRequest {
    column_name: String,
    #[serde(default)]
    #[allow(
        dead_code,
        reason = "accepted for compatibility and ignored: the stored schema decides"
    )]
    column_type: Option<String>,
}

async fn profile_column(
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
    Ok(HttpResponse::Ok()
        .json(json!({"stats": statistics_json(&column_stats), "sampled_rows": sampled})))
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

async fn preview(
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
    Ok(HttpResponse::Ok().json(json!({
        "columns": output.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
        "rows": output.rows,
        "total_rows": row_count,
        "sample_method": method,
    })))
}

async fn descriptions(
    user: CurrentUser,
    path: web::Path<(String, String)>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let (conversation, id) = ids(&path)?;
    let descriptions = state
        .datasets
        .descriptions(user.user.id, conversation, id)
        .await?;
    Ok(HttpResponse::Ok().json(json!({"descriptions": descriptions})))
}

async fn set_descriptions(
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
    Ok(HttpResponse::Ok().json(json!({"success": true, "descriptions": kept})))
}
