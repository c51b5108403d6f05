//! The services wired over the port fakes, for the domain's own tests: one user, one conversation, a scripted
//! model, scripted dataset content and a scripted engine.
#![allow(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

use std::sync::Arc;
use std::time::Duration;

use tabletalk_ports::fakes::{
    InMemoryStore, ManualClock, ScriptedContent, ScriptedEngine, ScriptedLlm,
};
use tabletalk_ports::{
    Clock, Conversation, ConversationId, ConversationRepository, Identity, RowLimits, UserId,
    UserRepository,
};

use crate::chat::{ChatParts, ChatService, ChatSettings, PromptLimits};
use crate::datasets::{DatasetService, DatasetSettings, SqlRunner, SqlRunnerSettings};
use crate::events::{DomainEvent, InProcessBus, Published, Subscription};
use crate::llm_retry::RetryPolicy;
use crate::{ConversationService, UsageService};

pub(crate) struct Kit {
    pub store: Arc<InMemoryStore>,
    pub llm: Arc<ScriptedLlm>,
    pub content: Arc<ScriptedContent>,
    pub engine: Arc<ScriptedEngine>,
    pub bus: Arc<InProcessBus>,
    pub datasets: Arc<DatasetService>,
    pub chat: Arc<ChatService>,
    pub user: UserId,
    pub conversation: ConversationId,
}

pub(crate) const MAX_TOOL_CALLS: u32 = 4;
pub(crate) const MAX_SQL_ERRORS: u32 = 2;

fn alice() -> Identity {
    Identity {
        issuer: "https://issuer.example".to_owned(),
        subject: "alice".to_owned(),
        email: "alice@example.com".to_owned(),
        name: "Alice".to_owned(),
        avatar_url: None,
    }
}

pub(crate) async fn kit() -> Kit {
    let store = Arc::new(InMemoryStore::new());
    let clock = Arc::new(ManualClock::at_new_year());
    let llm = Arc::new(ScriptedLlm::default());
    let content = Arc::new(ScriptedContent::default());
    let engine = Arc::new(ScriptedEngine::default());
    let bus = Arc::new(InProcessBus::new(1024));
    let user = store.sign_in(&alice(), clock.now()).await.unwrap().id;
    let conversation = Conversation::new(user, clock.now());
    store.create(&conversation).await.unwrap();
    let conversations = Arc::new(ConversationService::new(
        store.clone(),
        store.clone(),
        store.clone(),
        clock.clone(),
    ));
    let datasets = Arc::new(DatasetService::new(
        conversations.clone(),
        store.clone(),
        content.clone(),
        engine.clone(),
        bus.clone(),
        clock.clone(),
        DatasetSettings {
            max_per_conversation: 5,
            profile_sample_rows: 1000,
            query_timeout_secs: 30,
            memory_limit: 1 << 30,
        },
    ));
    let limits = RowLimits {
        auto_limit: 1000,
        kept_rows: 100,
        file_order: false,
    };
    let sql = Arc::new(SqlRunner::new(
        conversations.clone(),
        store.clone(),
        engine.clone(),
        store.clone(),
        clock.clone(),
        SqlRunnerSettings {
            limits,
            timeout_secs: 30,
            memory_limit: 1 << 30,
            cache_entries: 0,
            cache_max_bytes: 0,
            cache_ttl_millis: 0,
            history_max_entries: 100,
        },
    ));
    let usage = Arc::new(UsageService::new(
        store.clone(),
        clock.clone(),
        1_000_000,
        80,
    ));
    let chat = Arc::new(ChatService::new(
        ChatParts {
            telemetry: Arc::new(tabletalk_ports::NoTelemetry),
            conversations,
            messages: store.clone(),
            datasets: store.clone(),
            dataset_service: datasets.clone(),
            sql,
            usage,
            token_usage: store.clone(),
            llm: Some(llm.clone()),
            events: bus.clone(),
            user_settings: Arc::new(crate::SettingsService::new(
                store.clone(),
                clock.clone(),
                crate::ModelChoice {
                    default_model: "test-model".to_owned(),
                    models: vec!["test-model".to_owned()],
                },
            )),
            clock,
        },
        4,
        chat_settings(),
    ));
    Kit {
        store,
        llm,
        content,
        engine,
        bus,
        datasets,
        chat,
        user,
        conversation: conversation.id,
    }
}

/// Events until (and with) the turn's end: `chat_complete` or `chat_error`.
pub(crate) async fn until_turn_ends(events: &mut Subscription) -> Vec<DomainEvent> {
    let mut seen = Vec::new();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .expect("the turn ends within 5 s")
            .unwrap();
        let Published { event, .. } = next.as_ref().clone();
        let end = matches!(
            event,
            DomainEvent::ChatComplete(_) | DomainEvent::ChatError { .. }
        );
        seen.push(event);
        if end {
            return seen;
        }
    }
}

fn chat_settings() -> ChatSettings {
    ChatSettings {
        thinking: false,
        max_tool_calls: MAX_TOOL_CALLS,
        max_sql_errors: MAX_SQL_ERRORS,
        context_messages: 50,
        context_token_budget: 100_000,
        retry: RetryPolicy {
            max_retries: 0,
            base_delay: Duration::from_millis(1),
        },
        price_input_per_mtok: 1.0,
        price_output_per_mtok: 2.0,
        llm_rows: 10,
        ws_rows: 2,
        prompt: PromptLimits {
            auto_limit: 1000,
            llm_rows: 10,
            max_returned_rows: 100,
            timeout_secs: 30,
            memory_text: "1 GiB".to_owned(),
            max_datasets: 5,
            max_tool_calls: MAX_TOOL_CALLS,
            max_sql_errors: MAX_SQL_ERRORS,
        },
    }
}
