//! CSV import of people, shared by `safepulse import` and `POST /api/v1/people/import`.
//!
//! Columns: `email,name,team,leads,time_zone,locale` (a header row is required, in
//! any letter case; a UTF-8 byte order mark before it is skipped; `team` is a path
//! such as `Engineering/Platform`, created as needed). Every row is parsed into
//! domain values first, names by the rule of the JSON API ([`Name::parse`]), and
//! every problem of a row is reported, not only the first. Rows are applied only
//! when all are valid — or, with `partial`, the valid ones — in short transactions
//! ([`people_import::apply`], [`import_people`]).

use chrono::{DateTime, Utc};
use safepulse_domain::{Email, Locale, Name, TimeZone};
use safepulse_store::people_import::{self, ImportedPerson};
use safepulse_store::{Backend, Store, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::FieldError;

const EXPECTED_HEADER: [&str; 6] = ["email", "name", "team", "leads", "time_zone", "locale"];
/// The most rows one import takes.
pub const MAX_ROWS: usize = 50_000;
/// The largest file `POST /api/v1/people/import` reads: 50,000 rows of up to about
/// 670 bytes each on average. The other endpoints keep `max_body_bytes`.
pub const MAX_IMPORT_BYTES: usize = 32 * 1024 * 1024;
/// The deepest team path.
const MAX_TEAM_LEVELS: usize = 12;

/// One valid row.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    pub line: u64,
    pub person: ImportedPerson,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct RejectedRow {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    /// Every problem of the row, `column: problem`, separated by `; `.
    pub reason: String,
    /// The same problems, one per entry, `field` naming the column.
    pub errors: Vec<FieldError>,
}

impl RejectedRow {
    fn new(line: u64, errors: Vec<FieldError>) -> RejectedRow {
        let reason = errors
            .iter()
            .map(|error| format!("{}: {}", error.field, error.message))
            .collect::<Vec<_>>()
            .join("; ");
        RejectedRow {
            line,
            reason,
            errors,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct ImportReport {
    /// Whether the rows were applied (all of them, or with `partial` the valid ones).
    pub applied: bool,
    /// Valid rows.
    pub accepted: usize,
    pub created: usize,
    pub updated: usize,
    /// Valid rows that already matched: nothing was written for them.
    pub unchanged: usize,
    pub rejected: Vec<RejectedRow>,
}

/// What a file whose fields hold semicolons probably is.
const SEMICOLON_HINT: &str = "the file looks separated by semicolons, as spreadsheets save \
                              CSV in some languages; save it separated by commas";

/// Parses the whole file; never fails as a whole except for a wrong header.
pub fn parse_people_csv(bytes: &[u8]) -> (Vec<ImportRow>, Vec<RejectedRow>) {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    // No trimming by the reader: a name is judged as written, by `Name::parse`, so
    // that a line break at its end is refused here as in the JSON API.
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let header = reader.headers().cloned().unwrap_or_default();
    let header_ok = header.len() == EXPECTED_HEADER.len()
        && header
            .iter()
            .zip(EXPECTED_HEADER)
            .all(|(found, expected)| found.trim().eq_ignore_ascii_case(expected));
    if !header_ok {
        let mut errors = vec![FieldError::new(
            "header",
            format!(
                "the first line must be the header {}",
                EXPECTED_HEADER.join(",")
            ),
        )];
        if header.iter().any(|field| field.contains(';')) {
            errors.push(FieldError::new("header", SEMICOLON_HINT));
        }
        return (Vec::new(), vec![RejectedRow::new(1, errors)]);
    }
    let mut rows = Vec::new();
    let mut rejected = Vec::new();
    let mut seen_emails = std::collections::HashMap::new();
    for (index, record) in reader.records().enumerate() {
        let line = index as u64 + 2;
        if index >= MAX_ROWS {
            let error = FieldError::new("file", format!("at most {MAX_ROWS} rows per import"));
            rejected.push(RejectedRow::new(line, vec![error]));
            break;
        }
        let row = match record {
            Ok(record) => parse_row(&record),
            Err(error) => Err(vec![FieldError::new("row", error)]),
        };
        match row {
            Ok(person) => {
                if let Some(first) = seen_emails.insert(person.email.clone(), line) {
                    let error = FieldError::new("email", format!("already on line {first}"));
                    rejected.push(RejectedRow::new(line, vec![error]));
                } else {
                    rows.push(ImportRow { line, person });
                }
            }
            Err(errors) => rejected.push(RejectedRow::new(line, errors)),
        }
    }
    (rows, rejected)
}

/// One row into domain values, or every problem it has.
fn parse_row(record: &csv::StringRecord) -> Result<ImportedPerson, Vec<FieldError>> {
    if record.len() != EXPECTED_HEADER.len() {
        let mut errors = vec![FieldError::new(
            "row",
            format!(
                "expected {} columns, found {}",
                EXPECTED_HEADER.len(),
                record.len()
            ),
        )];
        if record.iter().any(|field| field.contains(';')) {
            errors.push(FieldError::new("row", SEMICOLON_HINT));
        }
        return Err(errors);
    }
    let mut errors = Vec::new();
    let email = column(&mut errors, "email", Email::parse(&record[0]));
    let name = column(&mut errors, "name", Name::parse(&record[1]));
    let team_path = column(&mut errors, "team", parse_team_path(&record[2]));
    let leads = column(&mut errors, "leads", parse_leads(&record[3]));
    let time_zone = column(&mut errors, "time_zone", TimeZone::parse(&record[4]));
    let locale = if record[5].trim().is_empty() {
        Some(Locale::default())
    } else {
        column(&mut errors, "locale", Locale::parse(&record[5]))
    };
    match (email, name, team_path, leads, time_zone, locale) {
        (Some(email), Some(name), Some(team_path), Some(leads), Some(time_zone), Some(locale)) => {
            Ok(ImportedPerson {
                email,
                name,
                team_path,
                leads,
                time_zone,
                locale,
            })
        }
        _ => Err(errors),
    }
}

/// A column's value, or its problem added to `errors`.
fn column<T, E: std::fmt::Display>(
    errors: &mut Vec<FieldError>,
    name: &str,
    result: Result<T, E>,
) -> Option<T> {
    result
        .map_err(|error| errors.push(FieldError::new(name, error)))
        .ok()
}

/// `Engineering/Platform`: each level a [`Name`], at most 12 levels.
fn parse_team_path(raw: &str) -> Result<Vec<Name>, String> {
    let levels: Vec<&str> = raw.split('/').collect();
    if levels.len() > MAX_TEAM_LEVELS {
        return Err(format!(
            "a path like Engineering/Platform of at most {MAX_TEAM_LEVELS} levels"
        ));
    }
    let mut path = Vec::with_capacity(levels.len());
    let mut problems = Vec::new();
    for (index, level) in levels.into_iter().enumerate() {
        match Name::parse(level) {
            Ok(name) => path.push(name),
            Err(error) => problems.push(format!("level {} {error}", index + 1)),
        }
    }
    if problems.is_empty() {
        Ok(path)
    } else {
        Err(problems.join(", "))
    }
}

fn parse_leads(raw: &str) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" | "" => Ok(false),
        _ => Err(format!("{raw:?} is not true or false")),
    }
}

/// Rows per write transaction. On SQLite a transaction holds the one write lock
/// that every submitted answer waits for: 1,000 rows hold it for tens of
/// milliseconds, where all 50,000 at once held it for seconds.
const ROWS_PER_TRANSACTION: usize = 1_000;
/// See [`import_people`].
const SQLITE_GAP_BETWEEN_TRANSACTIONS: std::time::Duration = std::time::Duration::from_millis(120);

/// Parses the file and, when allowed, applies it: nothing when a row is invalid
/// (unless `partial`), else every valid row, in transactions of
/// [`ROWS_PER_TRANSACTION`] rows. Should the database fail midway, the rows of the
/// transactions before stay applied; importing the same file again finishes the
/// job, as an import is an idempotent upsert.
pub async fn import_people(
    store: &Store,
    bytes: &[u8],
    partial: bool,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<ImportReport, StoreError> {
    let (rows, rejected) = parse_people_csv(bytes);
    let mut report = ImportReport {
        applied: false,
        accepted: rows.len(),
        created: 0,
        updated: 0,
        unchanged: 0,
        rejected,
    };
    if !report.rejected.is_empty() && (rows.is_empty() || !partial) {
        return Ok(report);
    }
    let people: Vec<ImportedPerson> = rows.into_iter().map(|row| row.person).collect();
    for (index, chunk) in people.chunks(ROWS_PER_TRANSACTION).enumerate() {
        if index > 0 && store.backend() == Backend::Sqlite {
            // A writer waiting for SQLite's lock looks again every 100 ms once it has
            // waited a little (SQLite's busy handler); without a longer gap the next
            // part would take the lock first, every time, and a submitted answer
            // would wait through the whole import after all.
            tokio::time::sleep(SQLITE_GAP_BETWEEN_TRANSACTIONS).await;
        }
        let db = store.begin_write().await?;
        let counts = people_import::apply(&db, chunk, actor, now).await?;
        db.commit().await?;
        report.created += counts.created;
        report.updated += counts.updated;
        report.unchanged += counts.unchanged;
    }
    report.applied = true;
    Ok(report)
}

/// One line of a file as the console's preview shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewRow {
    pub line: u64,
    /// The row's address as written, when it has one.
    pub email: String,
    pub outcome: PreviewOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreviewOutcome {
    Created,
    Updated,
    Unchanged,
    /// Every problem of the row.
    Rejected(Vec<FieldError>),
}

/// What [`import_people`] would do with each line of `bytes`, found by applying
/// the valid rows with [`people_import::apply`] (the same decisions) in one
/// transaction that is rolled back: nothing is written. Lines in file order.
pub async fn preview_people(
    store: &Store,
    bytes: &[u8],
    now: DateTime<Utc>,
) -> Result<Vec<PreviewRow>, StoreError> {
    let (rows, rejected) = parse_people_csv(bytes);
    let mut preview: Vec<PreviewRow> = rejected
        .into_iter()
        .map(|row| PreviewRow {
            line: row.line,
            email: String::new(),
            outcome: PreviewOutcome::Rejected(row.errors),
        })
        .collect();
    if !rows.is_empty() {
        let people: Vec<ImportedPerson> = rows.iter().map(|row| row.person.clone()).collect();
        let db = store.begin_write().await?;
        let counts = people_import::apply(&db, &people, "preview", now).await?;
        db.rollback().await?;
        for (row, change) in rows.iter().zip(counts.rows) {
            preview.push(PreviewRow {
                line: row.line,
                email: row.person.email.as_str().to_owned(),
                outcome: match change {
                    people_import::RowChange::Created => PreviewOutcome::Created,
                    people_import::RowChange::Updated => PreviewOutcome::Updated,
                    people_import::RowChange::Unchanged => PreviewOutcome::Unchanged,
                },
            });
        }
    }
    // A rejected row's address, as written, helps find it in the file.
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes));
    let written: Vec<String> = reader
        .records()
        .map(|record| {
            record
                .ok()
                .and_then(|record| record.get(0).map(str::to_owned))
                .unwrap_or_default()
        })
        .collect();
    for row in &mut preview {
        if row.email.is_empty() {
            row.email = usize::try_from(row.line)
                .ok()
                .and_then(|line| written.get(line.checked_sub(2)?))
                .cloned()
                .unwrap_or_default();
        }
    }
    preview.sort_by_key(|row| row.line);
    Ok(preview)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const HEADER: &str = "email,name,team,leads,time_zone,locale\n";

    fn csv_with_row(fields: [&str; 6]) -> Vec<u8> {
        let mut writer = csv::Writer::from_writer(HEADER.as_bytes().to_vec());
        writer.write_record(fields).unwrap();
        writer.into_inner().unwrap()
    }

    #[test]
    fn valid_rows_parse_into_domain_values() {
        let csv =
            format!("{HEADER}ada@example.com,Ada,Engineering/Platform,true,Europe/Berlin,de\n");
        let (rows, rejected) = parse_people_csv(csv.as_bytes());
        assert!(rejected.is_empty(), "{rejected:?}");
        let names: Vec<&str> = rows[0].person.team_path.iter().map(Name::as_str).collect();
        assert_eq!(names, vec!["Engineering", "Platform"]);
        assert!(rows[0].person.leads);
        assert_eq!(rows[0].person.locale, Locale::De);
        assert_eq!(rows[0].line, 2);
    }

    #[test]
    fn bad_rows_are_reported_with_line_numbers_and_reasons() {
        let csv = format!(
            "{HEADER}ok@example.com,Ok,Ops,false,UTC,en\nnot-an-email,X,Ops,false,UTC,en\nb@example.com,B,Ops,maybe,UTC,en\nc@example.com,C,Ops,false,Mars/Base,en\nok@example.com,Again,Ops,false,UTC,en\nd@example.com,D\n"
        );
        let (rows, rejected) = parse_people_csv(csv.as_bytes());
        assert_eq!(rows.len(), 1);
        let lines: Vec<u64> = rejected.iter().map(|row| row.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6, 7]);
        assert!(rejected[0].reason.starts_with("email"));
        assert!(rejected[1].reason.starts_with("leads"));
        assert!(rejected[2].reason.starts_with("time_zone"));
        assert!(rejected[3].reason.contains("line 2"));
        assert!(rejected[4].reason.contains("columns"));
    }

    #[test]
    fn every_problem_of_a_row_is_reported() {
        let csv = format!("{HEADER}nope,,A//B,perhaps,Mars/Base,fr\n");
        let (rows, rejected) = parse_people_csv(csv.as_bytes());
        assert!(rows.is_empty());
        let fields: Vec<&str> = rejected[0]
            .errors
            .iter()
            .map(|error| error.field.as_str())
            .collect();
        assert_eq!(
            fields,
            ["email", "name", "team", "leads", "time_zone", "locale"]
        );
        assert!(rejected[0].errors[2].message.contains("level 2"));
        for column in EXPECTED_HEADER {
            assert!(
                rejected[0].reason.contains(&format!("{column}: ")),
                "{}",
                rejected[0].reason
            );
        }
    }

    #[test]
    fn a_semicolon_separated_file_gets_a_hint() {
        let (_, rejected) = parse_people_csv(
            b"email;name;team;leads;time_zone;locale\na@example.com;A;Ops;no;UTC;en\n",
        );
        assert_eq!(rejected[0].line, 1);
        assert!(rejected[0].reason.contains("semicolons"), "{rejected:?}");
        let csv = format!("{HEADER}a@example.com;A;Ops;no;UTC;en\n");
        let (_, rejected) = parse_people_csv(csv.as_bytes());
        assert!(rejected[0].reason.contains("semicolons"), "{rejected:?}");
    }

    #[test]
    fn a_byte_order_mark_and_header_case_are_accepted() {
        let csv =
            "\u{feff}Email,Name,Team,Leads,Time_Zone,Locale\r\na@example.com,A,Ops,no,UTC,en\r\n";
        let (rows, rejected) = parse_people_csv(csv.as_bytes());
        assert!(rejected.is_empty(), "{rejected:?}");
        assert_eq!(rows.len(), 1);
    }

    #[test]
    fn line_breaks_and_invisible_characters_in_names_are_refused() {
        for bad in [
            "Ops\r\nBcc: x",
            "Ops\n",
            "Ops\0",
            "O\u{202e}ps",
            "O\u{200b}ps",
        ] {
            let (rows, rejected) = parse_people_csv(&csv_with_row([
                "a@example.com",
                bad,
                bad,
                "no",
                "UTC",
                "en",
            ]));
            assert!(rows.is_empty(), "{bad:?}");
            let fields: Vec<&str> = rejected[0]
                .errors
                .iter()
                .map(|error| error.field.as_str())
                .collect();
            assert_eq!(fields, ["name", "team"], "{bad:?}");
        }
    }

    #[test]
    fn a_wrong_header_rejects_the_file() {
        let (rows, rejected) = parse_people_csv(b"mail,name\nx@example.com,X\n");
        assert!(rows.is_empty());
        assert_eq!(rejected[0].line, 1);
        let (rows, rejected) = parse_people_csv(b"");
        assert!(rows.is_empty());
        assert_eq!(rejected[0].line, 1, "an empty file has no header");
    }

    /// Characters names are made of, with the ones the rule is about well represented.
    fn name_characters() -> impl Strategy<Value = String> {
        let interesting = prop::sample::select(vec![
            ' ', '\t', '\n', '\r', '\0', '\u{1b}', '\u{7f}', '\u{85}', '\u{a0}', '\u{200b}',
            '\u{200d}', '\u{200e}', '\u{2028}', '\u{202e}', '\u{2066}', '\u{2069}', '\u{3000}',
            '\u{feff}', ',', '"', ';', 'a', 'Z', 'é', '李',
        ]);
        prop::collection::vec(prop_oneof![any::<char>(), interesting], 0..=103)
            .prop_map(|chars| chars.into_iter().collect())
    }

    proptest! {
        /// The JSON API and the CSV import accept exactly the same names, and keep
        /// the same value: one rule, `Name::parse`, behind both.
        #[test]
        fn the_csv_import_and_the_json_api_agree_on_every_name(name in name_characters()) {
            let mut errors = Vec::new();
            let json = crate::routes::parse_name("name", &name, &mut errors);
            let team = if name.contains('/') { "Ops" } else { name.as_str() };
            let (rows, rejected) =
                parse_people_csv(&csv_with_row(["a@example.com", &name, team, "no", "UTC", "en"]));
            match (&json, rows.first()) {
                (Some(json), Some(row)) => {
                    prop_assert_eq!(json, &row.person.name);
                    prop_assert!(rejected.is_empty());
                }
                (None, None) => {
                    let fields: Vec<&str> =
                        rejected[0].errors.iter().map(|error| error.field.as_str()).collect();
                    prop_assert!(fields.contains(&"name"), "{:?}", rejected);
                    prop_assert_eq!(fields.contains(&"team"), team == name);
                    prop_assert_eq!(&errors[0].message, &rejected[0].errors[0].message);
                }
                (json, row) => prop_assert!(false, "JSON {:?}, CSV {:?} {:?}", json, row, rejected),
            }
        }
    }
}
