//! `ApiError`: every failure as the JSON body and status of docs/api.md, "Conventions". Domain errors convert with
//! exhaustive matches, so a new variant does not compile until someone picks its status.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{ALLOW, RETRY_AFTER};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Value, json};
use tabletalk_domain::assistants::AssistantError;
use tabletalk_domain::auth::StartSignInError;
use tabletalk_domain::chat::ChatError;
use tabletalk_domain::conversations::SharedViewError;
use tabletalk_domain::datasets::{DatasetError, DatasetUrlError, QueryFailure, QueryFailureKind};
use tabletalk_domain::export::ExportRequestError;
use tabletalk_domain::saved_queries::SavedQueryError;
use tabletalk_domain::transfer::ImportError;
use tabletalk_domain::{
    AuthError, ConversationError, DevLoginError, InvalidInput, LogoutError, SettingsError,
    UsageError,
};
use tabletalk_ports::LoadErrorKind;
use tabletalk_ports::RepositoryError;

/// The JSON error body; the middleware fills in `request_id`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody {
    /// For people.
    pub error: String,
    /// Stable, for programs (docs/api.md, "Errors").
    pub code: &'static str,
    /// Per-field problems for 422, causes and limits elsewhere; `null` when there is nothing to add.
    pub details: Option<Value>,
    pub request_id: Option<String>,
}

/// An API failure: status, stable code, human message, optional details and headers.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Option<Box<Value>>,
    retry_after: Option<u64>,
    allow: Option<String>,
    /// For a 500: what went wrong, with its causes, logged when the response is rendered and never sent.
    cause: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after: None,
            allow: None,
            cause: None,
        }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not found")
    }

    pub fn method_not_allowed(allow: Option<String>) -> Self {
        Self {
            allow,
            ..Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed",
            )
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_authenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "not_authenticated",
            "Not authenticated",
        )
    }

    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Not authorized")
    }

    pub fn origin_not_allowed() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "Requests from this origin are not allowed",
        )
    }

    pub fn conversation_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "conversation_not_found",
            "Conversation not found",
        )
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Content-Type must be application/json",
        )
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("Request body too large (max {limit} bytes)"),
        )
    }

    pub fn invalid_json(line: usize, column: usize) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "Request body is not valid JSON",
        )
        .with_details(json!({"line": line, "column": column}))
    }

    /// 422 with one `{field, message}` entry per problem.
    pub fn validation(problems: &[(&str, &str)]) -> Self {
        let details = problems
            .iter()
            .map(|(field, message)| json!({"field": field, "message": message}))
            .collect();
        let summary = problems.first().map_or_else(
            || "Validation failed".to_owned(),
            |(field, message)| {
                if field.is_empty() {
                    (*message).to_owned()
                } else {
                    format!("{field}: {message}")
                }
            },
        );
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            summary,
        )
        .with_details(Value::Array(details))
    }

    pub fn invalid_referral_key() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_referral_key",
            "Invalid access key",
        )
    }

    pub fn too_many_attempts(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                format!("Too many failed sign-in attempts. Try again in {retry_after_secs} s."),
            )
        }
    }

    /// 503 with one entry per part; `identity_provider` is present only in OIDC mode.
    pub fn not_ready(
        database_ok: bool,
        query_engine_ok: bool,
        identity_provider: Option<Option<String>>,
    ) -> Self {
        let state = |ok: bool| if ok { "ok" } else { "error" };
        let mut details =
            json!({"database": state(database_ok), "query_engine": state(query_engine_ok)});
        if let Some(problem) = identity_provider {
            details["identity_provider"] = json!(state(problem.is_none()));
            if let Some(reason) = problem {
                details["identity_provider_error"] = json!(reason);
            }
        }
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", "Not ready").with_details(details)
    }

    pub fn oidc_not_configured() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "oidc_not_configured",
            "Sign-in with an identity provider is not configured on this server. Use the local access key instead.",
        )
    }

    pub fn oidc_unavailable() -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            "oidc_unavailable",
            "The identity provider is unavailable. Try again shortly.",
        )
    }

    /// An internal error (500): the cause and its sources are kept for the log line written when the response is
    /// rendered, inside the request's span and so with its request id; the client only learns that it failed.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = cause.to_string();
        let mut source = cause.source();
        while let Some(next) = source {
            chain.push_str(": ");
            chain.push_str(&next.to_string());
            source = next.source();
        }
        Self {
            cause: Some(chain),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Internal server error",
            )
        }
    }

    /// A generic body for a status produced outside our handlers (actix's own responses).
    pub(crate) fn for_status(status: StatusCode) -> Self {
        match status.as_u16() {
            404 => Self::not_found(),
            405 => Self::method_not_allowed(None),
            413 => Self::new(status, "payload_too_large", "Request body too large"),
            415 => Self::unsupported_media_type(),
            400 => Self::bad_request("Bad request"),
            401 => Self::not_authenticated(),
            403 => Self::forbidden(),
            422 => Self::validation(&[]),
            _ if status.is_client_error() => {
                Self::bad_request(status.canonical_reason().unwrap_or("Bad request"))
            }
            _ => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Internal server error",
            ),
        }
    }

    pub(crate) fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.message.clone(),
            code: self.code,
            details: self.details.as_deref().cloned(),
            request_id: None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(cause) = &self.cause {
            tracing::error!(error = %cause, code = self.code, "request failed");
        }
        let mut response = HttpResponse::build(self.status);
        if let Some(seconds) = self.retry_after {
            response.insert_header((RETRY_AFTER, seconds.to_string()));
        }
        if let Some(allow) = &self.allow {
            response.insert_header((ALLOW, allow.clone()));
        }
        let body = self.body();
        let mut response = response.json(&body);
        // The middleware re-renders the body from this with the request id.
        response.extensions_mut().insert(body);
        response
    }
}

