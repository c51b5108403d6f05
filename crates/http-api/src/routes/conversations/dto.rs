//! Response shapes of the conversation endpoints (docs/api.md, "Conversations").

use serde::Serialize;
use tabletalk_domain::ConversationDetail;
use tabletalk_ports::{Conversation, ConversationSummary};

use crate::dto::{DatasetDto, MessageDto};

fn assistant_id(c: &Conversation) -> Option<String> {
    c.assistant.as_ref().map(|a| a.assistant_id.to_string())
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct CreatedDto {
    id: String,
    title: String,
    created_at: String,
    updated_at: String,
    is_pinned: bool,
    is_archived: bool,
    /// The assistant it was started from (which may since have been deleted); `null` for none.
    assistant_id: Option<String>,
}

impl From<&Conversation> for CreatedDto {
    fn from(c: &Conversation) -> Self {
        Self {
            id: c.id.to_string(),
            title: c.title.clone(),
            created_at: c.created_at.to_string(),
            updated_at: c.updated_at.to_string(),
            is_pinned: c.is_pinned,
            is_archived: c.is_archived,
            assistant_id: assistant_id(c),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ConversationSummaryDto {
    id: String,
    title: String,
    created_at: String,
    updated_at: String,
    dataset_count: u64,
    message_count: u64,
    last_message_preview: Option<String>,
    is_pinned: bool,
    is_archived: bool,
    /// The assistant it was started from (which may since have been deleted); `null` for none.
    assistant_id: Option<String>,
}

impl From<&ConversationSummary> for ConversationSummaryDto {
    fn from(s: &ConversationSummary) -> Self {
        let c = &s.conversation;
        Self {
            id: c.id.to_string(),
            title: c.title.clone(),
            created_at: c.created_at.to_string(),
            updated_at: c.updated_at.to_string(),
            dataset_count: s.dataset_count,
            message_count: s.message_count,
            last_message_preview: s.last_message_preview.clone(),
            is_pinned: c.is_pinned,
            is_archived: c.is_archived,
            assistant_id: assistant_id(c),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ConversationDetailDto {
    id: String,
    title: String,
    created_at: String,
    updated_at: String,
    is_pinned: bool,
    is_archived: bool,
    /// The assistant it was started from (which may since have been deleted); `null` for none.
    assistant_id: Option<String>,
    share_token: Option<String>,
    shared_at: Option<String>,
    messages: Vec<MessageDto>,
    datasets: Vec<DatasetDto>,
}

impl From<&ConversationDetail> for ConversationDetailDto {
    fn from(d: &ConversationDetail) -> Self {
        let c = &d.conversation;
        Self {
            id: c.id.to_string(),
            title: c.title.clone(),
            created_at: c.created_at.to_string(),
            updated_at: c.updated_at.to_string(),
            is_pinned: c.is_pinned,
            is_archived: c.is_archived,
            assistant_id: assistant_id(c),
            share_token: c.share_token.clone(),
            shared_at: c.shared_at.map(|t| t.to_string()),
            messages: d.messages.iter().map(MessageDto::from).collect(),
            datasets: d.datasets.iter().map(DatasetDto::from).collect(),
        }
    }
}
