//! HR exports in CSV and XLSX (issue 13, point 5): the HR export and the heatmap
//! as downloads, chosen by `Accept` or `?format=`, with the JSON's privacy gate (a
//! hidden release has empty cells, never a figure), numbers rounded as the OpenAPI
//! document says, `406` for a type neither writes, every download audited, and the
//! dashboard's download button.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use safepulse_domain::Role;
use safepulse_tests::{TestApp, on_both_databases};
use serde_json::Value;

use crate::dashboard::{page, signed_in};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The release columns, in the order the OpenAPI document gives them.
const RELEASE_HEADER: [&str; 21] = [
    "release_id",
    "round_id",
    "survey_id",
    "period_key",
    "closed_at",
    "node_id",
    "team_id",
    "node_name",
    "node_kind",
    "status",
    "detail",
    "respondents",
    "rounded_to",
    "dimension",
    "mean",
    "ci_low",
    "ci_high",
    "ci_sd_source",
    "favourable_percent",
    "sd",
    "agreement_rwg",
];

async fn download(
    app: &TestApp,
    path: &str,
    token: &str,
    accept: Option<&str>,
) -> (u16, String, Vec<u8>) {
    let mut request = app.client.get(app.url(path)).bearer_auth(token);
    if let Some(accept) = accept {
        request = request.header("Accept", accept);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        status,
        content_type,
        response.bytes().await.unwrap().to_vec(),
    )
}

fn csv_records(body: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(body);
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|record| record.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// The workbook's one sheet as text cells, numbers written as the CSV writes them
/// (so the two downloads can be compared cell by cell).
fn xlsx_cells(body: Vec<u8>, sheet: &str) -> Vec<Vec<Data>> {
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(body)).expect("an XLSX file");
    assert_eq!(workbook.sheet_names(), vec![sheet.to_owned()]);
    let range = workbook.worksheet_range(sheet).unwrap();
    range.rows().map(<[Data]>::to_vec).collect()
}

fn same_cell(xlsx: &Data, csv: &str) -> bool {
    match xlsx {
        Data::Empty => csv.is_empty(),
        Data::String(text) => text == csv,
        Data::Float(number) => csv.parse::<f64>().is_ok_and(|value| value == *number),
        Data::Int(number) => csv.parse::<i64>().is_ok_and(|value| value == *number),
        _ => false,
    }
}

fn column(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|title| title == name)
        .unwrap_or_else(|| panic!("a {name} column"))
}