impl From<RepositoryError> for ApiError {
    fn from(error: RepositoryError) -> Self {
        Self::internal(&error)
    }
}

impl From<ConversationError> for ApiError {
    fn from(error: ConversationError) -> Self {
        match error {
            ConversationError::NotFound => Self::conversation_not_found(),
            ConversationError::Forbidden => Self::forbidden(),
            ConversationError::Storage(e) => e.into(),
            ConversationError::Randomness(e) => Self::internal(&e),
        }
    }
}

impl From<ExportRequestError> for ApiError {
    fn from(error: ExportRequestError) -> Self {
        match error {
            ExportRequestError::Invalid(invalid) => invalid.into(),
            ExportRequestError::RowTooLong(_) => Self::validation(&[("rows", &error.to_string())]),
        }
    }
}

impl From<SavedQueryError> for ApiError {
    fn from(error: SavedQueryError) -> Self {
        let message = error.to_string();
        match error {
            SavedQueryError::NotFound => {
                Self::new(StatusCode::NOT_FOUND, "saved_query_not_found", message)
            }
            SavedQueryError::SharedNotFound => {
                Self::new(StatusCode::NOT_FOUND, "shared_result_not_found", message)
            }
            SavedQueryError::TooMany { retry_after_secs } => Self {
                retry_after: Some(retry_after_secs),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_requests",
                    format!("Too many requests. Try again in {retry_after_secs} seconds."),
                )
            },
            SavedQueryError::Invalid(invalid) => invalid.into(),
            SavedQueryError::Randomness(e) => Self::internal(&e),
            SavedQueryError::Storage(e) => e.into(),
        }
    }
}

impl From<AssistantError> for ApiError {
    fn from(error: AssistantError) -> Self {
        let message = error.to_string();
        match error {
            AssistantError::NotFound => {
                Self::new(StatusCode::NOT_FOUND, "assistant_not_found", message)
            }
            AssistantError::NotOwner => {
                Self::new(StatusCode::FORBIDDEN, "not_assistant_owner", message)
            }
            AssistantError::Invalid { field, message } => {
                Self::validation(&[(field.as_str(), message.as_str())])
            }
            AssistantError::Conversation(e) => e.into(),
            AssistantError::Storage(e) => e.into(),
        }
    }
}

impl From<SettingsError> for ApiError {
    fn from(error: SettingsError) -> Self {
        match error {
            SettingsError::UnknownModel { .. } => {
                Self::validation(&[("selected_model", &error.to_string())])
            }
            SettingsError::UnknownTool(_) => Self::validation(&[("tools", &error.to_string())]),
            SettingsError::Storage(e) => e.into(),
        }
    }
}

impl From<SharedViewError> for ApiError {
    fn from(error: SharedViewError) -> Self {
        match error {
            SharedViewError::NotFound => Self::new(
                StatusCode::NOT_FOUND,
                "shared_conversation_not_found",
                "Shared conversation not found",
            ),
            SharedViewError::TooMany { retry_after_secs } => Self {
                retry_after: Some(retry_after_secs),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_requests",
                    format!("Too many requests. Try again in {retry_after_secs} seconds."),
                )
            },
            SharedViewError::Storage(e) => e.into(),
        }
    }
}

