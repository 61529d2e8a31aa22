//! Wire shapes of the system metrics routes: the history query, and the list of samples.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use workbench_core::FieldError;
use workbench_system::Sample;

use crate::body::component;
use crate::problem::ApiError;

/// How far back the history goes when `minutes` is left out (or the whole retention, if shorter).
const DEFAULT_MINUTES: u32 = 15;

/// The schema of `format`.
#[derive(Debug)]
pub struct HistoryFormatSchema;

component!(
    HistoryFormatSchema,
    "SystemHistoryFormat",
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["json", "csv"]))
        .description(Some("`json`: `{data: [sample, ...]}`; `csv`: `text/csv` with a header row"))
);

/// `GET /system/metrics/history`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// How far back, in minutes: from 1 to the retention (`SYSTEM_METRICS_RETENTION`, 60 minutes
    /// by default). Default 15, or the whole retention when it is shorter.
    #[param(minimum = 1, example = 15, nullable = false)]
    pub minutes: Option<i64>,
    /// Default `json`.
    #[param(value_type = Option<HistoryFormatSchema>, inline, nullable = false)]
    pub format: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryFormat {
    Json,
    Csv,
}

impl HistoryQuery {
    /// The minutes and format asked for, with every value out of range named at once (`422`).
    pub fn parse(self, retention: Duration) -> Result<(u32, HistoryFormat), ApiError> {
        let kept = u32::try_from(retention.as_secs() / 60).unwrap_or(u32::MAX).max(1);
        let mut errors = Vec::new();
        let minutes = match self.minutes {
            None => DEFAULT_MINUTES.min(kept),
            Some(m) => match u32::try_from(m).ok().filter(|m| (1..=kept).contains(m)) {
                Some(m) => m,
                None => {
                    errors.push(FieldError::new("minutes", format!("must be from 1 to {kept} (the retention)")));
                    0
                }
            },
        };
        let format = match self.format.as_deref() {
            None | Some("json") => HistoryFormat::Json,
            Some("csv") => HistoryFormat::Csv,
            Some(_) => {
                errors.push(FieldError::new("format", "must be json or csv"));
                HistoryFormat::Json
            }
        };
        if errors.is_empty() { Ok((minutes, format)) } else { Err(ApiError::field_errors(errors)) }
    }
}

/// The samples of a history, oldest first.
#[derive(Debug, Serialize)]
pub struct Samples<'a> {
    pub data: Vec<&'a Sample>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(
        minutes: Option<i64>,
        format: Option<&str>,
        retention_minutes: u64,
    ) -> Result<(u32, HistoryFormat), Vec<String>> {
        HistoryQuery { minutes, format: format.map(str::to_owned) }
            .parse(Duration::from_secs(retention_minutes * 60))
            .map_err(|e| e.problem().errors.into_iter().map(|e| e.field).collect())
    }

    #[test]
    fn minutes_and_format_default_and_are_bounded_by_the_retention() {
        assert_eq!(parse(None, None, 60), Ok((15, HistoryFormat::Json)));
        assert_eq!(parse(None, None, 5), Ok((5, HistoryFormat::Json)), "never past the retention");
        assert_eq!(parse(Some(60), Some("csv"), 60), Ok((60, HistoryFormat::Csv)));
        assert_eq!(parse(Some(1), Some("json"), 60), Ok((1, HistoryFormat::Json)));
        assert_eq!(parse(Some(61), None, 60), Err(vec!["minutes".to_owned()]));
        assert_eq!(parse(Some(0), None, 60), Err(vec!["minutes".to_owned()]));
        assert_eq!(parse(Some(-5), Some("xml"), 60), Err(vec!["minutes".to_owned(), "format".to_owned()]));
        assert_eq!(parse(None, Some("CSV"), 60), Err(vec!["format".to_owned()]));
    }
}
