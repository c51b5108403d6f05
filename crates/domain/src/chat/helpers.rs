//! The LLM helpers of the SQL workspace (docs/api.md, "Chat"): explain a query in plain words, and write a query for
//! a question. Each is one model call with the user's model, after the budget check, with the retries of a turn;
//! its tokens are recorded (`explain_sql`, `generate_sql`) and announced with `usage_update`, like a turn's.

use futures_util::StreamExt;
use tabletalk_ports::{
    CallKind, ConversationId, DatasetStatus, LlmEvent, LlmMessage, LlmRequest, TokenUsage,
    ToolMode, UsageId, UserId,
};

use super::prompt::{system_prompt, tables_section};
use super::{ChatError, ChatService};
use crate::ConversationError;
use crate::datasets::DatasetError;
use crate::events::DomainEvent;
use crate::llm_retry::{CallError, start_with_retries};

const EXPLAIN_SYSTEM: &str = "You explain SQL queries to people who do not read SQL. In two to four plain \
    sentences, say what the query returns and how it gets there, in terms of the data, without restating the SQL or \
    naming SQL keywords. Answer with the explanation only.";

const GENERATE_FORMAT: &str = "## Answer format\nWrite one read-only query in DataFusion's SQL dialect for the \
    user's question, over the tables above. Add `LIMIT 1000` unless the query aggregates. Answer exactly in this \
    form:\nSQL:\n<the query>\nEXPLANATION:\n<one or two sentences on what it returns>";

/// A query written for a question, and what it returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedSql {
    pub sql: String,
    pub explanation: String,
    /// Why the query still does not plan after the model's one correction; `None` when it plans.
    pub validation_error: Option<String>,
}

/// Removes Markdown code fences around `text` (with or without a language tag).
fn strip_fences(text: &str) -> String {
    let trimmed = text.trim();
    let Some(inner) = trimmed.strip_prefix("```") else {
        return trimmed.to_owned();
    };
    let inner = inner.strip_suffix("```").unwrap_or(inner);
    // The first line may name the language (```sql).
    let inner = match inner.split_once('\n') {
        Some((tag, rest)) if !tag.trim().contains(' ') => rest,
        _ => inner,
    };
    inner.trim().to_owned()
}

/// `SQL:` … `EXPLANATION:` …; without the markers the whole text is the query.
pub fn parse_generated(text: &str) -> GeneratedSql {
    let after_sql = text.split_once("SQL:").map_or(text, |(_, rest)| rest);
    match after_sql.split_once("EXPLANATION:") {
        Some((sql, explanation)) if text.contains("SQL:") => GeneratedSql {
            sql: strip_fences(sql),
            explanation: explanation.trim().to_owned(),
            validation_error: None,
        },
        _ => GeneratedSql {
            sql: strip_fences(if text.contains("SQL:") {
                after_sql
            } else {
                text
            }),
            explanation: String::new(),
            validation_error: None,
        },
    }
}

impl ChatService {
    /// Explain: two to four plain sentences on what `query` returns. The context is the conversation's tables, or
    /// `schema_json` (the client's description) when none is ready.
    ///
    /// # Errors
    /// Ownership; `NotConfigured`; `BudgetExceeded`; `ProviderUnavailable`; `ProviderFailed`; storage failures.
    pub async fn explain_sql(
        &self,
        user: UserId,
        conversation: ConversationId,
        query: &str,
        schema_json: &str,
    ) -> Result<String, ChatError> {
        self.conversations.owned(user, conversation).await?;
        let datasets = self.datasets.list_for_conversation(conversation).await?;
        let context = if datasets.iter().any(|d| d.status == DatasetStatus::Ready) {
            tables_section(&datasets)
        } else {
            format!("## Tables\n{schema_json}")
        };
        let system = format!("{EXPLAIN_SYSTEM}\n\n{context}");
        let text = self
            .helper_call(
                user,
                conversation,
                CallKind::ExplainSql,
                system,
                vec![LlmMessage::User {
                    text: query.to_owned(),
                }],
            )
            .await?;
        Ok(text.trim().to_owned())
    }

