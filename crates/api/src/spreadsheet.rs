//! CSV and XLSX downloads of report tables (issue 13, point 5): the HR export
//! (`GET /api/v1/releases`) and a round's heatmap, for people who work in a
//! spreadsheet.
//!
//! A [`Table`] is built by the report code from what the release gate already
//! returned for JSON (the same rows, the same privacy decision: a suppressed release
//! has no figures to put in a cell), then written as CSV or XLSX here. This module
//! decides only the *format*: which one the client asked for
//! ([`ExportFormat::negotiate`]), how numbers are rounded ([`Cell::Number`], the
//! precision documented in the OpenAPI document) and how text is kept from being
//! read as a formula.

use actix_web::HttpResponse;
use actix_web::http::header;
use rust_xlsxwriter::{Format, Workbook, XlsxError};
use serde::Deserialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::error::ApiError;

/// The media type of an XLSX workbook.
pub const XLSX_MEDIA_TYPE: &str =
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
/// The media type of the CSV downloads (UTF-8, without a byte order mark, with a
/// header row).
pub const CSV_MEDIA_TYPE: &str = "text/csv; charset=utf-8; header=present";

/// The `format` query parameter of the downloadable reports: it wins over `Accept`
/// (a link in a browser cannot set a header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FormatParam {
    Json,
    Csv,
    Xlsx,
}

/// The query string of a report that only takes a format (the heatmap).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FormatQuery {
    /// `json` (default), `csv` or `xlsx`; overrides the `Accept` header.
    #[param(inline)]
    pub format: Option<FormatParam>,
}

/// An XLSX download in the OpenAPI document: bytes of an Office Open XML workbook.
#[derive(Debug)]
pub struct XlsxWorkbook;

impl PartialSchema for XlsxWorkbook {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .description(Some(
                "An Excel workbook (Office Open XML) with one worksheet: a bold header row, \
                 then the rows, numbers rounded as the operation says.",
            ))
            .into()
    }
}

impl ToSchema for XlsxWorkbook {}

/// What a report is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Json,
    Csv,
    Xlsx,
}

impl ExportFormat {
    /// `format` if given, else the `Accept` header's most preferred type among JSON,
    /// CSV and XLSX (no header, `*/*` or `application/*` are JSON). An `Accept` that
    /// names none of them is `406 not_acceptable`.
    pub fn negotiate(
        format: Option<FormatParam>,
        accept: Option<&str>,
    ) -> Result<ExportFormat, ApiError> {
        if let Some(format) = format {
            return Ok(match format {
                FormatParam::Json => ExportFormat::Json,
                FormatParam::Csv => ExportFormat::Csv,
                FormatParam::Xlsx => ExportFormat::Xlsx,
            });
        }
        let Some(accept) = accept.filter(|accept| !accept.trim().is_empty()) else {
            return Ok(ExportFormat::Json);
        };
        let mut best: Option<(f32, usize, ExportFormat)> = None;
        for (position, range) in accept.split(',').enumerate() {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let quality = parts
                .filter_map(|parameter| parameter.trim().strip_prefix("q="))
                .find_map(|value| value.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if quality <= 0.0 {
                continue;
            }
            let format = match media.as_str() {
                "application/json" | "application/problem+json" | "application/*" | "*/*" => {
                    ExportFormat::Json
                }
                "text/csv" | "text/*" => ExportFormat::Csv,
                XLSX_MEDIA_TYPE => ExportFormat::Xlsx,
                _ => continue,
            };
            // Highest quality wins; between equals, the first named.
            let better = match best {
                None => true,
                Some((best_quality, _, _)) => quality > best_quality,
            };
            if better {
                best = Some((quality, position, format));
            }
        }
        best.map(|(_, _, format)| format)
            .ok_or(ApiError::NotAcceptable {
                available: "application/json, text/csv or an XLSX workbook",
            })
    }
}

/// One cell of a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    /// Written rounded to `decimals` places (to the nearest, as Rust's `{:.N}`
    /// formats the exact binary value), the same in CSV and XLSX.
    Number {
        value: f64,
        decimals: usize,
    },
    Integer(i64),
    /// Nothing released here: a suppressed release, a dimension not asked, a figure
    /// only a detail release has.
    Empty,
}

impl Cell {
    pub fn text(value: impl Into<String>) -> Cell {
        Cell::Text(value.into())
    }

    /// `value` to `decimals` places; `None` is an empty cell.
    pub fn number(value: Option<f64>, decimals: usize) -> Cell {
        match value {
            Some(value) if value.is_finite() => Cell::Number { value, decimals },
            _ => Cell::Empty,
        }
    }

    /// The number as written: rounded, and never `-0.00`.
    fn rounded_text(value: f64, decimals: usize) -> String {
        let text = format!("{value:.decimals$}");
        if text.starts_with('-') && text[1..].chars().all(|c| c == '0' || c == '.') {
            text[1..].to_owned()
        } else {
            text
        }
    }
}

