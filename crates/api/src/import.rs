//! CSV import of people, shared by `safepulse import` and `POST /api/v1/people/import`.
//!
//! Columns: `email,name,team,leads,time_zone,locale` (a header row is required;
//! `team` is a path such as `Engineering/Platform`, created as needed). Every row is
//! parsed into domain values first; rows are applied in one transaction, and only
//! when all are valid — or, with `partial`, the valid ones.

use chrono::{DateTime, Utc};
use safepulse_domain::{Email, Locale, TimeZone};
use safepulse_store::audit::{self, AuditEvent};
use safepulse_store::org::{self, NewPerson, PersonChanges};
use safepulse_store::{Store, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

const EXPECTED_HEADER: [&str; 6] = ["email", "name", "team", "leads", "time_zone", "locale"];
const MAX_ROWS: usize = 50_000;

/// One valid row.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    pub line: u64,
    pub email: Email,
    pub name: String,
    pub team_path: Vec<String>,
    pub leads: bool,
    pub time_zone: TimeZone,
    pub locale: Locale,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct RejectedRow {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct ImportReport {
    /// Whether anything was written.
    pub applied: bool,
    pub accepted: usize,
    pub created: usize,
    pub updated: usize,
    pub rejected: Vec<RejectedRow>,
}

/// Parses the whole file; never fails as a whole except for a wrong header.
pub fn parse_people_csv(bytes: &[u8]) -> (Vec<ImportRow>, Vec<RejectedRow>) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header_ok = reader
        .headers()
        .map(|header| {
            header
                .iter()
                .map(str::to_ascii_lowercase)
                .eq(EXPECTED_HEADER.iter().map(|s| s.to_string()))
        })
        .unwrap_or(false);
    if !header_ok {
        let reason = format!(
            "the first line must be the header {}",
            EXPECTED_HEADER.join(",")
        );
        return (Vec::new(), vec![RejectedRow { line: 1, reason }]);
    }
    let mut rows = Vec::new();
    let mut rejected = Vec::new();
    let mut seen_emails = std::collections::HashMap::new();
    for (index, record) in reader.records().enumerate() {
        let line = index as u64 + 2;
        if index >= MAX_ROWS {
            rejected.push(RejectedRow {
                line,
                reason: format!("at most {MAX_ROWS} rows per import"),
            });
            break;
        }
        let row = record
            .map_err(|error| error.to_string())
            .and_then(|record| parse_row(line, &record));
        match row {
            Ok(row) => {
                if let Some(first) = seen_emails.insert(row.email.clone(), line) {
                    rejected.push(RejectedRow {
                        line,
                        reason: format!("email already on line {first}"),
                    });
                } else {
                    rows.push(row);
                }
            }
            Err(reason) => rejected.push(RejectedRow { line, reason }),
        }
    }
    (rows, rejected)
}

fn parse_row(line: u64, record: &csv::StringRecord) -> Result<ImportRow, String> {
    if record.len() != EXPECTED_HEADER.len() {
        return Err(format!(
            "expected {} columns, found {}",
            EXPECTED_HEADER.len(),
            record.len()
        ));
    }
    let email = Email::parse(&record[0]).map_err(|error| format!("email: {error}"))?;
    let name = record[1].trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err("name: must be 1–100 characters without control characters".to_owned());
    }
    let team_path: Vec<String> = record[2]
        .split('/')
        .map(|part| part.trim().to_owned())
        .collect();
    if team_path
        .iter()
        .any(|part| part.is_empty() || part.chars().count() > 100)
        || team_path.len() > 12
    {
        return Err(
            "team: a path like Engineering/Platform, each part 1–100 characters, at most 12 levels"
                .to_owned(),
        );
    }
    let leads = match record[3].to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => true,
        "false" | "no" | "0" | "" => false,
        other => return Err(format!("leads: {other:?} is not true or false")),
    };
    let time_zone = TimeZone::parse(&record[4]).map_err(|error| format!("time_zone: {error}"))?;
    let locale = if record[5].is_empty() {
        Locale::default()
    } else {
        Locale::parse(&record[5]).map_err(|error| format!("locale: {error}"))?
    };
    Ok(ImportRow {
        line,
        email,
        name: name.to_owned(),
        team_path,
        leads,
        time_zone,
        locale,
    })
}

/// Parses and, when allowed, applies an import in one transaction.
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
        rejected,
    };
    if rows.is_empty() || (!report.rejected.is_empty() && !partial) {
        return Ok(report);
    }
    let db = store.begin_write().await?;
    for row in &rows {
        let team_id = org::ensure_team_path(&db, &row.team_path, row.time_zone, now).await?;
        let person = match org::find_person_by_email(&db, &row.email).await? {
            Some(existing) => {
                let moved_from = (existing.team_id != team_id).then_some(existing.team_id);
                let changes = PersonChanges {
                    name: Some(row.name.clone()),
                    team_id: Some(team_id),
                    locale: Some(row.locale),
                    time_zone: Some(Some(row.time_zone)),
                    ..PersonChanges::default()
                };
                let person = org::update_person(&db, existing.id, changes, now).await?;
                if let Some(old_team) = moved_from {
                    record(&db, now, actor, "membership.left", old_team, person.id).await?;
                    record(&db, now, actor, "membership.joined", team_id, person.id).await?;
                }
                report.updated += 1;
                person
            }
            None => {
                let new = NewPerson {
                    email: row.email.clone(),
                    name: row.name.clone(),
                    team_id,
                    locale: row.locale,
                    time_zone: Some(row.time_zone),
                };
                let person = org::create_person(&db, new, now).await?;
                record(&db, now, actor, "membership.joined", team_id, person.id).await?;
                report.created += 1;
                person
            }
        };
        if row.leads {
            org::add_leader(&db, team_id, person.id).await?;
        } else if org::teams_led_by(&db, person.id).await?.contains(&team_id) {
            org::remove_leader(&db, team_id, person.id).await?;
        }
    }
    db.commit().await?;
    report.applied = true;
    Ok(report)
}

async fn record(
    db: &impl sea_orm::ConnectionTrait,
    now: DateTime<Utc>,
    actor: &str,
    action: &str,
    team_id: uuid::Uuid,
    person_id: uuid::Uuid,
) -> Result<(), StoreError> {
    audit::record(
        db,
        now,
        AuditEvent {
            actor,
            action,
            team_id: Some(team_id),
            target: Some(person_id.to_string()),
            details: serde_json::json!({ "source": "import" }),
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "email,name,team,leads,time_zone,locale\n";

    #[test]
    fn valid_rows_parse_into_domain_values() {
        let csv =
            format!("{HEADER}ada@example.com,Ada,Engineering/Platform,true,Europe/Berlin,de\n");
        let (rows, rejected) = parse_people_csv(csv.as_bytes());
        assert!(rejected.is_empty(), "{rejected:?}");
        assert_eq!(rows[0].team_path, vec!["Engineering", "Platform"]);
        assert!(rows[0].leads);
        assert_eq!(rows[0].locale, Locale::De);
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
    fn a_wrong_header_rejects_the_file() {
        let (rows, rejected) = parse_people_csv(b"mail,name\nx@example.com,X\n");
        assert!(rows.is_empty());
        assert_eq!(rejected[0].line, 1);
    }
}
