//! Linkage (issue 5, DESIGN §2), each test written as an attacker who holds every
//! emailed link (every `.eml` file: the link tokens, recomputed here exactly as the
//! outbox worker derives them) and a full dump of the database — and, for the
//! derivations, the master key too, as the operator does.

use std::collections::{BTreeSet, HashMap};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use safepulse_domain::keys::{LinkToken, Purpose};
use safepulse_store::entities::{open_comment, open_response};
use safepulse_tests::database_dump::dump_database;
use safepulse_tests::{Db, TestApp, on_both_databases, spawn_app_with};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Statement};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The master keys as the files in the secrets directory hold them.
fn master_key_bytes(app: &TestApp) -> Vec<Vec<u8>> {
    std::fs::read_dir(&app.secrets_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("master-")
        })
        .map(|path| {
            STANDARD
                .decode(std::fs::read_to_string(path).unwrap().trim())
                .unwrap()
        })
        .collect()
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

fn sha256(parts: &[&[u8]]) -> Vec<u8> {
    let mut digest = Sha256::new();
    for part in parts {
        digest.update(part);
    }
    digest.finalize().to_vec()
}

/// Everything an attacker can compute from a token without the round's salt: the
/// token, its plain and labelled hashes, HMACs keyed by it, by the master key and by
/// every purpose key. (The ballot needs the salt; the lookup does not, which is why
/// close nulls it.)
fn derivable_from(token: &LinkToken, master_keys: &[Vec<u8>], app: &TestApp) -> Vec<Vec<u8>> {
    let t = token.as_bytes().as_slice();
    let labels: [&[u8]; 4] = [b"", b"ballot", b"lookup", b"token"];
    let mut values = vec![t.to_vec()];
    for label in labels {
        values.push(sha256(&[label, t]));
        values.push(sha256(&[t, label]));
        values.push(hmac(t, &[label]));
        for master in master_keys {
            values.push(hmac(master, &[label, t]));
        }
    }
    for master in &app.state.secrets.master_keys {
        for purpose in [
            Purpose::AnswerFormCsrf,
            Purpose::MagicLink,
            Purpose::SessionCsrf,
        ] {
            let key = master.purpose_key(purpose);
            values.push(URL_SAFE_NO_PAD.decode(key.sign(t)).unwrap());
            values.push(key.digest(t).to_vec());
        }
    }
    values
}

/// How a 32-byte value can appear in a dump's text.
fn text_forms(value: &[u8]) -> [String; 4] {
    let hex: String = value.iter().map(|byte| format!("{byte:02x}")).collect();
    [
        hex,
        URL_SAFE_NO_PAD.encode(value),
        STANDARD.encode(value),
        STANDARD.encode(value).trim_end_matches('=').to_owned(),
    ]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

async fn count_open_rows(app: &TestApp, round_id: Uuid) -> u64 {
    let db = app.state.store.connection();
    open_response::Entity::find()
        .filter(open_response::Column::RoundId.eq(round_id))
        .count(db)
        .await
        .unwrap()
        + open_comment::Entity::find()
            .filter(open_comment::Column::RoundId.eq(round_id))
            .count(db)
            .await
            .unwrap()
}

async fn strings(app: &TestApp, sql: &str) -> Vec<String> {
    let db = app.state.store.connection();
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .iter()
        .map(|row| row.try_get::<String>("", "value").unwrap())
        .collect()
}

/// Transaction ids (`xmin`, or `xmax` when asked) of every row of `tables`.
async fn transaction_ids(app: &TestApp, column: &str, tables: &[&str]) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for table in tables {
        ids.extend(strings(app, &format!("SELECT {column}::text AS value FROM {table}")).await);
    }
    ids
}

/// Kendall's τ between the positions 0..n and `ranks` (a permutation of 0..n).
fn kendall_tau(ranks: &[usize]) -> f64 {
    let n = ranks.len();
    let mut concordant_minus_discordant: i64 = 0;
    for i in 0..n {
        for j in i + 1..n {
            concordant_minus_discordant += if ranks[i] < ranks[j] { 1 } else { -1 };
        }
    }
    concordant_minus_discordant as f64 / (n * (n - 1) / 2) as f64
}