/// A report as rows under a header row.
#[derive(Debug, Clone)]
pub struct Table {
    /// The worksheet's name in XLSX (at most 31 characters).
    pub sheet_name: &'static str,
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn to_csv(&self) -> Result<Vec<u8>, ApiError> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer
            .write_record(&self.header)
            .map_err(ApiError::internal)?;
        for row in &self.rows {
            writer
                .write_record(row.iter().map(|cell| match cell {
                    Cell::Text(text) => csv_text(text),
                    Cell::Number { value, decimals } => Cell::rounded_text(*value, *decimals),
                    Cell::Integer(value) => value.to_string(),
                    Cell::Empty => String::new(),
                }))
                .map_err(ApiError::internal)?;
        }
        writer.into_inner().map_err(ApiError::internal)
    }

    pub fn to_xlsx(&self) -> Result<Vec<u8>, ApiError> {
        self.write_xlsx().map_err(ApiError::internal)
    }

    fn write_xlsx(&self) -> Result<Vec<u8>, XlsxError> {
        let mut workbook = Workbook::new();
        let bold = Format::new().set_bold();
        let formats: Vec<Format> = (0..=3)
            .map(|decimals| match decimals {
                0 => Format::new().set_num_format("0"),
                places => Format::new().set_num_format(format!("0.{}", "0".repeat(places))),
            })
            .collect();
        let sheet = workbook.add_worksheet();
        sheet.set_name(self.sheet_name)?;
        for (column, title) in self.header.iter().enumerate() {
            sheet.write_string_with_format(0, column_index(column), title, &bold)?;
        }
        for (index, row) in self.rows.iter().enumerate() {
            let line = u32::try_from(index + 1).unwrap_or(u32::MAX);
            for (column, cell) in row.iter().enumerate() {
                let column = column_index(column);
                match cell {
                    // Written as a string, never as a formula, whatever it starts with.
                    Cell::Text(text) => {
                        sheet.write_string(line, column, text)?;
                    }
                    Cell::Number { value, decimals } => {
                        // The same rounded value the CSV holds, not the full precision.
                        let rounded: f64 = Cell::rounded_text(*value, *decimals)
                            .parse()
                            .unwrap_or(*value);
                        let format = &formats[(*decimals).min(formats.len() - 1)];
                        sheet.write_number_with_format(line, column, rounded, format)?;
                    }
                    Cell::Integer(value) => {
                        // Counts stay far below 2^53: exact as a double.
                        sheet.write_number(line, column, *value as f64)?;
                    }
                    Cell::Empty => {}
                }
            }
        }
        sheet.set_freeze_panes(1, 0)?;
        sheet.autofit();
        workbook.save_to_buffer()
    }

    /// The table as a download in `format` (CSV or XLSX), named `file_stem.csv` or
    /// `file_stem.xlsx`.
    pub fn download(
        &self,
        format: ExportFormat,
        file_stem: &str,
    ) -> Result<HttpResponse, ApiError> {
        let (media_type, extension, body) = match format {
            ExportFormat::Csv => (CSV_MEDIA_TYPE, "csv", self.to_csv()?),
            ExportFormat::Xlsx => (XLSX_MEDIA_TYPE, "xlsx", self.to_xlsx()?),
            ExportFormat::Json => {
                return Err(ApiError::internal(anyhow::anyhow!(
                    "a table is written as CSV or XLSX, JSON comes from the report itself"
                )));
            }
        };
        Ok(HttpResponse::Ok()
            .content_type(media_type)
            // Released figures, like every report: kept by no cache on the way.
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_stem}.{extension}\""),
            ))
            .body(body))
    }
}

fn column_index(column: usize) -> u16 {
    u16::try_from(column).unwrap_or(u16::MAX)
}

/// Text a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, tab, carriage
/// return first: CSV injection) gets a leading `'`, which spreadsheets show as text.
fn csv_text(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_parameter_wins_over_accept_and_accept_picks_the_preferred_type() {
        let negotiate = |format, accept| ExportFormat::negotiate(format, accept).ok();
        assert_eq!(negotiate(None, None), Some(ExportFormat::Json));
        assert_eq!(negotiate(None, Some("*/*")), Some(ExportFormat::Json));
        assert_eq!(negotiate(None, Some("text/csv")), Some(ExportFormat::Csv));
        assert_eq!(
            negotiate(None, Some("application/json;q=0.5, text/csv")),
            Some(ExportFormat::Csv)
        );
        let prefers_xlsx = format!("{XLSX_MEDIA_TYPE}, */*;q=0.1");
        assert_eq!(
            negotiate(None, Some(&prefers_xlsx)),
            Some(ExportFormat::Xlsx)
        );
        assert_eq!(
            negotiate(Some(FormatParam::Csv), Some("application/json")),
            Some(ExportFormat::Csv)
        );
        assert_eq!(negotiate(None, Some("text/html")), None);
        assert_eq!(negotiate(None, Some("text/csv;q=0")), None);
    }

    #[test]
    fn numbers_are_rounded_alike_in_both_formats_and_never_negative_zero() {
        assert_eq!(Cell::rounded_text(5.123_456, 2), "5.12");
        assert_eq!(Cell::rounded_text(62.55, 1), "62.5");
        assert_eq!(Cell::rounded_text(-0.001, 2), "0.00");
        assert_eq!(Cell::rounded_text(-0.3, 1), "-0.3");
    }

    #[test]
    fn text_that_a_spreadsheet_would_run_as_a_formula_is_quoted_in_csv() {
        let table = Table {
            sheet_name: "Test",
            header: vec!["name".into(), "mean".into()],
            rows: vec![vec![
                Cell::text("=HYPERLINK(\"x\")"),
                Cell::number(Some(4.256), 2),
            ]],
        };
        let csv = String::from_utf8(table.to_csv().unwrap()).unwrap();
        assert_eq!(csv, "name,mean\n\"'=HYPERLINK(\"\"x\"\")\",4.26\n");
    }
}
