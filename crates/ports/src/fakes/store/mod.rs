use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::lock;

mod assistants;
mod conversations;
mod datasets;
mod messages;
mod saved_queries;

use crate::{
    Conversation, ConversationId, ConversationSummary, DatabaseHealth, Dataset, Identity, Message,
    PREVIEW_CHARS, PendingLogin, PendingLoginRepository, QueryHistoryEntry, ReferralKey,
    ReferralKeyRepository, RepositoryError, Session, SessionId, SessionRepository, Timestamp,
    TokenHash, TokenUsage, TokenUsageRepository, Upload, UsageEntry, User, UserId, UserRepository,
};

#[derive(Debug, Default)]
struct Tables {
    users: Vec<User>,
    sessions: Vec<Session>,
    conversations: Vec<Conversation>,
    messages: Vec<Message>,
    datasets: Vec<Dataset>,
    uploads: Vec<Upload>,
    query_history: Vec<QueryHistoryEntry>,
    token_usage: Vec<TokenUsage>,
    pending_logins: Vec<PendingLogin>,
    referral_keys: Vec<StoredReferralKey>,
    settings: Vec<crate::UserSettings>,
    saved_queries: Vec<crate::SavedQuery>,
    assistants: Vec<crate::Assistant>,
}

#[derive(Debug, Clone)]
struct StoredReferralKey {
    key: String,
    created_by: Option<UserId>,
    used_by: Option<UserId>,
    created_at: Timestamp,
    used_at: Option<Timestamp>,
}

/// Every repository port in memory, behind one lock (so each method is one "transaction").
#[derive(Debug, Default)]
pub struct InMemoryStore {
    tables: Mutex<Tables>,
    unavailable: AtomicBool,
    calls: Mutex<HashMap<&'static str, u64>>,
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// While set, every method fails with `RepositoryError::Unavailable`.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// How many times a method (by name, e.g. `"sessions.extend"`) was called.
    pub fn calls(&self, method: &str) -> u64 {
        lock(&self.calls).get(method).copied().unwrap_or(0)
    }

    /// Number of stored token-usage rows (including those whose conversation was deleted).
    pub fn token_usage_rows(&self) -> usize {
        lock(&self.tables).token_usage.len()
    }

    fn open(&self, method: &'static str) -> Result<MutexGuard<'_, Tables>, RepositoryError> {
        *lock(&self.calls).entry(method).or_default() += 1;
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(RepositoryError::Unavailable(
                "in-memory store told to fail".to_owned(),
            ));
        }
        Ok(lock(&self.tables))
    }
}

fn new_user(identity: &Identity, now: Timestamp) -> User {
    User {
        id: UserId::new(),
        oidc_issuer: identity.issuer.clone(),
        oidc_subject: identity.subject.clone(),
        email: identity.email.clone(),
        name: identity.name.clone(),
        avatar_url: identity.avatar_url.clone(),
        created_at: now,
        last_login_at: now,
    }
}

fn constraint(rule: &str) -> RepositoryError {
    RepositoryError::Constraint(rule.to_owned())
}

impl Tables {
    fn user_exists(&self, id: UserId) -> bool {
        self.users.iter().any(|u| u.id == id)
    }

    fn conversation_mut(&mut self, id: ConversationId) -> Option<&mut Conversation> {
        self.conversations.iter_mut().find(|c| c.id == id)
    }

    fn remove_conversations(&mut self, doomed: &[ConversationId]) {
        self.conversations.retain(|c| !doomed.contains(&c.id));
        let doomed_messages: Vec<_> = self
            .messages
            .iter()
            .filter(|m| doomed.contains(&m.conversation_id))
            .map(|m| m.id)
            .collect();
        self.messages
            .retain(|m| !doomed.contains(&m.conversation_id));
        self.datasets
            .retain(|d| !doomed.contains(&d.conversation_id));
        for usage in &mut self.token_usage {
            if usage.conversation_id.is_some_and(|c| doomed.contains(&c)) {
                usage.conversation_id = None;
            }
            if usage
                .message_id
                .is_some_and(|m| doomed_messages.contains(&m))
            {
                usage.message_id = None;
            }
        }
    }

    fn summary(&self, conversation: &Conversation) -> ConversationSummary {
        let messages: Vec<&Message> = self
            .messages
            .iter()
            .filter(|m| m.conversation_id == conversation.id)
            .collect();
        let newest = messages
            .iter()
            .max_by(|a, b| (a.created_at, a.id).cmp(&(b.created_at, b.id)));
        ConversationSummary {
            conversation: conversation.clone(),
            dataset_count: self
                .datasets
                .iter()
                .filter(|d| d.conversation_id == conversation.id)
                .count() as u64,
            message_count: messages.len() as u64,
            last_message_preview: newest.map(|m| m.content.chars().take(PREVIEW_CHARS).collect()),
        }
    }
}

