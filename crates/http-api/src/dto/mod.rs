//! Wire shapes shared by REST answers and WebSocket frames, so both say the same thing about a dataset, a message
//! or an answer's SQL (docs/api.md, "Objects"). Records and events stay typed until here.

mod dataset;
mod events;
mod export;
mod export_html;
mod import;
mod message;
mod profiles;

pub(crate) use dataset::{ColumnDto, DatasetDto, columns};
pub(crate) use events::event_frame;
pub(crate) use export::ExportDto;
pub(crate) use export_html::export_html;
pub(crate) use import::read_import;
pub(crate) use message::MessageDto;
pub(crate) use profiles::{profiles_json, statistics_json};
