//! Uploading a dataset: a multipart body streamed to a staging file chunk by chunk — never held whole in memory
//! (docs/api.md, "Datasets"). The handler only reads parts; the rules are the dataset service's.

use actix_multipart::Multipart;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use tabletalk_domain::datasets::StagedDatasetUpload;
use tabletalk_ports::ConversationId;

use super::created;
use crate::extract::{CurrentUser, conversation_id};
use crate::{ApiError, ApiState};

/// The `name` text part is small; anything longer is refused.
const MAX_NAME_PART: usize = 1024;

fn upload_too_large(max: u64) -> ApiError {
    ApiError::from(tabletalk_domain::datasets::DatasetError::Load(
        tabletalk_ports::LoadError::new(
            tabletalk_ports::LoadErrorKind::UploadTooLarge,
            format!("File too large (max {} MB)", max / 1_048_576),
        ),
    ))
}

async fn read_name(field: &mut actix_multipart::Field) -> Result<String, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|e| malformed(&e))?;
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_NAME_PART {
            return Err(ApiError::validation(&[(
                "name",
                "must be at most 63 characters",
            )]));
        }
    }
    String::from_utf8(bytes).map_err(|_| ApiError::validation(&[("name", "must be text")]))
}

/// The multipart form of an upload.
#[derive(utoipa::ToSchema)]
#[expect(
    dead_code,
    reason = "documents the multipart body, which is streamed part by part"
)]
struct UploadForm {
    /// The file: `.parquet`, `.csv`, `.tsv`, `.csv.gz` or `.ndjson`, at most `datasets.max_upload_bytes`.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// The table name; from the file name when absent.
    name: Option<String>,
}

#[utoipa::path(
    post,
    path = "/conversations/{conversation_id}/datasets/upload",
    tag = "datasets",
    summary = "Upload a file as a dataset (multipart, streamed to disk)",
    params(("conversation_id" = String, Path, description = "The conversation's id")),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = super::CreatedDatasetDto)),
    security(("session" = []))
)]
pub(crate) async fn upload(
    user: CurrentUser,
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<ApiState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let is_multipart = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_lowercase().starts_with("multipart/form-data"));
    if !is_multipart {
        return Err(ApiError::unsupported_media_type());
    }
    let max_body = state.settings.max_upload_body;
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max_body) {
        return Err(upload_too_large(max_body.saturating_sub(64 * 1024)));
    }
    let conversation = conversation_id(&path)?;
    let mut multipart = Multipart::new(req.headers(), payload);
    let mut name: Option<String> = None;
    let mut staged: Option<StagedDatasetUpload> = None;
    let read = read_parts(
        &mut multipart,
        &state,
        &user,
        conversation,
        &mut name,
        &mut staged,
    )
    .await;
    if let Err(error) = read {
        if let Some(staged) = staged {
            state.datasets.discard_staged(staged).await;
        }
        return Err(error);
    }
    let Some(staged) = staged else {
        return Err(ApiError::validation(&[("file", "is required")]));
    };
    let dataset = state.datasets.finish_upload(staged, name).await?;
    Ok(created(&dataset))
}

fn malformed(error: &actix_multipart::MultipartError) -> ApiError {
    ApiError::bad_request(format!("Malformed multipart body: {error}"))
}

/// Reads every part: the `name` text, the `file` (streamed into a staging file as it arrives, after the checks
/// that need no content), anything else read and ignored.
async fn read_parts(
    multipart: &mut Multipart,
    state: &ApiState,
    user: &CurrentUser,
    conversation: ConversationId,
    name: &mut Option<String>,
    staged: &mut Option<StagedDatasetUpload>,
) -> Result<(), ApiError> {
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(|e| malformed(&e))?;
        let field_name = field.name().unwrap_or_default().to_owned();
        match field_name.as_str() {
            "name" => {
                let text = read_name(&mut field).await?;
                *name = Some(text).filter(|t| !t.is_empty());
            }
            "file" if staged.is_none() => {
                let file_name = field
                    .content_disposition()
                    .and_then(|d| d.get_filename())
                    .unwrap_or_default()
                    .to_owned();
                let mut pending = state
                    .datasets
                    .begin_upload(user.user.id, conversation, &file_name, name.as_deref())
                    .await?;
                while let Some(chunk) = field.next().await {
                    pending.write(&chunk.map_err(|e| malformed(&e))?).await?;
                }
                *staged = Some(pending.staged().await?);
            }
            _ => {
                // Unknown parts are read and ignored.
                while let Some(chunk) = field.next().await {
                    chunk.map_err(|e| malformed(&e))?;
                }
            }
        }
    }
    Ok(())
}
