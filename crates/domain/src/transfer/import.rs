//! Import (docs/api.md, "Import"): a conversation read from chatDF's shape or our own export. The HTTP layer reads
//! the body into these values with the documented messages; the rules about storing them live here.

use std::collections::BTreeMap;

use tabletalk_ports::{
    Compression, Conversation, Dataset, DatasetFormat, DatasetId, DatasetSource, DatasetStatus,
    Message, MessageRole, MessageStatus, SqlExecution, Timestamp, UserId,
};

use super::{ConversationTransfer, ordered_ids};
use crate::ConversationError;
use crate::datasets::{DatasetUrl, DatasetUrlError, upload_format, validate_table_name};

/// A conversation to import, shape-checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportedConversation {
    pub title: String,
    pub messages: Vec<ImportedMessage>,
    pub datasets: Vec<ImportedDataset>,
}

/// One message to import.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedMessage {
    pub role: MessageRole,
    pub content: String,
    /// `None` when absent or unreadable: the import time is used, keeping list order.
    pub created_at: Option<Timestamp>,
    pub sql_executions: Vec<SqlExecution>,
    pub reasoning: Option<String>,
}

/// One dataset to import: only its URL, a wished-for name and the people's column descriptions are trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedDataset {
    pub url: String,
    pub name: Option<String>,
    pub column_descriptions: BTreeMap<String, String>,
}

/// Why an import was refused; nothing is stored.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// `datasets[index].url` cannot be a dataset URL.
    #[error("datasets[{index}].url: {error}")]
    DatasetUrl {
        index: usize,
        error: DatasetUrlError,
    },
    /// More distinct datasets than a conversation may hold.
    #[error("datasets array exceeds the maximum of {0} datasets per conversation")]
    TooManyDatasets(u32),
    #[error(transparent)]
    Conversation(#[from] ConversationError),
}

impl From<tabletalk_ports::RepositoryError> for ImportError {
    fn from(error: tabletalk_ports::RepositoryError) -> Self {
        Self::Conversation(error.into())
    }
}

/// Titles are cut to 100 characters.
fn cut_title(title: &str) -> String {
    title.chars().take(100).collect()
}

/// Names in input order: a given valid name not yet taken (ignoring case) is kept; any other gets the next
/// automatic `table<N>`. Returns the names and the counter after them.
pub(super) fn assign_names(wished: &[Option<&str>]) -> (Vec<String>, i64) {
    let mut taken: Vec<String> = Vec::new();
    let mut counter = 1_i64;
    for wish in wished {
        let kept = wish.filter(|name| {
            validate_table_name(name).is_ok() && !taken.iter().any(|t| t.eq_ignore_ascii_case(name))
        });
        let name = kept.map_or_else(
            || loop {
                let candidate = format!("table{counter}");
                counter += 1;
                if !taken.iter().any(|t| t.eq_ignore_ascii_case(&candidate)) {
                    break candidate;
                }
            },
            str::to_owned,
        );
        taken.push(name);
    }
    (taken, counter)
}

impl ConversationTransfer {
    /// Import: stores the conversation, its messages (status `complete`, no token counts) and its datasets (status
    /// `loading`, normalised URL, duplicates dropped) in one transaction, then loads the datasets in the
    /// background, one at a time in input order. Nothing is fetched before this returns.
    ///
    /// # Errors
    /// `DatasetUrl`, `TooManyDatasets`: nothing stored; `Conversation` for storage failures.
    pub async fn import(
        &self,
        user: UserId,
        imported: ImportedConversation,
    ) -> Result<Conversation, ImportError> {
        let now = self.clock.now();
        let mut urls: Vec<(DatasetUrl, &ImportedDataset)> = Vec::new();
        for (index, dataset) in imported.datasets.iter().enumerate() {
            let url = DatasetUrl::parse(&dataset.url)
                .map_err(|error| ImportError::DatasetUrl { index, error })?;
            if !urls.iter().any(|(seen, _)| seen == &url) {
                urls.push((url, dataset));
            }
        }
        if urls.len() > usize::try_from(self.settings.max_datasets).unwrap_or(usize::MAX) {
            return Err(ImportError::TooManyDatasets(self.settings.max_datasets));
        }
        let wished: Vec<Option<&str>> = urls.iter().map(|(_, d)| d.name.as_deref()).collect();
        let (names, next_table_number) = assign_names(&wished);
        let conversation = Conversation {
            title: cut_title(&imported.title),
            next_table_number,
            ..Conversation::new(user, now)
        };
        let count = imported.messages.len();
        let messages: Vec<Message> = imported
            .messages
            .into_iter()
            .zip(ordered_ids(count))
            .map(|(m, id)| Message {
                id,
                role: m.role,
                status: MessageStatus::Complete,
                sql_executions: m.sql_executions,
                reasoning: m.reasoning,
                ..Message::user(conversation.id, m.content, m.created_at.unwrap_or(now))
            })
            .collect();
        let datasets: Vec<Dataset> = urls
            .into_iter()
            .zip(names)
            .map(|((url, imported), name)| {
                pending_dataset(
                    &conversation,
                    &url,
                    &imported.column_descriptions,
                    name,
                    now,
                )
            })
            .collect();
        // `updated_at` follows the newest message, as if the messages had been appended.
        let updated_at = messages
            .iter()
            .map(|m| m.created_at)
            .max()
            .map_or(now, |t| t.max(now));
        let conversation = Conversation {
            updated_at,
            ..conversation
        };
        self.conversation_store
            .create_with_contents(&conversation, &messages, &datasets)
            .await?;
        self.datasets.load_in_background(user, datasets);
        Ok(conversation)
    }
}

/// A dataset stored as `loading`, to be loaded in the background.
pub(super) fn pending_dataset(
    conversation: &Conversation,
    url: &DatasetUrl,
    column_descriptions: &BTreeMap<String, String>,
    name: String,
    now: Timestamp,
) -> Dataset {
    // The format is a guess until the content is read; loading records the real one.
    let (format, compression) =
        upload_format(url.url().path()).unwrap_or((DatasetFormat::Parquet, Compression::None));
    Dataset {
        id: DatasetId::new(),
        conversation_id: conversation.id,
        name,
        source: DatasetSource::Url,
        url: url.as_str().to_owned(),
        upload_id: None,
        format,
        compression,
        status: DatasetStatus::Loading,
        error_message: None,
        row_count: 0,
        column_count: 0,
        columns: Vec::new(),
        column_descriptions: column_descriptions.clone(),
        file_size_bytes: None,
        etag: None,
        last_modified: None,
        version: None,
        created_at: now,
        loaded_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::assign_names;

    #[test]
    fn valid_untaken_names_are_kept_and_the_rest_numbered() {
        let (names, next) = assign_names(&[
            Some("sales"),
            None,
            Some("SALES"),
            Some("select"),
            Some("table3"),
            Some("bad-name"),
        ]);
        assert_eq!(
            names,
            ["sales", "table1", "table2", "table3", "table4", "table5"]
        );
        assert_eq!(next, 6);
        assert_eq!(assign_names(&[]), (vec![], 1));
    }
}