#[async_trait]
impl UserRepository for InMemoryStore {
    async fn sign_in(&self, identity: &Identity, now: Timestamp) -> Result<User, RepositoryError> {
        let mut tables = self.open("users.sign_in")?;
        if let Some(user) = tables
            .users
            .iter_mut()
            .find(|u| u.oidc_issuer == identity.issuer && u.oidc_subject == identity.subject)
        {
            user.email.clone_from(&identity.email);
            user.name.clone_from(&identity.name);
            user.avatar_url.clone_from(&identity.avatar_url);
            user.last_login_at = now;
            return Ok(user.clone());
        }
        let user = new_user(identity, now);
        tables.users.push(user.clone());
        Ok(user)
    }

    async fn find_by_identity(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<User>, RepositoryError> {
        let tables = self.open("users.find_by_identity")?;
        Ok(tables
            .users
            .iter()
            .find(|u| u.oidc_issuer == issuer && u.oidc_subject == subject)
            .cloned())
    }

    async fn create_with_referral(
        &self,
        identity: &Identity,
        referral_key: &str,
        now: Timestamp,
    ) -> Result<Option<User>, RepositoryError> {
        let mut tables = self.open("users.create_with_referral")?;
        if tables
            .users
            .iter()
            .any(|u| u.oidc_issuer == identity.issuer && u.oidc_subject == identity.subject)
        {
            return Err(constraint("users (oidc_issuer, oidc_subject) is unique"));
        }
        let user = new_user(identity, now);
        let Some(key) = tables
            .referral_keys
            .iter_mut()
            .find(|k| k.key == referral_key && k.used_at.is_none())
        else {
            return Ok(None);
        };
        key.used_by = Some(user.id);
        key.used_at = Some(now);
        tables.users.push(user.clone());
        Ok(Some(user))
    }

    async fn find(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        Ok(self
            .open("users.find")?
            .users
            .iter()
            .find(|u| u.id == id)
            .cloned())
    }

    async fn list_all(&self) -> Result<Vec<User>, RepositoryError> {
        let mut users = self.open("users.list_all")?.users.clone();
        users.sort_by_key(|u| (u.created_at, u.id));
        Ok(users)
    }
}

#[async_trait]
impl SessionRepository for InMemoryStore {
    async fn create(&self, session: &Session) -> Result<(), RepositoryError> {
        let mut tables = self.open("sessions.create")?;
        if !tables.user_exists(session.user_id) {
            return Err(constraint("sessions.user_id references users"));
        }
        if tables
            .sessions
            .iter()
            .any(|s| s.token_hash == session.token_hash || s.id == session.id)
        {
            return Err(constraint("sessions.token_hash is unique"));
        }
        tables.sessions.push(session.clone());
        Ok(())
    }

    async fn find_by_token_hash(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<Session>, RepositoryError> {
        Ok(self
            .open("sessions.find_by_token_hash")?
            .sessions
            .iter()
            .find(|s| s.token_hash == *hash)
            .cloned())
    }

    async fn extend(
        &self,
        id: SessionId,
        expires_at: Timestamp,
        extended_at: Timestamp,
    ) -> Result<bool, RepositoryError> {
        let mut tables = self.open("sessions.extend")?;
        Ok(tables
            .sessions
            .iter_mut()
            .find(|s| s.id == id)
            .map(|s| {
                s.expires_at = expires_at;
                s.last_extended_at = extended_at;
            })
            .is_some())
    }

    async fn delete(&self, id: SessionId) -> Result<bool, RepositoryError> {
        let mut tables = self.open("sessions.delete")?;
        let before = tables.sessions.len();
        tables.sessions.retain(|s| s.id != id);
        Ok(tables.sessions.len() != before)
    }

    async fn delete_expired(&self, now: Timestamp) -> Result<u64, RepositoryError> {
        let mut tables = self.open("sessions.delete_expired")?;
        let before = tables.sessions.len();
        tables.sessions.retain(|s| s.expires_at > now);
        Ok((before - tables.sessions.len()) as u64)
    }
}

#[async_trait]
impl TokenUsageRepository for InMemoryStore {
    async fn record(&self, usage: &TokenUsage) -> Result<(), RepositoryError> {
        let mut tables = self.open("token_usage.record")?;
        if !tables.user_exists(usage.user_id) {
            return Err(constraint("token_usage.user_id references users"));
        }
        tables.token_usage.push(usage.clone());
        Ok(())
    }

