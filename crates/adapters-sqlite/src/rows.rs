//! Private row types and their conversion into port records. A row that does not convert is `Corrupt`.

use std::str::FromStr;

use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::{Insertable, Queryable, QueryableByName, Selectable};
use tabletalk_ports::{
    AssistantSetup, Compression, Conversation, ConversationSummary, Dataset, DatasetFormat,
    DatasetSource, DatasetStatus, Message, MessageRole, MessageStatus, RepositoryError, Session,
    Temperature, Timestamp, TokenHash, User,
};

use crate::schema::{conversations, datasets, messages, sessions, users};
use crate::stored_json;

pub(crate) fn corrupt(what: impl std::fmt::Display) -> RepositoryError {
    RepositoryError::Corrupt(what.to_string())
}

pub(crate) fn parse<T: FromStr>(text: &str, column: &str) -> Result<T, RepositoryError>
where
    T::Err: std::fmt::Display,
{
    text.parse::<T>()
        .map_err(|e| corrupt(format!("{column}: {e}")))
}

fn parse_opt<T: FromStr>(text: Option<&str>, column: &str) -> Result<Option<T>, RepositoryError>
where
    T::Err: std::fmt::Display,
{
    text.map(|t| parse(t, column)).transpose()
}

pub(crate) fn enumeration<T>(
    text: &str,
    column: &str,
    read: impl Fn(&str) -> Option<T>,
) -> Result<T, RepositoryError> {
    read(text).ok_or_else(|| corrupt(format!("{column}: unknown value {text:?}")))
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = users, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct UserRow {
    pub id: String,
    pub oidc_issuer: String,
    pub oidc_subject: String,
    pub email: String,
    pub name: String,
    pub avatar_url: Option<String>,
    pub created_at: String,
    pub last_login_at: String,
}

impl TryFrom<UserRow> for User {
    type Error = RepositoryError;

    fn try_from(row: UserRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: parse(&row.id, "users.id")?,
            oidc_issuer: row.oidc_issuer,
            oidc_subject: row.oidc_subject,
            email: row.email,
            name: row.name,
            avatar_url: row.avatar_url,
            created_at: parse(&row.created_at, "users.created_at")?,
            last_login_at: parse(&row.last_login_at, "users.last_login_at")?,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct SessionRow {
    pub id: String,
    pub token_hash: Vec<u8>,
    pub user_id: String,
    pub created_at: String,
    pub expires_at: String,
    pub last_extended_at: String,
}

impl From<&Session> for SessionRow {
    fn from(s: &Session) -> Self {
        Self {
            id: s.id.to_string(),
            token_hash: s.token_hash.0.to_vec(),
            user_id: s.user_id.to_string(),
            created_at: s.created_at.to_string(),
            expires_at: s.expires_at.to_string(),
            last_extended_at: s.last_extended_at.to_string(),
        }
    }
}

impl TryFrom<SessionRow> for Session {
    type Error = RepositoryError;

    fn try_from(row: SessionRow) -> Result<Self, Self::Error> {
        let hash: [u8; 32] = row
            .token_hash
            .try_into()
            .map_err(|_| corrupt("sessions.token_hash: not 32 bytes"))?;
        Ok(Self {
            id: parse(&row.id, "sessions.id")?,
            token_hash: TokenHash(hash),
            user_id: parse(&row.user_id, "sessions.user_id")?,
            created_at: parse(&row.created_at, "sessions.created_at")?,
            expires_at: parse(&row.expires_at, "sessions.expires_at")?,
            last_extended_at: parse(&row.last_extended_at, "sessions.last_extended_at")?,
        })
    }
}

#[derive(Queryable, Selectable, Insertable, QueryableByName)]
#[diesel(table_name = conversations, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct ConversationRow {
    pub id: String,
    pub user_id: String,
    pub title: String,
    pub is_pinned: bool,
    pub next_table_number: i64,
    pub share_token: Option<String>,
    pub shared_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub is_archived: bool,
    pub assistant_id: Option<String>,
    pub assistant_instructions: Option<String>,
    pub assistant_model: Option<String>,
    pub assistant_temperature: Option<f64>,
    pub assistant_tools: Option<String>,
}

impl ConversationRow {
    fn assistant(&self) -> Result<Option<AssistantSetup>, RepositoryError> {
        let Some(id) = &self.assistant_id else {
            return Ok(None);
        };
        Ok(Some(AssistantSetup {
            assistant_id: parse(id, "conversations.assistant_id")?,
            instructions: self.assistant_instructions.clone().unwrap_or_default(),
            model: self.assistant_model.clone(),
            temperature: stored_temperature(
                self.assistant_temperature,
                "conversations.assistant_temperature",
            )?,
            tools: stored_json::tool_names(
                self.assistant_tools.as_deref(),
                "conversations.assistant_tools",
            )?,
        }))
    }
}

/// A stored temperature reads back only when it is one a user could have set.
pub(crate) fn stored_temperature(
    value: Option<f64>,
    column: &str,
) -> Result<Option<Temperature>, RepositoryError> {
    value
        .map(|v| Temperature::new(v).ok_or_else(|| corrupt(format!("{column}: {v} out of range"))))
        .transpose()
}

impl TryFrom<&Conversation> for ConversationRow {
    type Error = RepositoryError;

    fn try_from(c: &Conversation) -> Result<Self, Self::Error> {
        let setup = c.assistant.as_ref();
        Ok(Self {
            id: c.id.to_string(),
            user_id: c.user_id.to_string(),
            title: c.title.clone(),
            is_pinned: c.is_pinned,
            is_archived: c.is_archived,
            next_table_number: c.next_table_number,
            share_token: c.share_token.clone(),
            shared_at: c.shared_at.map(|t| t.to_string()),
            created_at: c.created_at.to_string(),
            updated_at: c.updated_at.to_string(),
            assistant_id: setup.map(|s| s.assistant_id.to_string()),
            assistant_instructions: setup.map(|s| s.instructions.clone()),
            assistant_model: setup.and_then(|s| s.model.clone()),
            assistant_temperature: setup.and_then(|s| s.temperature).map(Temperature::get),
            assistant_tools: stored_json::tool_names_text(setup.and_then(|s| s.tools.as_deref()))?,
        })
    }
}

impl TryFrom<ConversationRow> for Conversation {
    type Error = RepositoryError;

    fn try_from(row: ConversationRow) -> Result<Self, Self::Error> {
        Ok(Self {
            assistant: row.assistant()?,
            id: parse(&row.id, "conversations.id")?,
            user_id: parse(&row.user_id, "conversations.user_id")?,
            title: row.title,
            is_pinned: row.is_pinned,
            is_archived: row.is_archived,
            next_table_number: row.next_table_number,
            share_token: row.share_token,
            shared_at: parse_opt::<Timestamp>(row.shared_at.as_deref(), "conversations.shared_at")?,
            created_at: parse(&row.created_at, "conversations.created_at")?,
            updated_at: parse(&row.updated_at, "conversations.updated_at")?,
        })
    }
}

/// A conversation with the aggregates of its list item.
#[derive(QueryableByName)]
pub(crate) struct SummaryRow {
    #[diesel(embed)]
    pub conversation: ConversationRow,
    #[diesel(sql_type = BigInt)]
    pub dataset_count: i64,
    #[diesel(sql_type = BigInt)]
    pub message_count: i64,
    #[diesel(sql_type = Nullable<Text>)]
    pub last_message_preview: Option<String>,
}

impl TryFrom<SummaryRow> for ConversationSummary {
    type Error = RepositoryError;

    fn try_from(row: SummaryRow) -> Result<Self, Self::Error> {
        Ok(Self {
            conversation: row.conversation.try_into()?,
            dataset_count: u64::try_from(row.dataset_count).map_err(corrupt)?,
            message_count: u64::try_from(row.message_count).map_err(corrupt)?,
            last_message_preview: row.last_message_preview,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = messages, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct MessageRow {
    pub id: String,
    pub conversation_id: String,
    pub role: String,
    pub content: String,
    pub status: String,
    pub error_message: Option<String>,
    pub sql_query: Option<String>,
    pub reasoning: Option<String>,
    pub tool_call_trace: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub token_count: i64,
    pub model: Option<String>,
    pub created_at: String,
}

impl TryFrom<&Message> for MessageRow {
    type Error = RepositoryError;

    fn try_from(m: &Message) -> Result<Self, Self::Error> {
        Ok(Self {
            id: m.id.to_string(),
            conversation_id: m.conversation_id.to_string(),
            role: m.role.as_str().to_owned(),
            content: m.content.clone(),
            status: m.status.as_str().to_owned(),
            error_message: m.error_message.clone(),
            sql_query: stored_json::executions_text(&m.sql_executions)?,
            reasoning: m.reasoning.clone(),
            tool_call_trace: stored_json::trace_text(&m.trace)?,
            input_tokens: m.input_tokens,
            output_tokens: m.output_tokens,
            token_count: m.token_count(),
            model: m.model.clone(),
            created_at: m.created_at.to_string(),
        })
    }
}

impl TryFrom<MessageRow> for Message {
    type Error = RepositoryError;

    fn try_from(row: MessageRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: parse(&row.id, "messages.id")?,
            conversation_id: parse(&row.conversation_id, "messages.conversation_id")?,
            role: enumeration(&row.role, "messages.role", MessageRole::parse)?,
            content: row.content,
            status: enumeration(&row.status, "messages.status", MessageStatus::parse)?,
            error_message: row.error_message,
            sql_executions: stored_json::executions(row.sql_query.as_deref())?,
            reasoning: row.reasoning,
            trace: stored_json::trace(row.tool_call_trace.as_deref())?,
            input_tokens: row.input_tokens,
            output_tokens: row.output_tokens,
            model: row.model,
            created_at: parse(&row.created_at, "messages.created_at")?,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = datasets, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct DatasetRow {
    pub id: String,
    pub conversation_id: String,
    pub name: String,
    pub source: String,
    pub url: String,
    pub upload_id: Option<String>,
    pub format: String,
    pub compression: String,
    pub status: String,
    pub error_message: Option<String>,
    pub row_count: i64,
    pub column_count: i64,
    pub schema_json: String,
    pub column_descriptions: String,
    pub file_size_bytes: Option<i64>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub version: Option<String>,
    pub created_at: String,
    pub loaded_at: Option<String>,
}

impl TryFrom<&Dataset> for DatasetRow {
    type Error = RepositoryError;

    fn try_from(d: &Dataset) -> Result<Self, Self::Error> {
        Ok(Self {
            id: d.id.to_string(),
            conversation_id: d.conversation_id.to_string(),
            name: d.name.clone(),
            source: d.source.as_str().to_owned(),
            url: d.url.clone(),
            upload_id: d.upload_id.map(|u| u.to_string()),
            format: d.format.as_str().to_owned(),
            compression: d.compression.as_str().to_owned(),
            status: d.status.as_str().to_owned(),
            error_message: d.error_message.clone(),
            row_count: d.row_count,
            column_count: d.column_count,
            schema_json: stored_json::columns_text(&d.columns)?,
            column_descriptions: stored_json::descriptions_text(&d.column_descriptions)?,
            file_size_bytes: d.file_size_bytes,
            etag: d.etag.clone(),
            last_modified: d.last_modified.map(|t| t.to_string()),
            version: d.version.clone(),
            created_at: d.created_at.to_string(),
            loaded_at: d.loaded_at.map(|t| t.to_string()),
        })
    }
}

impl TryFrom<DatasetRow> for Dataset {
    type Error = RepositoryError;

    fn try_from(row: DatasetRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: parse(&row.id, "datasets.id")?,
            conversation_id: parse(&row.conversation_id, "datasets.conversation_id")?,
            name: row.name,
            source: enumeration(&row.source, "datasets.source", DatasetSource::parse)?,
            url: row.url,
            upload_id: parse_opt(row.upload_id.as_deref(), "datasets.upload_id")?,
            format: enumeration(&row.format, "datasets.format", DatasetFormat::parse)?,
            compression: enumeration(&row.compression, "datasets.compression", Compression::parse)?,
            status: enumeration(&row.status, "datasets.status", DatasetStatus::parse)?,
            error_message: row.error_message,
            row_count: row.row_count,
            column_count: row.column_count,
            columns: stored_json::columns(&row.schema_json)?,
            column_descriptions: stored_json::descriptions(&row.column_descriptions)?,
            file_size_bytes: row.file_size_bytes,
            etag: row.etag,
            last_modified: parse_opt(row.last_modified.as_deref(), "datasets.last_modified")?,
            version: row.version,
            created_at: parse(&row.created_at, "datasets.created_at")?,
            loaded_at: parse_opt(row.loaded_at.as_deref(), "datasets.loaded_at")?,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::uploads, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct UploadRow {
    pub id: String,
    pub user_id: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub original_name: String,
    pub format: String,
    pub compression: String,
    pub created_at: String,
}

impl From<&tabletalk_ports::Upload> for UploadRow {
    fn from(u: &tabletalk_ports::Upload) -> Self {
        Self {
            id: u.id.to_string(),
            user_id: u.user_id.to_string(),
            sha256: u.sha256.clone(),
            size_bytes: u.size_bytes,
            original_name: u.original_name.clone(),
            format: u.format.as_str().to_owned(),
            compression: u.compression.as_str().to_owned(),
            created_at: u.created_at.to_string(),
        }
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::query_history, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct HistoryRow {
    pub id: String,
    pub user_id: String,
    pub conversation_id: Option<String>,
    pub source: String,
    pub query: String,
    pub status: String,
    pub error_message: Option<String>,
    pub row_count: Option<i64>,
    pub execution_time_ms: Option<f64>,
    pub is_starred: bool,
    pub created_at: String,
}

impl From<&tabletalk_ports::QueryHistoryEntry> for HistoryRow {
    fn from(e: &tabletalk_ports::QueryHistoryEntry) -> Self {
        Self {
            id: e.id.to_string(),
            user_id: e.user_id.to_string(),
            conversation_id: e.conversation_id.map(|c| c.to_string()),
            source: e.source.as_str().to_owned(),
            query: e.query.clone(),
            status: e.status().to_owned(),
            error_message: e.error_message.clone(),
            row_count: e.row_count,
            execution_time_ms: e.execution_time_ms,
            is_starred: e.is_starred,
            created_at: e.created_at.to_string(),
        }
    }
}

impl TryFrom<HistoryRow> for tabletalk_ports::QueryHistoryEntry {
    type Error = RepositoryError;

    fn try_from(row: HistoryRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: parse(&row.id, "query_history.id")?,
            user_id: parse(&row.user_id, "query_history.user_id")?,
            conversation_id: parse_opt(
                row.conversation_id.as_deref(),
                "query_history.conversation_id",
            )?,
            source: enumeration(
                &row.source,
                "query_history.source",
                tabletalk_ports::QuerySource::parse,
            )?,
            query: row.query,
            error_message: row.error_message,
            row_count: row.row_count,
            execution_time_ms: row.execution_time_ms,
            is_starred: row.is_starred,
            created_at: parse(&row.created_at, "query_history.created_at")?,
        })
    }
}
