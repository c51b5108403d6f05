//! Datasets that arrive before their content (import, fork of a dataset still loading): stored as `loading`,
//! then loaded here one at a time, in order, through the same pipeline as an add by URL (SSRF guard, format
//! detection, description). Each ends `ready` with `dataset_loaded` (and the automatic profile) or `error` with
//! `dataset_failed`.

use std::sync::Arc;

use tabletalk_ports::{Dataset, DatasetStatus, UserId};

use super::DatasetService;
use super::service::apply_content;
use crate::events::DomainEvent;

/// What a dataset whose background load was cut off by a stop says.
pub const INTERRUPTED_LOAD: &str =
    "Loading was interrupted when the server stopped. Refresh the dataset to load it again.";

impl DatasetService {
    /// At start-up: datasets left `loading` by a stop become `error` (a refresh loads them again). Returns how many.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn fail_interrupted_loads(&self) -> Result<u64, crate::datasets::DatasetError> {
        Ok(self
            .datasets
            .fail_interrupted_loads(INTERRUPTED_LOAD)
            .await?)
    }

    /// Starts loading `datasets` (stored with status `loading`) in the background, in the given order.
    pub fn load_in_background(self: &Arc<Self>, user: UserId, datasets: Vec<Dataset>) {
        if datasets.is_empty() {
            return;
        }
        let service = self.clone();
        tokio::spawn(async move {
            for dataset in datasets {
                service.load_pending(user, dataset).await;
            }
        });
    }

    /// Loads one pending dataset and records the outcome. A dataset deleted meanwhile (or its conversation) is
    /// skipped: nothing is fetched for it and nothing is announced.
    async fn load_pending(&self, user: UserId, dataset: Dataset) {
        let Ok(Some(mut dataset)) = self
            .datasets
            .find(dataset.conversation_id, dataset.id)
            .await
        else {
            return;
        };
        if dataset.status != DatasetStatus::Loading {
            return;
        }
        let progress = self.progress(user, dataset.conversation_id, &dataset.url);
        match self.content.load_url(&dataset.url, progress).await {
            Ok(content) => {
                apply_content(&mut dataset, content, self.clock.now());
                match self.datasets.update_content(&dataset).await {
                    Ok(()) => self.after_load(user, &dataset),
                    Err(error) => tracing::warn!(
                        dataset = %dataset.id,
                        error = &error as &dyn std::error::Error,
                        "could not record a dataset loaded in the background"
                    ),
                }
            }
            Err(error) => {
                dataset.status = DatasetStatus::Error;
                dataset.error_message = Some(error.message.clone());
                if let Err(storage) = self.datasets.update_content(&dataset).await {
                    tracing::warn!(
                        dataset = %dataset.id,
                        error = &storage as &dyn std::error::Error,
                        "could not record a failed background load"
                    );
                }
                self.events.emit(
                    user,
                    dataset.conversation_id,
                    DomainEvent::DatasetFailed {
                        dataset_id: dataset.id,
                        error,
                    },
                );
            }
        }
    }
}