    /// Generate: one query for `question` over the conversation's ready tables, planned against them before it is
    /// returned (not run). A query that does not plan is sent back to the model once with the error; a second
    /// failure is returned with the query, as `validation_error`.
    ///
    /// # Errors
    /// Ownership; `NoDatasets`; then as [`ChatService::explain_sql`].
    pub async fn generate_sql(
        &self,
        user: UserId,
        conversation: ConversationId,
        question: &str,
    ) -> Result<GeneratedSql, ChatError> {
        let owned = self.conversations.owned(user, conversation).await?;
        let datasets = self.datasets.list_for_conversation(conversation).await?;
        if !datasets.iter().any(|d| d.status == DatasetStatus::Ready) {
            return Err(ChatError::NoDatasets);
        }
        // An assistant's instructions ("the fiscal year starts in April") matter to the query too.
        let instructions = owned
            .assistant
            .as_ref()
            .map_or("", |a| a.instructions.as_str());
        let system = format!(
            "{}\n\n{GENERATE_FORMAT}",
            system_prompt(&datasets, &self.settings.prompt, instructions)
        );
        let mut messages = vec![LlmMessage::User {
            text: question.to_owned(),
        }];
        let first_text = self
            .helper_call(
                user,
                conversation,
                CallKind::GenerateSql,
                system.clone(),
                messages.clone(),
            )
            .await?;
        let mut first = parse_generated(&first_text);
        let Some(error) = self.plan_error(user, conversation, &first.sql).await? else {
            return Ok(first);
        };
        messages.push(LlmMessage::Assistant {
            text: first_text,
            tool_calls: Vec::new(),
            provider_state: None,
        });
        messages.push(LlmMessage::User {
            text: format!(
                "That query does not run: {error}\nWrite a corrected query, answering in the same form."
            ),
        });
        let second_text = match self
            .helper_call(user, conversation, CallKind::GenerateSql, system, messages)
            .await
        {
            Ok(text) => text,
            // The first call spent the rest of the budget: the first query, with its error, is still an answer.
            Err(ChatError::BudgetExceeded(_)) => {
                first.validation_error = Some(error);
                return Ok(first);
            }
            Err(other) => return Err(other),
        };
        let mut second = parse_generated(&second_text);
        second.validation_error = self.plan_error(user, conversation, &second.sql).await?;
        Ok(second)
    }

    /// Why `sql` does not plan against the conversation's tables, in the words a SQL run would use; `None` when it
    /// plans.
    async fn plan_error(
        &self,
        user: UserId,
        conversation: ConversationId,
        sql: &str,
    ) -> Result<Option<String>, ChatError> {
        match self.sql.check(user, conversation, sql).await {
            Ok(()) => Ok(None),
            Err(DatasetError::Query(failure)) => Ok(Some(failure.message)),
            Err(DatasetError::NoDatasets) => Err(ChatError::NoDatasets),
            Err(DatasetError::ConversationNotFound) => {
                Err(ChatError::Conversation(ConversationError::NotFound))
            }
            Err(DatasetError::Forbidden) => {
                Err(ChatError::Conversation(ConversationError::Forbidden))
            }
            Err(DatasetError::Storage(error)) => Err(ChatError::Storage(error)),
            Err(other) => Ok(Some(other.to_string())),
        }
    }

