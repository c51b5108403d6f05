//! Tabletalk's ports: the records that cross the hexagon's edge, typed (no JSON travels as text), and the
//! driven-port traits that adapters implement (repositories, dataset content, query engine, LLM, identity
//! provider, clock) with the outcomes they report. Everything here is technology-neutral.
//!
//! Must not import any adapter or framework crate (no tokio runtime, diesel, actix, reqwest, datafusion,
//! openidconnect). Feature `fakes` adds in-memory implementations of every port plus the contract suite that
//! both the fakes and the real adapters must pass.

mod assistant;
mod clock;
mod content;
mod conversation;
mod dataset;
mod error;
mod export;
mod history;
mod identity;
mod ids;
mod llm;
mod message;
mod query;
mod repositories;
mod saved_query;
mod search;
mod session;
mod settings;
mod telemetry;
mod timestamp;
mod usage;
mod user;

#[cfg(feature = "fakes")]
pub mod contract;
#[cfg(feature = "fakes")]
pub mod fakes;

pub use assistant::{Assistant, AssistantDataset, AssistantSetup, Temperature};
pub use clock::{Clock, SystemClock};
pub use content::{
    DatasetContent, LoadError, LoadErrorKind, LoadedContent, ProgressSink, Refreshed, StagedUpload,
    UploadSink,
};
pub use conversation::{
    Conversation, ConversationSummary, ConversationTitle, PREVIEW_CHARS, TitleError,
};
pub use dataset::{
    ColumnSchema, ColumnStats, Compression, Dataset, DatasetFormat, DatasetSource, DatasetStatus,
    Upload,
};
pub use error::RepositoryError;
pub use export::{ExportError, ExportFormat, ResultTable, ResultWriter, cell_text};
pub use history::{QueryHistoryEntry, QueryHistoryFilter, QuerySource};
pub use identity::{
    AuthorizationParams, IdentityError, IdentityProvider, PendingLogin, ReferralKey, VerifiedClaims,
};
pub use ids::{
    AssistantId, ConversationId, DatasetId, HistoryId, IdParseError, MessageId, SavedQueryId,
    SessionId, UploadId, UsageId, UserId,
};
pub use llm::{
    FinishReason, LlmClient, LlmError, LlmEvent, LlmMessage, LlmReply, LlmRequest, LlmStream,
    ProviderState, TokenCounts, ToolCall, ToolDeclaration, ToolMode, ToolResult,
};
pub use message::{
    ExecutionOutcome, ExecutionResult, Message, MessageRole, MessageStatus, SqlExecution, TraceStep,
};
pub use query::{
    CanonicalSql, QueryColumn, QueryEngine, QueryError, QueryOutput, QueryOwner, QueryTable,
    RowLimits, SqlProblem, TableLocation,
};
pub use repositories::{
    AddedDataset, AssistantRepository, ConversationRepository, DatabaseHealth, DatasetRepository,
    DatasetWriteError, MessageRepository, NewDataset, PendingLoginRepository,
    QueryHistoryRepository, ReferralKeyRepository, SavedQueryRepository, SessionRepository,
    SettingsRepository, TokenUsageRepository, UserRepository,
};
pub use saved_query::SavedQuery;
pub use search::{MessageMatch, SearchText, TitleMatch};
pub use session::{Session, TokenHash};
pub use settings::UserSettings;
pub use telemetry::{
    FetchKind, Gauges, LlmCallEnd, NoTelemetry, QueryEnd, QueryOrigin, Telemetry, TurnEnd,
};
pub use timestamp::{Timestamp, TimestampParseError};
pub use usage::{CallKind, LlmProvider, TokenUsage, UsageEntry};
pub use user::{Identity, User};