on_both_databases! {
    async fn after_close_no_stored_value_equals_or_can_be_recomputed_from_any_emailed_token(app) {
        let org = app.create_org(&[6, 6]).await;
        let survey = app.create_survey(&[org.department], json!({})).await;
        let round_id = app.open_round(survey).await;
        let tokens: Vec<LinkToken> = app.link_tokens(round_id).await.into_values().collect();
        let mut forms_csrf = Vec::new();
        for (index, token) in tokens.iter().enumerate() {
            let form = app.answer_form(token).await;
            forms_csrf.push(form.csrf.clone());
            let comment = format!("comment number {index}");
            let body = safepulse_tests::answer_form::form_urlencode(
                &form.fields(|_, options| options[index % options.len()], (index % 2 == 0).then_some(comment.as_str())),
            );
            assert_eq!(app.post_answer_body(token, body).await.status(), 200);
        }
        let keys = master_key_bytes(&app);
        assert!(!keys.is_empty());
        let derived: Vec<Vec<u8>> = tokens.iter().flat_map(|token| derivable_from(token, &keys, &app)).collect();
        let lookups: Vec<Vec<u8>> = tokens.iter().map(|token| token.lookup().0.to_vec()).collect();
        assert!(lookups.iter().all(|lookup| derived.contains(lookup)), "the lookup is among the derivations");

        let dump_while_open = dump_database(app.state.store.connection()).await;
        let found_while_open = lookups
            .iter()
            .filter(|lookup| dump_while_open.iter().any(|row| row.text.to_lowercase().contains(&text_forms(lookup)[0])))
            .count();
        assert_eq!(found_while_open, tokens.len(), "while open, the dump search finds every lookup");

        app.close_round(round_id).await;
        assert_eq!(count_open_rows(&app, round_id).await, 0, "the open tables hold nothing for the round");
        let dump = dump_database(app.state.store.connection()).await;
        for value in &derived {
            let [hex, url_safe, standard, unpadded] = text_forms(value);
            for row in &dump {
                assert!(!row.text.to_lowercase().contains(&hex), "{}: a token-derived value in hex", row.table);
                for form in [&url_safe, &standard, &unpadded] {
                    assert!(!row.text.contains(form.as_str()), "{}: a token-derived value in base64", row.table);
                }
            }
        }
        for csrf in &forms_csrf {
            assert!(dump.iter().all(|row| !row.text.contains(csrf.as_str())), "a form's CSRF value is stored");
        }
        if app.db == Db::Sqlite {
            // Below the logical dump: the file and its WAL, free pages included.
            let database = app.data_dir.join("safepulse.db");
            let mut bytes = std::fs::read(&database).unwrap();
            bytes.extend(std::fs::read(database.with_extension("db-wal")).unwrap_or_default());
            for value in &derived {
                assert!(!contains(&bytes, value), "a token-derived value survives in the SQLite files");
            }
        }
    }
}

/// With raw retention configured, 200 answers and comments are kept after close;
/// where each sits in the table says nothing about when it was submitted, and on
/// PostgreSQL every kept row carries the close transaction's id and no other.
async fn kept_answers_are_in_an_order_unrelated_to_submission(db: Db) {
    let app = spawn_app_with(db, |config| config.raw_retention_days = Some(30)).await;
    let org = app.create_org(&[200]).await;
    let survey = app.create_survey(&[org.department], json!({})).await;
    let round_id = app.open_round(survey).await;
    let tokens = app.link_tokens(round_id).await;
    // Submission order: the members in their creation order. Each answer encodes
    // its submission index in the first three items (base 7), each comment too.
    for (index, member) in org.members[0].iter().enumerate() {
        let form = app.answer_form(&tokens[member]).await;
        let choose = |item: usize, options: &[u8]| match item {
            0..=2 => options[index / 7usize.pow(item as u32) % 7],
            _ => options[0],
        };
        let comment = format!("submitted as number {index}");
        let body =
            safepulse_tests::answer_form::form_urlencode(&form.fields(choose, Some(&comment)));
        assert_eq!(
            app.post_answer_body(&tokens[member], body).await.status(),
            200
        );
    }
    let first_form = app.answer_form(&tokens[&org.leaders[0]]).await;
    let options: Vec<Vec<u8>> = first_form
        .items
        .iter()
        .map(|(_, options)| options.clone())
        .collect();
    app.close_round(round_id).await;

    let (responses_sql, comments_sql) = match app.db {
        Db::Postgres => (
            "SELECT answers AS value FROM responses ORDER BY ctid",
            "SELECT body AS value FROM comments ORDER BY ctid",
        ),
        // WITHOUT ROWID: a full scan walks the table's B-tree, which is the file's order.
        Db::Sqlite => (
            "SELECT answers AS value FROM responses",
            "SELECT body AS value FROM comments",
        ),
    };
    let decode = |answers: &str| -> usize {
        let values: Vec<u8> = serde_json::from_str(answers).unwrap();
        (0..3)
            .map(|item| {
                options[item]
                    .iter()
                    .position(|option| *option == values[item])
                    .unwrap()
                    * 7usize.pow(item as u32)
            })
            .sum()
    };
    let answer_order: Vec<usize> = strings(&app, responses_sql)
        .await
        .iter()
        .map(|answers| decode(answers))
        .collect();
    let comment_order: Vec<usize> = strings(&app, comments_sql)
        .await
        .iter()
        .map(|body| {
            body.trim_start_matches("submitted as number ")
                .parse()
                .unwrap()
        })
        .collect();
    for (what, order) in [("answers", &answer_order), ("comments", &comment_order)] {
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            (0..200).collect::<Vec<_>>(),
            "all 200 {what} are kept"
        );
        let tau = kendall_tau(order);
        assert!(
            tau.abs() < 0.2,
            "{what}: physical order follows submission order (τ = {tau:.3})"
        );
    }

    if app.db == Db::Postgres {
        let close_transaction = strings(
            &app,
            // The releases are written by the close transaction (the round row is
            // updated again afterwards, when its shredding is recorded).
            &format!(
                "SELECT DISTINCT xmin::text AS value FROM releases WHERE round_id = '{round_id}'"
            ),
        )
        .await;
        let kept = transaction_ids(&app, "xmin", &["responses", "comments"]).await;
        assert_eq!(
            kept,
            close_transaction.into_iter().collect(),
            "every kept row was written by the close transaction alone"
        );
    }
}

