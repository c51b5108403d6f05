//! Dataset use cases (docs/api.md, "Datasets"): the rules around the content port — ownership, normalisation,
//! duplicates, names, limits, the one-transaction insert — and the events they publish.

use std::collections::BTreeMap;
use std::sync::Arc;

use tabletalk_ports::{
    Clock, Compression, ConversationId, Dataset, DatasetContent, DatasetFormat, DatasetId,
    DatasetRepository, DatasetSource, DatasetStatus, DatasetWriteError, LoadedContent, NewDataset,
    ProgressSink, QueryEngine, QueryOutput, Refreshed, RowLimits, StagedUpload, Timestamp, Upload,
    UploadId, UploadSink, UserId,
};

use super::DatasetUrl;
use super::errors::{DatasetError, query_failure};
use super::names::validate_table_name;
use super::query_errors::translate;
use super::tables::{query_tables, schema_columns, table_columns};
use crate::ConversationService;
use crate::events::{DomainEvent, EventBus};

/// `datasets.*` and the query limits dataset work uses.
#[derive(Debug, Clone, Copy)]
pub struct DatasetSettings {
    pub max_per_conversation: u32,
    pub profile_sample_rows: u64,
    pub query_timeout_secs: u64,
    pub memory_limit: u64,
}

/// Adds, renames, refreshes, deletes, describes and samples datasets.
pub struct DatasetService {
    conversations: Arc<ConversationService>,
    pub(super) datasets: Arc<dyn DatasetRepository>,
    pub(super) content: Arc<dyn DatasetContent>,
    engine: Arc<dyn QueryEngine>,
    pub(super) events: Arc<dyn EventBus>,
    pub(super) clock: Arc<dyn Clock>,
    settings: DatasetSettings,
    /// Where preview and profile queries are reported.
    telemetry: Arc<dyn tabletalk_ports::Telemetry>,
}

impl std::fmt::Debug for DatasetService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatasetService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// An upload accepted up to its content: the checks before reading the file have passed.
pub struct PendingUpload {
    sink: Box<dyn UploadSink>,
    meta: PendingUploadMeta,
}

impl std::fmt::Debug for PendingUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingUpload")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

/// Format and compression from an upload's file name (the upload list of docs/api.md, "Datasets").
pub fn upload_format(file_name: &str) -> Option<(DatasetFormat, Compression)> {
    let lower = file_name.to_lowercase();
    let (stem, compression) = match lower.strip_suffix(".gz") {
        Some(stem) => (stem, Compression::Gzip),
        None => (lower.as_str(), Compression::None),
    };
    let format = match stem.rsplit_once('.')?.1 {
        "parquet" | "pq" if compression == Compression::None => DatasetFormat::Parquet,
        "csv" => DatasetFormat::Csv,
        "tsv" => DatasetFormat::Tsv,
        "ndjson" | "jsonl" => DatasetFormat::Ndjson,
        _ => return None,
    };
    Some((format, compression))
}

/// The client's file name without path components, at most 255 characters.
pub fn sanitise_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
    if cleaned.is_empty() {
        "upload".to_owned()
    } else {
        cleaned
    }
}

fn write_error(error: DatasetWriteError) -> DatasetError {
    match error {
        DatasetWriteError::UrlExists => DatasetError::Exists,
        DatasetWriteError::NameTaken(name) => DatasetError::NameTaken(name),
        DatasetWriteError::LimitReached(n) => DatasetError::LimitReached(n),
        DatasetWriteError::Repository(e) => DatasetError::Storage(e),
    }
}

pub(super) fn apply_content(dataset: &mut Dataset, content: LoadedContent, now: Timestamp) {
    dataset.format = content.format;
    dataset.compression = content.compression;
    dataset.status = DatasetStatus::Ready;
    dataset.error_message = None;
    dataset.row_count = content.row_count;
    dataset.column_count = i64::try_from(content.columns.len()).unwrap_or(i64::MAX);
    // Descriptions of columns that no longer exist are dropped.
    dataset
        .column_descriptions
        .retain(|name, _| content.columns.iter().any(|c| &c.name == name));
    dataset.columns = content.columns;
    dataset.file_size_bytes = content.file_size_bytes;
    dataset.etag = content.etag;
    dataset.last_modified = content.last_modified;
    dataset.version = Some(content.version);
    dataset.loaded_at = Some(now);
}

