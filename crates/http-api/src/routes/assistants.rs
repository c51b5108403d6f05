//! Assistants (docs/api.md, "Assistants"): reusable setups that conversations start from.

use std::collections::BTreeMap;

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Deserializer, Serialize};
use tabletalk_domain::assistants::{AssistantChange, AssistantError, DatasetSpec, Patch};
use tabletalk_ports::{Assistant, AssistantDataset, AssistantId, UserId};

use super::resource;
use crate::extract::{ApiJson, CurrentUser};
use crate::openapi::Success;
use crate::{ApiError, ApiState};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/assistants", &[Method::GET, Method::POST])
            .route(web::get().to(list))
            .route(web::post().to(create)),
    );
    cfg.service(
        resource(
            "/assistants/{id}",
            &[Method::GET, Method::PATCH, Method::DELETE],
        )
        .route(web::get().to(get))
        .route(web::patch().to(update))
        .route(web::delete().to(delete)),
    );
    cfg.service(resource("/assistants/{id}/share", &[Method::PUT]).route(web::put().to(share)));
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub(crate) struct AssistantDatasetDto {
    /// An http(s) URL; loaded through the SSRF guard like any dataset added by URL.
    url: String,
    /// The table name wished for; a taken one becomes the next `table<N>`.
    #[serde(default)]
    name: Option<String>,
    /// People's descriptions of columns, by column name (each ≤ 500 characters).
    #[serde(default)]
    column_descriptions: BTreeMap<String, String>,
}

impl From<&AssistantDataset> for AssistantDatasetDto {
    fn from(d: &AssistantDataset) -> Self {
        Self {
            url: d.url.clone(),
            name: d.name.clone(),
            column_descriptions: d.column_descriptions.clone(),
        }
    }
}

fn specs(datasets: Option<Vec<AssistantDatasetDto>>) -> Option<Vec<DatasetSpec>> {
    datasets.map(|d| d.into_iter().map(DatasetSpec::from).collect())
}