mod with_raw_retention_the_physical_order_of_kept_answers_says_nothing_of_when_they_came {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_sqlite() {
        kept_answers_are_in_an_order_unrelated_to_submission(Db::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_postgres() {
        kept_answers_are_in_an_order_unrelated_to_submission(Db::Postgres).await
    }
}

/// While a round is open and after it closed (PostgreSQL): no answer or comment row
/// was written by a transaction that also wrote a person, invitation or outbox row,
/// and no submit ever locked an invitation (its `xmax` would be the answer's `xmin`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_no_answer_shares_a_transaction_with_a_person_invitation_or_outbox_row() {
    let app = spawn_app_with(Db::Postgres, |config| config.raw_retention_days = Some(30)).await;
    let org = app.create_org(&[6, 6]).await;
    let survey = app.create_survey(&[org.department], json!({})).await;
    let round_id = app.open_round(survey).await;
    let tokens: HashMap<Uuid, LinkToken> = app.link_tokens(round_id).await;
    let admin = app.admin_token().await;
    // Answers interleaved with organisation changes, so people rows get transactions
    // of their own right next to the submits.
    for (index, (person, token)) in tokens.iter().enumerate() {
        let comment = format!("interleaved {index}");
        let form = app.answer_form(token).await;
        let body = safepulse_tests::answer_form::form_urlencode(&form.fields(
            |_, options| options[0],
            (index % 2 == 0).then_some(comment.as_str()),
        ));
        assert_eq!(app.post_answer_body(token, body).await.status(), 200);
        if index % 3 == 0 {
            let renamed = app
                .patch_json(
                    &format!("/api/v1/people/{person}"),
                    &admin,
                    &json!({ "name": format!("Renamed {index}") }),
                )
                .await;
            assert_eq!(renamed.status(), 200);
        }
    }
    let again = app
        .answer(
            tokens.values().next().unwrap(),
            |_, options| options[0],
            None,
        )
        .await;
    assert_eq!(again.status(), 409);

    let answers = transaction_ids(&app, "xmin", &["open_responses", "open_comments"]).await;
    assert_eq!(
        answers.len(),
        tokens.len(),
        "one transaction per accepted submit"
    );
    let linked_tables = ["people", "invitations", "outbox"];
    let mut others = transaction_ids(&app, "xmin", &linked_tables).await;
    others.extend(transaction_ids(&app, "xmax", &linked_tables).await);
    assert!(
        others.is_disjoint(&answers),
        "a submit wrote or locked a person, invitation or outbox row"
    );
    // Opening the round locks its own new invitations (the outbox rows' foreign
    // keys), so an invitation's xmax is 0 or its own xmin — never another transaction.
    let foreign_lockers = strings(
        &app,
        "SELECT xmax::text AS value FROM invitations WHERE xmax::text NOT IN ('0', xmin::text)",
    )
    .await;
    assert_eq!(
        foreign_lockers,
        Vec::<String>::new(),
        "an invitation was locked or updated after it was written"
    );

    app.close_round(round_id).await;
    assert_eq!(count_open_rows(&app, round_id).await, 0);
    let close_transaction: BTreeSet<String> = strings(
        &app,
        // The releases are written by the close transaction (the round row is
        // updated again afterwards, when its shredding is recorded).
        &format!("SELECT DISTINCT xmin::text AS value FROM releases WHERE round_id = '{round_id}'"),
    )
    .await
    .into_iter()
    .collect();
    let kept = transaction_ids(&app, "xmin", &["responses", "comments"]).await;
    assert_eq!(
        kept, close_transaction,
        "kept rows share only the close transaction"
    );
    assert!(
        kept.is_disjoint(&answers),
        "no kept row carries a submit's transaction"
    );
}
