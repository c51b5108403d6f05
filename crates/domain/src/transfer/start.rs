//! A conversation started from an assistant (docs/api.md, "Assistants"): it copies the assistant's setup and gets
//! its datasets, stored as `loading` in the same transaction and loaded in the background afterwards.

use tabletalk_ports::{Assistant, Conversation, Dataset, UserId};

use super::ConversationTransfer;
use super::import::{assign_names, pending_dataset};
use crate::ConversationError;
use crate::datasets::DatasetUrl;

impl ConversationTransfer {
    /// Stores a new conversation with `assistant`'s setup and its datasets (status `loading`, wished-for names
    /// where valid), then loads them one at a time in the assistant's order; each ends with `dataset_loaded` or
    /// `dataset_error`. The caller has checked that `user` may use the assistant.
    ///
    /// An assistant made under a larger `datasets.max_per_conversation` brings only its first datasets up to the
    /// current limit.
    ///
    /// # Errors
    /// `Storage`.
    pub async fn start_from(
        &self,
        user: UserId,
        assistant: &Assistant,
    ) -> Result<Conversation, ConversationError> {
        let now = self.clock.now();
        let limit = usize::try_from(self.settings.max_datasets).unwrap_or(usize::MAX);
        // Stored URLs were normalised when the assistant was saved; one that no longer parses is skipped.
        let urls: Vec<_> = assistant
            .datasets
            .iter()
            .filter_map(|d| DatasetUrl::parse(&d.url).ok().map(|url| (url, d)))
            .take(limit)
            .collect();
        if urls.len() < assistant.datasets.len() {
            tracing::warn!(
                assistant = %assistant.id,
                kept = urls.len(),
                "an assistant brings more datasets than a conversation may hold; the first ones are used"
            );
        }
        let wished: Vec<Option<&str>> = urls.iter().map(|(_, d)| d.name.as_deref()).collect();
        let (names, next_table_number) = assign_names(&wished);
        let conversation = Conversation {
            next_table_number,
            assistant: Some(assistant.setup()),
            ..Conversation::new(user, now)
        };
        let datasets: Vec<Dataset> = urls
            .iter()
            .zip(names)
            .map(|((url, d), name)| {
                pending_dataset(&conversation, url, &d.column_descriptions, name, now)
            })
            .collect();
        self.conversation_store
            .create_with_contents(&conversation, &[], &datasets)
            .await?;
        self.datasets.load_in_background(user, datasets);
        Ok(conversation)
    }
}