impl From<AssistantDatasetDto> for DatasetSpec {
    fn from(d: AssistantDatasetDto) -> Self {
        Self {
            url: d.url,
            name: d.name,
            column_descriptions: d.column_descriptions,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct AssistantDto {
    id: String,
    name: String,
    description: String,
    instructions: String,
    /// `null`: each user's own model.
    model: Option<String>,
    /// `null`: the provider's default.
    temperature: Option<f64>,
    /// `null`: every tool the user has; otherwise only these (where the user has them).
    tools: Option<Vec<String>>,
    datasets: Vec<AssistantDatasetDto>,
    /// Whether the caller owns it (only the owner may change, share or delete it).
    is_owner: bool,
    is_shared: bool,
    created_at: String,
    updated_at: String,
}

impl AssistantDto {
    fn new(a: &Assistant, caller: UserId) -> Self {
        Self {
            id: a.id.to_string(),
            name: a.name.clone(),
            description: a.description.clone(),
            instructions: a.instructions.clone(),
            model: a.model.clone(),
            temperature: a.temperature.map(tabletalk_ports::Temperature::get),
            tools: a.tools.clone(),
            datasets: a.datasets.iter().map(AssistantDatasetDto::from).collect(),
            is_owner: a.user_id == caller,
            is_shared: a.is_shared,
            created_at: a.created_at.to_string(),
            updated_at: a.updated_at.to_string(),
        }
    }
}

/// A nullable field of a partial update: absent (keep), `null` (clear) or a value (set).
#[derive(Default)]
enum Field<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(deserializer).map(|v| v.map_or(Self::Null, Self::Value))
    }
}

impl<T> From<Field<T>> for Patch<T> {
    fn from(field: Field<T>) -> Self {
        match field {
            Field::Absent => Self::Keep,
            Field::Null => Self::Clear,
            Field::Value(value) => Self::Set(value),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct CreateRequest {
    /// 1..100 characters after trimming.
    name: String,
    /// At most 500 characters.
    #[serde(default)]
    description: Option<String>,
    /// Added to the system prompt of every turn; at most 10,000 characters.
    #[serde(default)]
    instructions: Option<String>,
    /// One of the deployment's models (`GET /capabilities`).
    #[serde(default)]
    model: Option<String>,
    /// 0..2.
    #[serde(default)]
    temperature: Option<f64>,
    /// A subset of the caller's tools (`GET /capabilities`).
    #[serde(default)]
    tools: Option<Vec<String>>,
    /// At most 20 (and at most the datasets a conversation may hold).
    #[serde(default)]
    datasets: Option<Vec<AssistantDatasetDto>>,
}

impl From<CreateRequest> for AssistantChange {
    fn from(r: CreateRequest) -> Self {
        Self {
            name: Some(r.name),
            description: r.description,
            instructions: r.instructions,
            model: r.model.into(),
            temperature: r.temperature.into(),
            tools: r.tools.into(),
            datasets: specs(r.datasets),
        }
    }
}

/// Only the given fields change; `null` clears `model`, `temperature` and `tools`.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct UpdateRequest {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    instructions: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    model: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    temperature: Field<f64>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    tools: Field<Vec<String>>,
    /// Replaces the whole list.
    #[serde(default)]
    datasets: Option<Vec<AssistantDatasetDto>>,
}

impl From<UpdateRequest> for AssistantChange {
    fn from(r: UpdateRequest) -> Self {
        Self {
            name: r.name,
            description: r.description,
            instructions: r.instructions,
            model: r.model.into(),
            temperature: r.temperature.into(),
            tools: r.tools.into(),
            datasets: specs(r.datasets),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct ShareRequest {
    is_shared: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
struct AssistantListDto {
    /// The caller's own and the shared ones, most recently updated first.
    assistants: Vec<AssistantDto>,
}

/// A malformed id names no assistant: it answers like an unknown one.
pub(crate) fn assistant_id(raw: &str) -> Result<AssistantId, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::from(AssistantError::NotFound))
}

#[utoipa::path(
    post,
    path = "/assistants",
    tag = "assistants",
    summary = "Create an assistant",
    request_body = CreateRequest,
    responses((status = 201, body = AssistantDto)),
    security(("session" = []))
)]
pub(crate) async fn create(
    user: CurrentUser,
    state: web::Data<ApiState>,
    body: ApiJson<CreateRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let caller = user.user.id;
    let assistant = state.assistants.create(caller, body.into()).await?;
    Ok(HttpResponse::Created().json(AssistantDto::new(&assistant, caller)))
}

#[utoipa::path(
    get,
    path = "/assistants",
    tag = "assistants",
    summary = "The caller's assistants and those shared in the deployment",
    responses((status = 200, body = AssistantListDto)),
    security(("session" = []))
)]
pub(crate) async fn list(
    user: CurrentUser,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let caller = user.user.id;
    let assistants = state
        .assistants
        .list(caller)
        .await?
        .iter()
        .map(|a| AssistantDto::new(a, caller))
        .collect();
    Ok(HttpResponse::Ok().json(AssistantListDto { assistants }))
}

#[utoipa::path(
    get,
    path = "/assistants/{id}",
    tag = "assistants",
    summary = "One assistant the caller owns or that is shared",
    params(("id" = String, Path, description = "An assistant id")),
    responses((status = 200, body = AssistantDto)),
    security(("session" = []))
)]
pub(crate) async fn get(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let id = assistant_id(&path)?;
    let caller = user.user.id;
    let assistant = state.assistants.get(caller, id).await?;
    Ok(HttpResponse::Ok().json(AssistantDto::new(&assistant, caller)))
}

#[utoipa::path(
    patch,
    path = "/assistants/{id}",
    tag = "assistants",
    summary = "Change an assistant (owner only; the given fields)",
    params(("id" = String, Path, description = "An assistant the caller owns")),
    request_body = UpdateRequest,
    responses((status = 200, body = AssistantDto)),
    security(("session" = []))
)]
pub(crate) async fn update(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
    body: ApiJson<UpdateRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = assistant_id(&path)?;
    let body = body.into_inner()?;
    let caller = user.user.id;
    let assistant = state.assistants.update(caller, id, body.into()).await?;
    Ok(HttpResponse::Ok().json(AssistantDto::new(&assistant, caller)))
}

#[utoipa::path(
    delete,
    path = "/assistants/{id}",
    tag = "assistants",
    summary = "Delete an assistant (owner only); its conversations keep working",
    params(("id" = String, Path, description = "An assistant the caller owns")),
    responses((status = 200, body = Success)),
    security(("session" = []))
)]
pub(crate) async fn delete(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let id = assistant_id(&path)?;
    state.assistants.delete(user.user.id, id).await?;
    Ok(HttpResponse::Ok().json(Success::YES))
}

#[utoipa::path(
    put,
    path = "/assistants/{id}/share",
    tag = "assistants",
    summary = "Share an assistant with every user of the deployment, or stop (owner only)",
    params(("id" = String, Path, description = "An assistant the caller owns")),
    request_body = ShareRequest,
    responses((status = 200, body = AssistantDto)),
    security(("session" = []))
)]
pub(crate) async fn share(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
    body: ApiJson<ShareRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = assistant_id(&path)?;
    let body = body.into_inner()?;
    let caller = user.user.id;
    let assistant = state
        .assistants
        .set_shared(caller, id, body.is_shared)
        .await?;
    Ok(HttpResponse::Ok().json(AssistantDto::new(&assistant, caller)))
}