impl From<ImportError> for ApiError {
    fn from(error: ImportError) -> Self {
        match error {
            ImportError::DatasetUrl { index, error } => {
                Self::validation(&[(&format!("datasets[{index}].url"), &error.to_string())])
            }
            ImportError::TooManyDatasets(_) => {
                Self::validation(&[("datasets", &error.to_string())])
            }
            ImportError::Conversation(e) => e.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::NotAuthenticated => Self::not_authenticated(),
            AuthError::Storage(e) => e.into(),
        }
    }
}

impl From<DevLoginError> for ApiError {
    fn from(error: DevLoginError) -> Self {
        match error {
            DevLoginError::NotLocalMode => Self::not_found(),
            DevLoginError::InvalidKey => Self::invalid_referral_key(),
            DevLoginError::TooManyAttempts { retry_after_secs } => {
                Self::too_many_attempts(retry_after_secs)
            }
            e @ DevLoginError::Randomness(_) => Self::internal(&e),
            DevLoginError::Storage(e) => e.into(),
        }
    }
}

impl From<LogoutError> for ApiError {
    fn from(error: LogoutError) -> Self {
        match error {
            LogoutError::Storage(e) => e.into(),
        }
    }
}

impl From<UsageError> for ApiError {
    fn from(error: UsageError) -> Self {
        match error {
            UsageError::Storage(e) => e.into(),
        }
    }
}

impl From<StartSignInError> for ApiError {
    fn from(error: StartSignInError) -> Self {
        match error {
            StartSignInError::Unavailable(reason) => {
                tracing::warn!(%reason, "sign-in could not start: identity provider unavailable");
                Self::oidc_unavailable()
            }
            e @ StartSignInError::Randomness(_) => Self::internal(&e),
            StartSignInError::Storage(e) => e.into(),
        }
    }
}

impl From<DatasetError> for ApiError {
    fn from(error: DatasetError) -> Self {
        let message = error.to_string();
        let plain =
            |status: StatusCode, code: &'static str| Self::new(status, code, message.clone());
        match error {
            DatasetError::ConversationNotFound => Self::conversation_not_found(),
            DatasetError::Forbidden => Self::forbidden(),
            DatasetError::NotFound => plain(StatusCode::NOT_FOUND, "dataset_not_found"),
            DatasetError::Validation { field, message } => Self::validation(&[(field, &message)]),
            DatasetError::Url(url) => {
                let code = match url {
                    DatasetUrlError::UnsupportedScheme(_) => "unsupported_url_scheme",
                    DatasetUrlError::InvalidFormat
                    | DatasetUrlError::NoHost
                    | DatasetUrlError::Credentials
                    | DatasetUrlError::TooLong => "invalid_url",
                };
                plain(StatusCode::BAD_REQUEST, code)
            }
            DatasetError::Exists => plain(StatusCode::CONFLICT, "dataset_exists"),
            DatasetError::NameTaken(_) => plain(StatusCode::CONFLICT, "dataset_name_taken"),
            DatasetError::LimitReached(_) => {
                plain(StatusCode::BAD_REQUEST, "dataset_limit_reached")
            }
            DatasetError::UnsupportedUpload => plain(StatusCode::BAD_REQUEST, "unsupported_format"),
            DatasetError::Load(load) => {
                let (status, code) = match load.kind {
                    LoadErrorKind::Storage => return Self::internal(&load),
                    LoadErrorKind::UploadTooLarge => {
                        (StatusCode::PAYLOAD_TOO_LARGE, "upload_too_large")
                    }
                    LoadErrorKind::Changed => (StatusCode::CONFLICT, "dataset_changed"),
                    LoadErrorKind::InvalidUrl => (StatusCode::BAD_REQUEST, "invalid_url"),
                    LoadErrorKind::UnsupportedScheme => {
                        (StatusCode::BAD_REQUEST, "unsupported_url_scheme")
                    }
                    LoadErrorKind::Blocked => (StatusCode::BAD_REQUEST, "url_blocked"),
                    LoadErrorKind::Unreachable => (StatusCode::BAD_REQUEST, "url_unreachable"),
                    LoadErrorKind::FileTooLarge => (StatusCode::BAD_REQUEST, "file_too_large"),
                    LoadErrorKind::UnsupportedFormat => {
                        (StatusCode::BAD_REQUEST, "unsupported_format")
                    }
                    LoadErrorKind::InvalidFile => (StatusCode::BAD_REQUEST, "invalid_file"),
                    LoadErrorKind::SchemaExtraction => {
                        (StatusCode::BAD_REQUEST, "schema_extraction_failed")
                    }
                };
                plain(status, code)
            }
            DatasetError::NotReady => plain(StatusCode::CONFLICT, "dataset_not_ready"),
            DatasetError::ColumnNotFound(_) => plain(StatusCode::BAD_REQUEST, "column_not_found"),
            DatasetError::SampleColumnRequired => {
                plain(StatusCode::BAD_REQUEST, "sample_column_required")
            }
            DatasetError::NoDatasets => plain(StatusCode::BAD_REQUEST, "no_datasets"),
            DatasetError::HistoryEntryNotFound => {
                plain(StatusCode::NOT_FOUND, "history_entry_not_found")
            }
            DatasetError::Query(failure) => failure.into(),
            DatasetError::Storage(e) => e.into(),
        }
    }
}