/// A new ready dataset described by `content`; an empty `name` is assigned by the repository.
fn loaded_dataset(
    conversation: ConversationId,
    name: &str,
    (source, url, upload_id): (DatasetSource, String, Option<UploadId>),
    content: LoadedContent,
    now: Timestamp,
) -> Dataset {
    let mut dataset = Dataset {
        id: DatasetId::new(),
        conversation_id: conversation,
        name: name.to_owned(),
        source,
        url,
        upload_id,
        format: content.format,
        compression: content.compression,
        status: DatasetStatus::Ready,
        error_message: None,
        row_count: 0,
        column_count: 0,
        columns: Vec::new(),
        column_descriptions: BTreeMap::new(),
        file_size_bytes: None,
        etag: None,
        last_modified: None,
        version: None,
        created_at: now,
        loaded_at: None,
    };
    apply_content(&mut dataset, content, now);
    dataset
}

/// Rounds to `places` decimals.
pub fn round(value: f64, places: i32) -> f64 {
    let factor = 10_f64.powi(places);
    (value * factor).round() / factor
}

impl DatasetService {
    pub fn new(
        conversations: Arc<ConversationService>,
        datasets: Arc<dyn DatasetRepository>,
        content: Arc<dyn DatasetContent>,
        engine: Arc<dyn QueryEngine>,
        events: Arc<dyn EventBus>,
        clock: Arc<dyn Clock>,
        settings: DatasetSettings,
    ) -> Self {
        Self {
            conversations,
            datasets,
            content,
            engine,
            events,
            clock,
            settings,
            telemetry: Arc::new(tabletalk_ports::NoTelemetry),
        }
    }

    /// Reports preview and profile queries to `telemetry`.
    #[must_use]
    pub fn with_telemetry(mut self, telemetry: Arc<dyn tabletalk_ports::Telemetry>) -> Self {
        self.telemetry = telemetry;
        self
    }

    /// The engine, reporting each run under `origin`.
    fn metered(&self, origin: tabletalk_ports::QueryOrigin) -> Arc<dyn QueryEngine> {
        Arc::new(super::metered::MeteredEngine {
            inner: self.engine.clone(),
            telemetry: self.telemetry.clone(),
            origin,
        })
    }

    /// Progress of a long download, published on the bus (`dataset_progress`).
    pub(super) fn progress(
        &self,
        user: UserId,
        conversation: ConversationId,
        url: &str,
    ) -> ProgressSink {
        let events = self.events.clone();
        let url = url.to_owned();
        Arc::new(move |bytes, total| {
            events.emit(
                user,
                conversation,
                DomainEvent::DatasetProgress {
                    url: url.clone(),
                    bytes_loaded: bytes,
                    total_bytes: total,
                },
            );
        })
    }

    /// The user's dataset of an owned conversation ([ds] checks in order).
    pub async fn owned(
        &self,
        user: UserId,
        conversation: ConversationId,
        id: DatasetId,
    ) -> Result<Dataset, DatasetError> {
        self.conversations.owned(user, conversation).await?;
        self.datasets
            .find(conversation, id)
            .await?
            .ok_or(DatasetError::NotFound)
    }

    async fn pre_checks(
        &self,
        conversation: ConversationId,
        url: Option<&str>,
        name: Option<&str>,
    ) -> Result<(), DatasetError> {
        let existing = self.datasets.list_for_conversation(conversation).await?;
        if let Some(url) = url
            && existing
                .iter()
                .any(|d| d.source == DatasetSource::Url && d.url == url)
        {
            return Err(DatasetError::Exists);
        }
        if let Some(name) = name
            && existing.iter().any(|d| d.name.eq_ignore_ascii_case(name))
        {
            return Err(DatasetError::NameTaken(name.to_owned()));
        }
        if existing.len()
            >= usize::try_from(self.settings.max_per_conversation).unwrap_or(usize::MAX)
        {
            return Err(DatasetError::LimitReached(
                self.settings.max_per_conversation,
            ));
        }
        Ok(())
    }

    fn validate_name(name: Option<&str>) -> Result<(), DatasetError> {
        if let Some(name) = name {
            validate_table_name(name).map_err(|message| DatasetError::Validation {
                field: "name",
                message,
            })?;
        }
        Ok(())
    }