on_both_databases! {
    async fn the_hr_export_downloads_as_csv_and_xlsx_rounded_with_hidden_releases_empty(app) {
        let (_, round_id) = app.closed_round_of_two_teams().await;
        let hr = app.token(Role::Hr, "people@example.com").await;
        let path = format!("/api/v1/releases?round_id={round_id}&limit=200");
        let response = app.get(&path, &hr).await;
        assert_eq!(response.status(), 200);
        let json: Value = response.json().await.unwrap();
        let items = json["items"].as_array().unwrap();
        assert!(items.iter().any(|item| item["release"]["status"] == "suppressed"), "a hidden release to test with");

        let (status, content_type, body) = download(&app, &path, &hr, Some("text/csv")).await;
        assert_eq!(status, 200);
        assert!(content_type.starts_with("text/csv"), "{content_type}");
        let (header, rows) = csv_records(&body);
        assert_eq!(header, RELEASE_HEADER.map(str::to_owned).to_vec());
        let status_at = column(&header, "status");
        let respondents_at = column(&header, "respondents");
        let mean_at = column(&header, "mean");
        let favourable_at = column(&header, "favourable_percent");
        for item in items {
            let id = item["id"].as_str().unwrap();
            let own: Vec<&Vec<String>> = rows.iter().filter(|row| row[0] == id).collect();
            match item["release"]["status"].as_str().unwrap() {
                "suppressed" => {
                    assert_eq!(own.len(), 1, "one row for a hidden release");
                    assert_eq!(own[0][status_at], "suppressed");
                    assert!(
                        own[0][respondents_at..].iter().all(String::is_empty),
                        "a hidden release has no figure, not even its count: {:?}",
                        own[0]
                    );
                }
                "released" => {
                    let dimensions = item["release"]["figures"]["dimensions"].as_array().unwrap();
                    assert_eq!(own.len(), dimensions.len(), "a row per dimension");
                    for (row, dimension) in own.iter().zip(dimensions) {
                        let mean = dimension["mean"].as_f64().unwrap();
                        let favourable = dimension["favourability_percent"].as_f64().unwrap();
                        assert_eq!(row[mean_at], format!("{mean:.2}"), "means to 2 decimals");
                        assert_eq!(row[favourable_at], format!("{favourable:.1}"), "shares to 1 decimal");
                        assert_eq!(
                            row[respondents_at],
                            item["release"]["figures"]["respondents"].to_string()
                        );
                    }
                }
                other => panic!("no rounded release in this round: {other}"),
            }
        }
        // Full precision stays in the JSON: some mean there has more than 2 decimals.
        assert!(items.iter().flat_map(|item| item["release"]["figures"]["dimensions"].as_array().into_iter().flatten())
            .any(|dimension| dimension["mean"].to_string().len() > 6), "JSON keeps full precision");

        let (status, content_type, body) = download(&app, &format!("{path}&format=xlsx"), &hr, None).await;
        assert_eq!(status, 200);
        assert_eq!(content_type, XLSX);
        let cells = xlsx_cells(body, "Releases");
        assert_eq!(cells.len(), rows.len() + 1, "the same rows as the CSV");
        for (xlsx_row, csv_row) in cells.iter().zip(std::iter::once(&header).chain(&rows)) {
            for (xlsx, csv) in xlsx_row.iter().zip(csv_row) {
                assert!(same_cell(xlsx, csv), "XLSX {xlsx:?} against CSV {csv:?}");
            }
        }
        // `?format=` wins over `Accept`; a type neither writes is 406 problem+json.
        let (_, content_type, _) = download(&app, &format!("{path}&format=csv"), &hr, Some("application/json")).await;
        assert!(content_type.starts_with("text/csv"), "{content_type}");
        let (status, content_type, body) = download(&app, &path, &hr, Some("text/html")).await;
        assert_eq!(status, 406);
        assert_eq!(content_type, "application/problem+json");
        let problem: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["code"], "not_acceptable");
        // A manager gets no export in any format.
        let manager = app.token(Role::Manager, "lead.t0@example.com").await;
        let (status, _, _) = download(&app, &format!("{path}&format=csv"), &manager, None).await;
        assert_eq!(status, 403);

        let audit: Value = app.get("/api/v1/audit?limit=200", &app.admin_token().await).await.json().await.unwrap();
        let formats: Vec<&str> = audit["items"].as_array().unwrap().iter()
            .filter(|entry| entry["action"] == "report.exported")
            .map(|entry| entry["details"]["format"].as_str().unwrap())
            .collect();
        assert_eq!(formats, ["json", "csv", "xlsx", "csv"], "every download is audited with its format");
    }

    async fn a_long_export_download_links_its_next_page(app) {
        let (_, round_id) = app.closed_round_of_two_teams().await;
        let hr = app.token(Role::Hr, "people@example.com").await;
        let response = app
            .client
            .get(app.url(&format!("/api/v1/releases?round_id={round_id}&limit=2&format=csv")))
            .bearer_auth(&hr)
            .send()
            .await
            .unwrap();
        let link = response.headers()["link"].to_str().unwrap().to_owned();
        assert!(link.starts_with(&format!("</api/v1/releases?round_id={round_id}&limit=2&format=csv&cursor=")), "{link}");
        assert!(link.ends_with(">; rel=\"next\""), "{link}");
        let next = &link[1..link.find('>').unwrap()];
        let (status, _, body) = download(&app, next, &hr, None).await;
        assert_eq!(status, 200);
        let (_, first) = csv_records(&response.bytes().await.unwrap());
        let (_, second) = csv_records(&body);
        assert!(!second.is_empty());
        assert!(second.iter().all(|row| first.iter().all(|other| other[0] != row[0])), "the next page holds other releases");
    }

    async fn the_heatmap_downloads_from_the_api_and_the_dashboard_button_with_hidden_nodes_empty(app) {
        let (org, round_id) = app.closed_round_of_two_teams().await;
        let hr = app.token(Role::Hr, "people@example.com").await;
        let path = format!("/api/v1/reports/rounds/{round_id}/heatmap");
        let json: Value = app.get(&path, &hr).await.json().await.unwrap();
        let (status, content_type, body) = download(&app, &path, &hr, Some("text/csv")).await;
        assert_eq!(status, 200);
        assert!(content_type.starts_with("text/csv"), "{content_type}");
        let (header, rows) = csv_records(&body);
        assert_eq!(&header[..6], ["node_id", "node_name", "node_kind", "parent_node_id", "depth", "status"]);
        assert!(header.contains(&"psychological_safety_mean".to_owned()), "{header:?}");
        let json_rows = json.as_array().unwrap();
        assert_eq!(rows.len(), json_rows.len(), "the JSON's rows");
        for (row, node) in rows.iter().zip(json_rows) {
            assert_eq!(row[0], node["node_id"].as_str().unwrap(), "in the JSON's order");
            if node["status"] == "suppressed" {
                assert!(row[6..].iter().all(String::is_empty), "a hidden node's cells are empty: {row:?}");
            } else {
                for cell in node["cells"].as_array().unwrap() {
                    let at = column(&header, &format!("{}_mean", cell["dimension"].as_str().unwrap()));
                    assert_eq!(row[at], format!("{:.2}", cell["mean"].as_f64().unwrap()));
                    let difference = column(&header, &format!("{}_difference_from_organisation", cell["dimension"].as_str().unwrap()));
                    assert_eq!(row[difference], cell["difference_from_organisation"].as_f64().map(|value| format!("{value:.2}").replace("-0.00", "0.00")).unwrap_or_default());
                }
            }
        }
        assert!(rows.iter().any(|row| row[5] == "suppressed"), "the Leadership node is hidden");

        // The manager's download button: their nodes only, the page's rows.
        let cookie = signed_in(&app, "lead.t0@example.com").await;
        let (status, html) = page(&app, &format!("/dashboard/rounds/{round_id}/heatmap"), &cookie).await;
        assert_eq!(status, 200);
        let csv_link = format!("/dashboard/rounds/{round_id}/heatmap.csv");
        assert!(html.contains(&format!("href=\"{csv_link}\"")), "a download button");
        let response = app.client.get(app.url(&csv_link)).header("Cookie", &cookie).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
        let (_, manager_rows) = csv_records(&response.bytes().await.unwrap());
        let mut nodes: Vec<String> = manager_rows.iter().map(|row| row[0].clone()).collect();
        nodes.sort();
        let mut expected = vec![org.department.to_string(), org.teams[0].to_string()];
        expected.sort();
        assert_eq!(nodes, expected, "the manager's team and its department, nothing else");
        let response = app.client.get(app.url(&format!("/dashboard/rounds/{round_id}/heatmap.xlsx"))).header("Cookie", &cookie).send().await.unwrap();
        assert_eq!(response.headers()["content-type"], XLSX);
        let cells = xlsx_cells(response.bytes().await.unwrap().to_vec(), "Heatmap");
        assert_eq!(cells.len(), 3, "a header and the manager's two nodes");
        // Without a session the download is the sign-in redirect, not a file.
        let response = app.client.get(app.url(&csv_link)).send().await.unwrap();
        assert_eq!(response.status(), 303);
    }
}