    async fn totals_for_conversation(
        &self,
        conversation: ConversationId,
    ) -> Result<(i64, i64, f64, i64), RepositoryError> {
        let tables = self.open("token_usage.totals_for_conversation")?;
        let rows: Vec<&TokenUsage> = tables
            .token_usage
            .iter()
            .filter(|u| u.conversation_id == Some(conversation))
            .collect();
        Ok((
            rows.iter().map(|u| u.input_tokens).sum(),
            rows.iter().map(|u| u.output_tokens).sum(),
            rows.iter().map(|u| u.cost).sum(),
            i64::try_from(rows.len()).unwrap_or(i64::MAX),
        ))
    }

    async fn entries_since(
        &self,
        user: UserId,
        since: Timestamp,
    ) -> Result<Vec<UsageEntry>, RepositoryError> {
        let tables = self.open("token_usage.entries_since")?;
        let mut entries: Vec<UsageEntry> = tables
            .token_usage
            .iter()
            .filter(|u| u.user_id == user && u.timestamp > since)
            .map(|u| UsageEntry {
                timestamp: u.timestamp,
                tokens: u.input_tokens + u.output_tokens,
            })
            .collect();
        entries.sort_by_key(|e| e.timestamp);
        Ok(entries)
    }
}

#[async_trait]
impl DatabaseHealth for InMemoryStore {
    async fn ping(&self) -> Result<(), RepositoryError> {
        self.open("health.ping").map(|_| ())
    }
}

#[async_trait]
impl PendingLoginRepository for InMemoryStore {
    async fn insert(&self, login: &PendingLogin) -> Result<(), RepositoryError> {
        let mut tables = self.open("pending_logins.insert")?;
        if tables.pending_logins.iter().any(|p| p.state == login.state) {
            return Err(constraint("oidc_pending_logins.state is unique"));
        }
        tables.pending_logins.push(login.clone());
        Ok(())
    }

    async fn consume(
        &self,
        state: &str,
        now: Timestamp,
    ) -> Result<Option<PendingLogin>, RepositoryError> {
        let mut tables = self.open("pending_logins.consume")?;
        let Some(index) = tables
            .pending_logins
            .iter()
            .position(|p| p.state == state && p.expires_at > now)
        else {
            return Ok(None);
        };
        Ok(Some(tables.pending_logins.remove(index)))
    }

    async fn discard(&self, state: &str) -> Result<(), RepositoryError> {
        self.open("pending_logins.discard")?
            .pending_logins
            .retain(|p| p.state != state);
        Ok(())
    }

    async fn delete_expired(&self, now: Timestamp) -> Result<u64, RepositoryError> {
        let mut tables = self.open("pending_logins.delete_expired")?;
        let before = tables.pending_logins.len();
        tables.pending_logins.retain(|p| p.expires_at > now);
        Ok((before - tables.pending_logins.len()) as u64)
    }
}

#[async_trait]
impl ReferralKeyRepository for InMemoryStore {
    async fn create(
        &self,
        keys: &[String],
        created_by: Option<UserId>,
        now: Timestamp,
    ) -> Result<(), RepositoryError> {
        let mut tables = self.open("referral_keys.create")?;
        if keys
            .iter()
            .enumerate()
            .any(|(i, k)| keys[..i].contains(k) || tables.referral_keys.iter().any(|r| &r.key == k))
        {
            return Err(constraint("referral_keys.key is unique"));
        }
        for key in keys {
            tables.referral_keys.push(StoredReferralKey {
                key: key.clone(),
                created_by,
                used_by: None,
                created_at: now,
                used_at: None,
            });
        }
        Ok(())
    }

    async fn list(&self, unused_only: bool) -> Result<Vec<ReferralKey>, RepositoryError> {
        let tables = self.open("referral_keys.list")?;
        let mut keys: Vec<ReferralKey> = tables
            .referral_keys
            .iter()
            .filter(|k| !unused_only || k.used_at.is_none())
            .map(|k| ReferralKey {
                key: k.key.clone(),
                created_by: k.created_by,
                created_at: k.created_at,
                used_at: k.used_at,
                used_by_email: k
                    .used_by
                    .and_then(|id| tables.users.iter().find(|u| u.id == id))
                    .map(|u| u.email.clone()),
            })
            .collect();
        keys.sort_by(|a, b| (a.created_at, &a.key).cmp(&(b.created_at, &b.key)));
        Ok(keys)
    }
}

#[async_trait]
impl crate::SettingsRepository for InMemoryStore {
    async fn find(&self, user: UserId) -> Result<Option<crate::UserSettings>, RepositoryError> {
        Ok(self
            .open("settings.find")?
            .settings
            .iter()
            .find(|s| s.user_id == user)
            .cloned())
    }

    async fn save(&self, settings: &crate::UserSettings) -> Result<(), RepositoryError> {
        let mut tables = self.open("settings.save")?;
        if !tables.user_exists(settings.user_id) {
            return Err(constraint("user_settings.user_id references users"));
        }
        tables.settings.retain(|s| s.user_id != settings.user_id);
        tables.settings.push(settings.clone());
        Ok(())
    }
}