    /// Add by URL and the LLM's `load_dataset`: the add-by-URL pipeline, fail-fast; nothing is stored on failure.
    pub async fn add_url(
        &self,
        user: UserId,
        conversation: ConversationId,
        raw_url: &str,
        name: Option<&str>,
    ) -> Result<Dataset, DatasetError> {
        let raw_url = raw_url.trim();
        if raw_url.is_empty() || raw_url.chars().count() > 2048 {
            return Err(DatasetError::Validation {
                field: "url",
                message: "must be 1 to 2048 characters".to_owned(),
            });
        }
        Self::validate_name(name)?;
        self.conversations.owned(user, conversation).await?;
        let url = DatasetUrl::parse(raw_url)?;
        self.pre_checks(conversation, Some(url.as_str()), name)
            .await?;
        let content = self
            .content
            .load_url(
                url.as_str(),
                self.progress(user, conversation, url.as_str()),
            )
            .await?;
        let now = self.clock.now();
        let dataset = loaded_dataset(
            conversation,
            name.unwrap_or_default(),
            (DatasetSource::Url, url.as_str().to_owned(), None),
            content,
            now,
        );
        let added = self
            .datasets
            .add(NewDataset {
                dataset,
                custom_name: name.is_some(),
                max_per_conversation: self.settings.max_per_conversation,
                upload: None,
            })
            .await
            .map_err(write_error)?;
        self.after_load(user, &added.dataset);
        Ok(added.dataset)
    }

    /// Publishes `dataset_loaded` and schedules the automatic profile (`dataset_profiled`).
    pub(super) fn after_load(&self, user: UserId, dataset: &Dataset) {
        self.events.emit(
            user,
            dataset.conversation_id,
            DomainEvent::DatasetLoaded(Box::new(dataset.clone())),
        );
        self.schedule_profile(user, dataset.clone());
    }

    fn schedule_profile(&self, user: UserId, dataset: Dataset) {
        let engine = self.metered(tabletalk_ports::QueryOrigin::Profile);
        let events = self.events.clone();
        let settings = self.settings;
        tokio::spawn(async move {
            match profile(engine.as_ref(), user, &dataset, &settings).await {
                Ok(profiles) => events.emit(
                    user,
                    dataset.conversation_id,
                    DomainEvent::DatasetProfiled {
                        dataset_id: dataset.id,
                        profiles: profiles.profiles,
                    },
                ),
                Err(error) => {
                    tracing::info!(dataset = %dataset.id, %error, "automatic profile failed");
                }
            }
        });
    }

    /// Upload steps 1–4: the checks made before any byte of the file is read, then a staging file.
    pub async fn begin_upload(
        &self,
        user: UserId,
        conversation: ConversationId,
        file_name: &str,
        name: Option<&str>,
    ) -> Result<PendingUpload, DatasetError> {
        Self::validate_name(name)?;
        self.conversations.owned(user, conversation).await?;
        let (format, compression) =
            upload_format(file_name).ok_or(DatasetError::UnsupportedUpload)?;
        self.pre_checks(conversation, None, name).await?;
        let sink = self.content.begin_upload().await?;
        Ok(PendingUpload {
            sink,
            meta: PendingUploadMeta {
                user,
                conversation,
                original_name: sanitise_file_name(file_name),
                custom_name: name.map(str::to_owned),
                format,
                compression,
            },
        })
    }

    /// The upload once its file is on disk: a table name given after the file is checked now, then the file is
    /// inspected, kept and recorded. The staged file is always consumed (kept or deleted).
    pub async fn finish_upload(
        &self,
        staged: StagedDatasetUpload,
        late_name: Option<String>,
    ) -> Result<Dataset, DatasetError> {
        let StagedDatasetUpload {
            meta: mut upload,
            file: staged,
        } = staged;
        if upload.custom_name.is_none()
            && let Some(name) = late_name
        {
            if let Err(error) = Self::validate_name(Some(&name)) {
                self.content.discard_upload(&staged).await;
                return Err(error);
            }
            upload.custom_name = Some(name);
        }
        let content = match self
            .content
            .inspect_upload(&staged, upload.format, upload.compression)
            .await
        {
            Ok(content) => content,
            Err(error) => {
                self.content.discard_upload(&staged).await;
                return Err(error.into());
            }
        };
        let now = self.clock.now();
        let upload_id = UploadId::new();
        if let Err(error) = self.content.keep_upload(&staged, upload_id).await {
            self.content.discard_upload(&staged).await;
            return Err(error.into());
        }
        let dataset = loaded_dataset(
            upload.conversation,
            upload.custom_name.as_deref().unwrap_or_default(),
            (
                DatasetSource::Upload,
                format!("upload://{}", upload.original_name),
                Some(upload_id),
            ),
            content,
            now,
        );
        let record = Upload {
            id: upload_id,
            user_id: upload.user,
            sha256: staged.sha256.clone(),
            size_bytes: i64::try_from(staged.size_bytes).unwrap_or(i64::MAX),
            original_name: upload.original_name.clone(),
            format: upload.format,
            compression: upload.compression,
            created_at: now,
        };
        let added = self
            .datasets
            .add(NewDataset {
                dataset,
                custom_name: upload.custom_name.is_some(),
                max_per_conversation: self.settings.max_per_conversation,
                upload: Some(record),
            })
            .await;
        match added {
            Ok(added) => {
                if added.reused_upload {
                    // The same content is already stored for this user: keep one copy.
                    self.content.remove_upload(upload_id).await;
                }
                self.after_load(upload.user, &added.dataset);
                Ok(added.dataset)
            }
            Err(error) => {
                self.content.remove_upload(upload_id).await;
                Err(write_error(error))
            }
        }
    }