    /// One model call without tools: budget check, the call with retries, the usage row and `usage_update`.
    async fn helper_call(
        &self,
        user: UserId,
        conversation: ConversationId,
        kind: CallKind,
        system: String,
        messages: Vec<LlmMessage>,
    ) -> Result<String, ChatError> {
        let Some(llm) = self.llm.clone() else {
            return Err(ChatError::NotConfigured);
        };
        let status = self.usage.status(user).await?;
        if !status.allowed() {
            return Err(ChatError::BudgetExceeded(status));
        }
        let model = self.user_settings.model_for(user).await;
        let request = LlmRequest {
            model: model.clone(),
            system,
            messages,
            tools: Vec::new(),
            tool_mode: ToolMode::None,
            thinking: false,
            temperature: Some(0.2),
            max_output_tokens: Some(2_048),
        };
        let started =
            start_with_retries(llm.as_ref(), &request, &self.settings.retry, &|_| {}).await;
        self.count_call(kind, &started);
        let mut stream = started.map_err(|error| match error {
            CallError::Exhausted { last, retries } => ChatError::ProviderUnavailable {
                details: format!("{last} after {retries} retries"),
            },
            CallError::Failed(last) => ChatError::ProviderFailed(last.to_string()),
        })?;
        let (mut answer, mut counts) = (String::new(), None);
        while let Some(event) = stream.next().await {
            match event.map_err(|e| ChatError::ProviderFailed(e.to_string()))? {
                LlmEvent::TextDelta(delta) => answer.push_str(&delta),
                LlmEvent::Usage(reported) => counts = Some(reported),
                LlmEvent::ThoughtDelta(_) | LlmEvent::ToolCall(_) | LlmEvent::Finished { .. } => {}
            }
        }
        // Without a report the tokens are estimated, as for a turn (characters / 4).
        let estimated = counts.is_none();
        let (input, output) = counts.map_or_else(
            || {
                let sent: u64 = request
                    .messages
                    .iter()
                    .map(|m| match m {
                        LlmMessage::User { text } | LlmMessage::Assistant { text, .. } => {
                            super::context::estimate_tokens(text)
                        }
                        LlmMessage::ToolResults { .. } => 0,
                    })
                    .sum();
                (
                    super::context::estimate_tokens(&request.system) + sent,
                    super::context::estimate_tokens(&answer),
                )
            },
            |c| (c.input, c.output),
        );
        let (input, output) = (
            i64::try_from(input).unwrap_or(i64::MAX),
            i64::try_from(output).unwrap_or(i64::MAX),
        );
        #[allow(
            clippy::cast_precision_loss,
            reason = "token counts are far below 2^52"
        )]
        let cost = input as f64 / 1e6 * self.settings.price_input_per_mtok
            + output as f64 / 1e6 * self.settings.price_output_per_mtok;
        self.telemetry.llm_tokens(
            self.provider().as_str(),
            &model,
            kind,
            input.unsigned_abs(),
            output.unsigned_abs(),
        );
        self.token_usage
            .record(&TokenUsage {
                id: UsageId::new(),
                user_id: user,
                conversation_id: Some(conversation),
                message_id: None,
                call_kind: kind,
                provider: self.provider(),
                model_name: model,
                input_tokens: input,
                output_tokens: output,
                estimated,
                cost,
                timestamp: self.clock.now(),
            })
            .await?;
        if let Ok(after) = self.usage.status(user).await {
            self.events
                .emit(user, conversation, DomainEvent::UsageUpdate(after));
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_answers_are_split_and_unfenced() {
        let both = parse_generated("SQL:\n```sql\nSELECT 1\n```\nEXPLANATION:\nOne row.");
        assert_eq!(
            (both.sql.as_str(), both.explanation.as_str()),
            ("SELECT 1", "One row.")
        );
        let bare = parse_generated("```\nSELECT 2\n```");
        assert_eq!(
            (bare.sql.as_str(), bare.explanation.as_str()),
            ("SELECT 2", "")
        );
        let plain = parse_generated("SELECT 3 FROM t");
        assert_eq!(plain.sql, "SELECT 3 FROM t");
        let no_explanation = parse_generated("SQL: SELECT 4");
        assert_eq!(
            (
                no_explanation.sql.as_str(),
                no_explanation.explanation.as_str()
            ),
            ("SELECT 4", "")
        );
    }
}
