//! Column profiles and one column's statistics, as the profile endpoints and `dataset_profiled` send them.

use serde_json::{Map, Value, json};
use tabletalk_domain::datasets::{
    ColumnProfile, ColumnStatistics, ProfileDetail, StatisticsDetail,
};

/// `{name, type, null_count, null_percent, unique_count}` plus the keys of the column's kind.
pub(crate) fn profile_json(profile: &ColumnProfile) -> Value {
    let mut object = Map::new();
    object.insert("name".into(), json!(profile.name));
    object.insert("type".into(), json!(profile.sql_type));
    object.insert("null_count".into(), json!(profile.null_count));
    object.insert("null_percent".into(), json!(profile.null_percent));
    object.insert("unique_count".into(), json!(profile.unique_count));
    match &profile.detail {
        ProfileDetail::Numeric { min, max, mean } => {
            object.insert("min".into(), min.clone());
            object.insert("max".into(), max.clone());
            object.insert("mean".into(), json!(mean));
        }
        ProfileDetail::Text {
            min_length,
            max_length,
        } => {
            object.insert("min_length".into(), min_length.clone());
            object.insert("max_length".into(), max_length.clone());
        }
        ProfileDetail::Temporal { min, max } => {
            object.insert("min".into(), min.clone());
            object.insert("max".into(), max.clone());
        }
        ProfileDetail::Plain => {}
    }
    Value::Object(object)
}

pub(crate) fn profiles_json(profiles: &[ColumnProfile]) -> Vec<Value> {
    profiles.iter().map(profile_json).collect()
}

/// `{null_count, distinct_count}` plus the keys of the column's kind.
pub(crate) fn statistics_json(stats: &ColumnStatistics) -> Value {
    let mut object = Map::new();
    object.insert("null_count".into(), json!(stats.null_count));
    object.insert("distinct_count".into(), json!(stats.distinct_count));
    match &stats.detail {
        StatisticsDetail::Numeric {
            min,
            max,
            mean,
            median,
            histogram,
        } => {
            object.insert("min".into(), min.clone());
            object.insert("max".into(), max.clone());
            object.insert("mean".into(), json!(mean));
            object.insert("median".into(), median.clone());
            let bins: Vec<Value> = histogram
                .iter()
                .map(|bin| json!({"lower": bin.lower, "upper": bin.upper, "count": bin.count}))
                .collect();
            object.insert("histogram".into(), Value::Array(bins));
        }
        StatisticsDetail::Text {
            min_length,
            max_length,
            top_values,
        } => {
            object.insert("min_length".into(), min_length.clone());
            object.insert("max_length".into(), max_length.clone());
            let top: Vec<Value> = top_values
                .iter()
                .map(|(value, count)| json!({"value": value, "count": count}))
                .collect();
            object.insert("top_5_values".into(), Value::Array(top));
        }
        StatisticsDetail::Temporal { min, max } => {
            object.insert("min".into(), min.clone());
            object.insert("max".into(), max.clone());
        }
        StatisticsDetail::Plain => {}
    }
    Value::Object(object)
}