    /// Deletes a staged upload that will not be kept (the request failed after the file was read).
    pub async fn discard_staged(&self, staged: StagedDatasetUpload) {
        self.content.discard_upload(&staged.file).await;
    }

    /// Rename.
    pub async fn rename(
        &self,
        user: UserId,
        conversation: ConversationId,
        id: DatasetId,
        name: &str,
    ) -> Result<Dataset, DatasetError> {
        validate_table_name(name).map_err(|message| DatasetError::Validation {
            field: "tableName",
            message,
        })?;
        let mut dataset = self.owned(user, conversation, id).await?;
        if dataset.name != name {
            self.datasets.rename(id, name).await.map_err(write_error)?;
            name.clone_into(&mut dataset.name);
        }
        Ok(dataset)
    }

    /// Refresh: unchanged content keeps everything; changed content is re-described; errors leave the row as it was.
    pub async fn refresh(
        &self,
        user: UserId,
        conversation: ConversationId,
        id: DatasetId,
    ) -> Result<Dataset, DatasetError> {
        let mut dataset = self.owned(user, conversation, id).await?;
        if dataset.source == DatasetSource::Upload {
            return Ok(dataset);
        }
        let progress = self.progress(user, conversation, &dataset.url);
        let outcome = if dataset.status == DatasetStatus::Ready {
            self.content.refresh_url(&dataset, progress).await?
        } else {
            Refreshed::Changed(self.content.load_url(&dataset.url, progress).await?)
        };
        let Refreshed::Changed(content) = outcome else {
            return Ok(dataset);
        };
        apply_content(&mut dataset, content, self.clock.now());
        self.datasets.update_content(&dataset).await?;
        self.schedule_profile(user, dataset.clone());
        Ok(dataset)
    }

    /// Delete: the upload file goes after the commit when no dataset references it any more.
    pub async fn delete(
        &self,
        user: UserId,
        conversation: ConversationId,
        id: DatasetId,
    ) -> Result<(), DatasetError> {
        self.owned(user, conversation, id).await?;
        if let Some(upload) = self.datasets.delete(id).await? {
            self.content.remove_upload(upload).await;
        }
        Ok(())
    }

    /// After Delete/Delete all: the user's uploads that no dataset references any more lose their rows, then their
    /// files. Returns how many went.
    ///
    /// # Errors
    /// Storage failures (nothing is unlinked then; a later deletion sweeps them).
    pub async fn remove_unreferenced_uploads(&self, user: UserId) -> Result<usize, DatasetError> {
        let uploads = self.datasets.delete_unreferenced_uploads(user).await?;
        for upload in &uploads {
            self.content.remove_upload(*upload).await;
        }
        Ok(uploads.len())
    }

    /// Column descriptions.
    pub async fn descriptions(
        &self,
        user: UserId,
        conversation: ConversationId,
        id: DatasetId,
    ) -> Result<BTreeMap<String, String>, DatasetError> {
        Ok(self
            .owned(user, conversation, id)
            .await?
            .column_descriptions)
    }