impl From<InvalidInput> for ApiError {
    fn from(error: InvalidInput) -> Self {
        Self::validation(&[(error.field, error.message)])
    }
}

impl From<QueryFailure> for ApiError {
    fn from(failure: QueryFailure) -> Self {
        let (status, code) = match failure.kind {
            QueryFailureKind::Refused => (StatusCode::BAD_REQUEST, "sql_error"),
            QueryFailureKind::NotReadOnly => (StatusCode::BAD_REQUEST, "read_only_violation"),
            QueryFailureKind::Timeout => (StatusCode::BAD_REQUEST, "query_timeout"),
            QueryFailureKind::MemoryExceeded => (StatusCode::BAD_REQUEST, "query_memory_exceeded"),
            QueryFailureKind::Busy => (StatusCode::SERVICE_UNAVAILABLE, "server_busy"),
            QueryFailureKind::DatasetUnavailable => {
                (StatusCode::BAD_GATEWAY, "dataset_unavailable")
            }
            QueryFailureKind::DatasetChanged => (StatusCode::CONFLICT, "dataset_changed"),
            // A 500 never carries internal text.
            QueryFailureKind::Internal => {
                return Self {
                    cause: Some(format!(
                        "query engine failure: {}",
                        failure.raw.as_deref().unwrap_or_default()
                    )),
                    ..Self::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal_error",
                        "Internal server error",
                    )
                };
            }
        };
        let mut api = Self::new(status, code, failure.message);
        if let Some(raw) = failure.raw {
            api = api.with_details(json!({ "raw": raw }));
        }
        if failure.kind == QueryFailureKind::Busy {
            api.retry_after = Some(2);
        }
        api
    }
}

/// `Daily token limit reached. Try again in <H> h <M> min.` (or `<M> min` under an hour).
fn budget_message(seconds: u64) -> String {
    let minutes = seconds.div_ceil(60);
    if minutes >= 60 {
        format!(
            "Daily token limit reached. Try again in {} h {} min.",
            minutes / 60,
            minutes % 60
        )
    } else {
        format!("Daily token limit reached. Try again in {minutes} min.")
    }
}

impl From<ChatError> for ApiError {
    fn from(error: ChatError) -> Self {
        let message = error.to_string();
        match error {
            ChatError::Conversation(e) => e.into(),
            ChatError::NotConfigured => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "llm_not_configured",
                message,
            ),
            ChatError::TurnInProgress => {
                Self::new(StatusCode::CONFLICT, "turn_in_progress", message)
            }
            ChatError::MessageNotFound => {
                Self::new(StatusCode::NOT_FOUND, "message_not_found", message)
            }
            ChatError::NoDatasets => Self::new(StatusCode::BAD_REQUEST, "no_datasets", message),
            ChatError::ProviderUnavailable { details } => {
                let mut api =
                    Self::new(StatusCode::SERVICE_UNAVAILABLE, "llm_unavailable", message)
                        .with_details(json!({ "cause": details }));
                api.retry_after = Some(30);
                api
            }
            ChatError::ProviderFailed(_) => {
                Self::new(StatusCode::BAD_GATEWAY, "llm_error", message)
            }
            ChatError::NotAssistantMessage => {
                Self::new(StatusCode::BAD_REQUEST, "not_assistant_message", message)
            }
            ChatError::NoPrecedingUserMessage => Self::new(
                StatusCode::BAD_REQUEST,
                "no_preceding_user_message",
                message,
            ),
            ChatError::Busy => {
                let mut api = Self::new(StatusCode::SERVICE_UNAVAILABLE, "server_busy", message);
                api.retry_after = Some(2);
                api
            }
            ChatError::BudgetExceeded(status) => {
                let mut api = Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "token_budget_exceeded",
                    budget_message(status.resets_in_seconds),
                )
                .with_details(json!({
                    "resets_in_seconds": status.resets_in_seconds,
                    "tokens_used": status.tokens_used,
                    "token_limit": status.token_limit,
                }));
                api.retry_after = Some(status.resets_in_seconds.max(1));
                api
            }
            ChatError::Storage(e) => e.into(),
        }
    }
}
