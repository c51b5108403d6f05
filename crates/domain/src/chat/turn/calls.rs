//! The tool calls of a turn (docs/api.md, "Chat"): `execute_sql` through the SQL runner, `load_dataset` through the
//! dataset pipeline, `create_chart` and `suggest_followups` validated, every call counted against the cap.

use super::State;
use crate::chat::tools::{clean_suggestions, failure, validate_chart};
use crate::datasets::{DatasetError, schema_columns, table_columns};
use crate::events::DomainEvent;
use crate::input::SqlText;
use serde_json::{Map, Value, json};
use tabletalk_ports::{ExecutionOutcome, ExecutionResult, QuerySource, SqlExecution, ToolCall};

impl State {
    /// The conversation's tables and their columns, as a failed query's result lists them.
    fn tables(datasets: &[tabletalk_ports::Dataset]) -> Value {
        let map: Map<String, Value> = table_columns(datasets)
            .into_iter()
            .map(|t| (t.name, json!(t.columns)))
            .collect();
        Value::Object(map)
    }

    async fn execute_sql(&mut self, args: &Map<String, Value>) -> Value {
        let max_errors = self.service.settings.max_sql_errors;
        let instruction = "Do not run more SQL in this answer. Explain to the user what went wrong and what they could try.";
        if self.sql_errors >= max_errors {
            return json!({"ok": false, "error": format!("Query not run: {max_errors} queries already failed in this answer."), "instruction": instruction});
        }
        let Some(query) = args.get("query").and_then(Value::as_str).map(str::to_owned) else {
            return failure("The query argument is required.");
        };
        let Ok(sql) = SqlText::parse(&query) else {
            return failure("The query must be 1 to 50,000 characters.");
        };
        self.queries += 1;
        self.emit(DomainEvent::QueryProgress {
            message_id: self.message_id,
            query_number: self.queries,
        });
        let run = self
            .service
            .sql
            .run(self.user, self.conversation, &sql, QuerySource::Llm);
        let outcome = tokio::select! {
            outcome = run => Some(outcome),
            () = self.cancel.cancelled() => None,
        };
        let failed = |error: String| SqlExecution {
            query: query.clone(),
            outcome: ExecutionOutcome::Failed { error },
        };
        let result = match outcome {
            None => {
                self.executions.push(failed("Stopped by user".to_owned()));
                return failure("Stopped by user");
            }
            Some(Ok(result)) => result,
            Some(Err(error)) => {
                let message = match &error {
                    DatasetError::Query(f) => f.message.clone(),
                    other => other.to_string(),
                };
                self.executions.push(failed(message.clone()));
                self.sql_errors += 1;
                let datasets = self
                    .service
                    .datasets
                    .list_for_conversation(self.conversation)
                    .await
                    .unwrap_or_default();
                let mut answer =
                    json!({"ok": false, "error": message, "tables": Self::tables(&datasets)});
                if self.sql_errors >= max_errors {
                    answer["instruction"] = json!(instruction);
                }
                return answer;
            }
        };
        let output = result.output;
        let columns: Vec<String> = output.columns.iter().map(|c| c.name.clone()).collect();
        self.executions.push(SqlExecution {
            query,
            outcome: ExecutionOutcome::Succeeded(ExecutionResult {
                columns: columns.clone(),
                rows: output.rows.clone(),
                total_rows: output.total_rows,
                execution_ms: result.execution_ms,
                limit_applied: output.limit_applied,
            }),
        });
        self.latest_success = Some(self.executions.len() - 1);
        let shown = self.service.settings.llm_rows;
        let mut answer = json!({
            "ok": true,
            "columns": columns,
            "column_types": output.columns.iter().map(|c| c.sql_type.clone()).collect::<Vec<_>>(),
            "total_rows": output.total_rows,
            "limit_applied": output.limit_applied,
            "rows": output.rows.iter().take(shown).collect::<Vec<_>>(),
        });
        if output.total_rows > shown as u64 {
            answer["note"] = json!(format!(
                "First {shown} of {} rows shown; the user sees up to {} rows.",
                output.total_rows, self.service.settings.prompt.max_returned_rows
            ));
        }
        answer
    }

    async fn load_dataset(&mut self, args: &Map<String, Value>) -> Value {
        let Some(url) = args.get("url").and_then(Value::as_str) else {
            return failure("Error loading dataset: the url argument is required.");
        };
        let name = args
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty());
        let load = self
            .service
            .dataset_service
            .add_url(self.user, self.conversation, url, name);
        let outcome = tokio::select! {
            outcome = load => outcome,
            () = self.cancel.cancelled() => return failure("Stopped by user"),
        };
        match outcome {
            Ok(dataset) => json!({
                "ok": true,
                "table": dataset.name,
                "row_count": dataset.row_count,
                "columns": schema_columns(&dataset).into_iter().map(|c| json!({"name": c.name, "type": c.sql_type})).collect::<Vec<_>>(),
            }),
            Err(error) => failure(&format!("Error loading dataset: {error}")),
        }
    }

    fn create_chart(&self, args: &Map<String, Value>) -> Value {
        let columns: Option<Vec<String>> = self.latest_success.map(|i| {
            self.executions
                .get(i)
                .and_then(SqlExecution::result)
                .map(|r| r.columns.clone())
                .unwrap_or_default()
        });
        match validate_chart(args, columns.as_deref()) {
            Ok(()) => {
                self.emit(DomainEvent::ChartSpec {
                    message_id: self.message_id,
                    execution_index: self.latest_success,
                    spec: args.clone(),
                });
                let kind = args
                    .get("chart_type")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let title = args
                    .get("title")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                json!({"ok": true, "message": format!("Chart created: {kind} — {title}")})
            }
            Err(message) => failure(&message),
        }
    }

    fn suggest_followups(&self, args: &Map<String, Value>) -> Value {
        let suggestions = clean_suggestions(args);
        if suggestions.is_empty() {
            return failure("No usable suggestions");
        }
        self.emit(DomainEvent::FollowupSuggestions {
            message_id: self.message_id,
            suggestions,
        });
        json!({"ok": true})
    }

    /// Runs one tool call (or refuses it beyond the cap).
    pub(super) async fn call(&mut self, call: &ToolCall) -> Value {
        let max = self.service.settings.max_tool_calls;
        self.tool_calls += 1;
        if self.tool_calls > max {
            return failure(&format!(
                "Tool call limit reached ({max} per answer). Answer now with the information you already have."
            ));
        }
        let args: Map<String, Value> = serde_json::from_str(&call.arguments).unwrap_or_default();
        self.emit(DomainEvent::ToolCallStarted {
            message_id: self.message_id,
            tool: call.name.clone(),
            args: args.clone(),
        });
        if crate::chat::TOOL_NAMES.contains(&call.name.as_str())
            && !self.setup.tools.contains(&call.name)
        {
            // Not offered to this user; a model may still try (docs/api.md, "Chat").
            return failure(&format!(
                "The tool '{}' is not available to this user. Answer without it.",
                call.name
            ));
        }
        match call.name.as_str() {
            "execute_sql" => self.execute_sql(&args).await,
            "load_dataset" => self.load_dataset(&args).await,
            "create_chart" => self.create_chart(&args),
            "suggest_followups" => self.suggest_followups(&args),
            other => failure(&format!("Unknown tool '{other}'")),
        }
    }
}