    /// Replace the column descriptions: replaces the map; empty strings remove entries.
    pub async fn set_descriptions(
        &self,
        user: UserId,
        conversation: ConversationId,
        id: DatasetId,
        descriptions: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, DatasetError> {
        let dataset = self.owned(user, conversation, id).await?;
        let invalid = |message: String| DatasetError::Validation {
            field: "descriptions",
            message,
        };
        if descriptions.len() > 2000 {
            return Err(invalid("at most 2000 descriptions".to_owned()));
        }
        let columns: Vec<String> = schema_columns(&dataset)
            .into_iter()
            .map(|c| c.name)
            .collect();
        let mut kept = BTreeMap::new();
        for (key, text) in descriptions {
            if text.chars().count() > 500 {
                return Err(invalid(format!(
                    "Description for '{key}' exceeds 500 chars"
                )));
            }
            if !columns.contains(key) {
                return Err(invalid(format!("Unknown column '{key}'")));
            }
            if !text.is_empty() {
                kept.insert(key.clone(), text.clone());
            }
        }
        self.datasets.set_descriptions(id, &kept).await?;
        Ok(kept)
    }

    /// A ready dataset of an owned conversation.
    async fn ready(
        &self,
        user: UserId,
        conversation: ConversationId,
        id: DatasetId,
    ) -> Result<Dataset, DatasetError> {
        let dataset = self.owned(user, conversation, id).await?;
        if dataset.status != DatasetStatus::Ready {
            return Err(DatasetError::NotReady);
        }
        Ok(dataset)
    }

    /// Profile.
    pub async fn profile(
        &self,
        user: UserId,
        conversation: ConversationId,
        id: DatasetId,
    ) -> Result<Profiles, DatasetError> {
        let dataset = self.ready(user, conversation, id).await?;
        profile(
            self.metered(tabletalk_ports::QueryOrigin::Profile).as_ref(),
            user,
            &dataset,
            &self.settings,
        )
        .await
    }

    /// Profile one column.
    pub async fn profile_column(
        &self,
        user: UserId,
        conversation: ConversationId,
        id: DatasetId,
        column: &str,
    ) -> Result<(super::profile::ColumnStatistics, u64), DatasetError> {
        if column.is_empty() || column.chars().count() > 1024 {
            return Err(DatasetError::Validation {
                field: "column_name",
                message: "must be 1 to 1024 characters".to_owned(),
            });
        }
        let dataset = self.ready(user, conversation, id).await?;
        super::profile::profile_column(
            self.metered(tabletalk_ports::QueryOrigin::Profile).as_ref(),
            user,
            &dataset,
            &self.settings,
            column,
        )
        .await
    }

    /// Preview: the sample and the dataset's row count.
    pub async fn preview(
        &self,
        user: UserId,
        conversation: ConversationId,
        id: DatasetId,
        request: &super::profile::PreviewRequest,
    ) -> Result<(QueryOutput, i64), DatasetError> {
        let dataset = self.ready(user, conversation, id).await?;
        let output = super::profile::preview(
            self.metered(tabletalk_ports::QueryOrigin::Preview).as_ref(),
            user,
            &dataset,
            &self.settings,
            request,
        )
        .await?;
        Ok((output, dataset.row_count))
    }
}

/// Who and what a pending upload is for.
#[derive(Debug)]
struct PendingUploadMeta {
    user: UserId,
    conversation: ConversationId,
    original_name: String,
    custom_name: Option<String>,
    format: DatasetFormat,
    compression: Compression,
}

impl PendingUpload {
    /// Appends the next chunk of the file to the staging file.
    ///
    /// # Errors
    /// `Load` with `UploadTooLarge` past the size limit, or `Storage` when the disk fails.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), DatasetError> {
        Ok(self.sink.write(chunk).await?)
    }

    /// The whole file has been written: the staging file is complete and hashed.
    ///
    /// # Errors
    /// As [`PendingUpload::write`].
    pub async fn staged(self) -> Result<StagedDatasetUpload, DatasetError> {
        let file = self.sink.finish().await?;
        Ok(StagedDatasetUpload {
            meta: self.meta,
            file,
        })
    }
}

/// An upload whose file is completely on disk, waiting for the rest of the request (a name given after the file)
/// before [`DatasetService::finish_upload`] or [`DatasetService::discard_staged`].
#[derive(Debug)]
pub struct StagedDatasetUpload {
    meta: PendingUploadMeta,
    file: StagedUpload,
}

pub use super::profile::Profiles;

/// Runs one internal query over a single dataset.
pub(crate) async fn run_on(
    engine: &dyn QueryEngine,
    owner: UserId,
    dataset: &Dataset,
    settings: &DatasetSettings,
    sql: &str,
    limits: RowLimits,
) -> Result<QueryOutput, DatasetError> {
    let tables = query_tables(std::slice::from_ref(dataset));
    engine
        .run(owner, &tables, sql, limits)
        .await
        .map_err(|error| {
            DatasetError::Query(query_failure(
                error,
                settings.query_timeout_secs,
                settings.memory_limit,
                |problem, raw| {
                    translate(
                        problem,
                        raw,
                        sql,
                        &table_columns(std::slice::from_ref(dataset)),
                    )
                },
            ))
        })
}

use super::profile::profile;
