//! How a conversation's turns call the model: the user's model and effective tools (docs/configuration.md, "Tool
//! access"), narrowed by the assistant the conversation started from (docs/api.md, "Assistants").

use tabletalk_ports::{Conversation, UserId};

use super::ChatService;

/// What one turn (and the prompt preview) uses, read once when the turn starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TurnSetup {
    pub model: String,
    pub temperature: Option<f64>,
    /// Effective for the user and, in an assistant's conversation, also among the assistant's tools.
    pub tools: Vec<String>,
    /// The assistant's instructions for the system prompt; `""` for none.
    pub instructions: String,
}

impl ChatService {
    /// The setup of the next turn in `conversation`. An assistant's model counts only while the deployment still
    /// offers it (else the user's own); its tools can only take tools away, never add one the user lacks.
    pub(crate) async fn turn_setup(&self, user: UserId, conversation: &Conversation) -> TurnSetup {
        let mut tools = self.user_settings.tools_for(user).await;
        let Some(assistant) = &conversation.assistant else {
            return TurnSetup {
                model: self.user_settings.model_for(user).await,
                temperature: None,
                tools,
                instructions: String::new(),
            };
        };
        if let Some(allowed) = &assistant.tools {
            tools.retain(|t| allowed.contains(t));
        }
        let offered = assistant
            .model
            .as_ref()
            .filter(|m| self.user_settings.model_choice().models.contains(m));
        let model = match offered {
            Some(model) => model.clone(),
            None => self.user_settings.model_for(user).await,
        };
        TurnSetup {
            model,
            temperature: assistant.temperature.map(tabletalk_ports::Temperature::get),
            tools,
            instructions: assistant.instructions.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use tabletalk_ports::{AssistantId, AssistantSetup, Conversation, Temperature, Timestamp};

    use crate::chat::TOOL_NAMES;
    use crate::testkit::kit;

    #[tokio::test]
    async fn an_assistant_narrows_the_users_setup_and_never_widens_it() {
        let kit = kit().await;
        let now = Timestamp::from_unix_millis(1_767_225_600_000).unwrap();
        let plain = Conversation::new(kit.user, now);
        let own = kit.chat.turn_setup(kit.user, &plain).await;
        assert_eq!(own.model, "test-model");
        assert_eq!(own.tools, TOOL_NAMES.map(str::to_owned));
        assert_eq!((own.temperature, own.instructions.as_str()), (None, ""));

        let started = Conversation {
            assistant: Some(AssistantSetup {
                assistant_id: AssistantId::new(),
                instructions: "FY starts in April.".to_owned(),
                // No longer in `llm.models`: the user's own model answers.
                model: Some("retired-model".to_owned()),
                temperature: Temperature::new(1.25),
                tools: Some(vec!["create_chart".to_owned(), "not_a_tool".to_owned()]),
            }),
            ..Conversation::new(kit.user, now)
        };
        let setup = kit.chat.turn_setup(kit.user, &started).await;
        assert_eq!(setup.model, "test-model");
        assert_eq!(setup.temperature, Some(1.25));
        assert_eq!(setup.tools, ["create_chart"]);
        assert_eq!(setup.instructions, "FY starts in April.");
    }
}
