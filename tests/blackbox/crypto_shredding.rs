//! Crypto-shredding (DESIGN §2): a round's salt never enters the database, open
//! answers and comments are stored sealed, and once the round has closed no copy
//! of the database — data files, SQLite's `-wal`, PostgreSQL's WAL read through
//! `pg_read_binary_file` — holds anything that links an answer to a person, even
//! for someone who also holds every link token (the `.eml` files) and the master key.

use std::collections::HashSet;

use chrono::Duration;
use safepulse_domain::keys::{LinkToken, MasterKey};
use safepulse_domain::{Clock, RoundId};
use safepulse_store::answers::{self, SubmitOutcome, ValidAnswer};
use safepulse_store::entities::{audit_entry, round};
use safepulse_tests::database_dump::{WalMark, occurs_in, physical_copy};
use safepulse_tests::{TestApp, on_both_databases};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbBackend, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

/// Every 32-byte value an attacker would try as a salt or look for as a ballot:
/// on SQLite every 32-byte window of the files; on PostgreSQL every 32-byte value
/// stored as `bytea` (a window after its one-byte length header, 0x43) — the
/// true salt is searched for at every position separately.
fn candidate_values(copies: &[Vec<u8>], backend: DbBackend) -> HashSet<[u8; 32]> {
    let mut candidates = HashSet::new();
    for copy in copies {
        for (position, window) in copy.windows(33).enumerate() {
            let value: [u8; 32] = window[1..].try_into().unwrap();
            let stored_as_bytea = window[0] == 0x43;
            if backend != DbBackend::Postgres || stored_as_bytea {
                candidates.insert(value);
            }
            if position == 0 && backend != DbBackend::Postgres {
                candidates.insert(window[..32].try_into().unwrap());
            }
        }
    }
    candidates
}

/// How many people the attacker links to a stored answer: for every candidate
/// salt, the round key and every token's ballot are recomputed from the master key
/// and looked for among the stored values.
fn linked_people(
    copies: &[Vec<u8>],
    backend: DbBackend,
    master: &MasterKey,
    round_id: Uuid,
    tokens: &[LinkToken],
) -> usize {
    let candidates = candidate_values(copies, backend);
    let mut linked = 0;
    for salt in &candidates {
        let round_key = master.round_key(RoundId(round_id), salt);
        // A wrong salt gives unrelated ballots: one token tells whether to go on.
        if !candidates.contains(&round_key.ballot(&tokens[0]).0) {
            continue;
        }
        let found = tokens
            .iter()
            .filter(|token| candidates.contains(&round_key.ballot(token).0))
            .count();
        linked = linked.max(found);
    }
    linked
}

async fn post_as_admin(app: &TestApp, admin: &str, path: &str) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
}

async fn copies_of(app: &TestApp, mark: &WalMark) -> Vec<Vec<u8>> {
    physical_copy(
        app.state.store.connection(),
        &app.data_dir.join("safepulse.db"),
        mark,
    )
    .await
}

on_both_databases! {
    async fn no_copy_of_the_database_shows_an_answer_while_open_or_links_anyone_after_close(app) {
        let mark = WalMark::now(app.state.store.connection()).await;
        let backend = app.state.store.db_backend();
        // Six people: released (k = 5), comments not (k_detail = 10), so no
        // comment text legitimately outlives the round.
        let org = app.create_org(&[6]).await;
        let survey = app.create_survey(&[org.department], json!({})).await;
        let round_id = app.open_round(survey).await;
        let items = app.item_count(round_id).await;
        let salt = app.state.keys.keyring().read(RoundId(round_id)).unwrap().expect("the salt is in the keyring");
        let tokens: Vec<LinkToken> = app.link_tokens(round_id).await.into_values().collect();
        let mut vectors = Vec::new();
        let mut comments = Vec::new();
        for (index, token) in tokens.iter().enumerate() {
            let values: Vec<u8> = (0..items).map(|item| 1 + ((item + index) % 7) as u8).collect();
            let comment = format!("Only-in-one-comment-{}", Uuid::new_v4().simple());
            let outcome = answers::submit(
                &app.state.store,
                &app.state.keys,
                token,
                ValidAnswer { values: values.clone(), comment: Some(comment.clone()) },
            )
            .await
            .unwrap();
            assert_eq!(outcome, SubmitOutcome::Accepted);
            vectors.push(values);
            comments.push(comment);
        }
        assert_eq!(app.unsealed_comments(round_id).await.len(), tokens.len(), "the round key opens them");

        let while_open = copies_of(&app, &mark).await;
        assert!(!occurs_in(&while_open, &salt), "the salt never enters the database");
        for comment in &comments {
            assert!(!occurs_in(&while_open, comment.as_bytes()), "a comment is readable while open");
        }
        for values in &vectors {
            let as_json = serde_json::to_string(values).unwrap();
            assert!(!occurs_in(&while_open, as_json.as_bytes()), "an answer vector is readable while open");
            assert!(!occurs_in(&while_open, values), "an answer vector is readable while open");
        }
        // The detector works: with the salt added to what the attacker holds, the
        // ballots stored while the round is open link every respondent.
        let mut with_salt = while_open.clone();
        with_salt.push([&[0x43u8][..], &salt].concat());
        let master = app.state.keys.master_keys()[0].clone();
        assert_eq!(linked_people(&with_salt, backend, &master, round_id, &tokens), tokens.len());

        app.close_round(round_id).await;
        assert!(app.state.keys.keyring().read(RoundId(round_id)).unwrap().is_none(), "the salt is destroyed");
        assert!(app.round_row(round_id).await.scrubbed_at.is_some());

        let after_close = copies_of(&app, &mark).await;
        assert!(!occurs_in(&after_close, &salt), "the salt is in a copy of the database");
        for token in &tokens {
            assert!(!occurs_in(&after_close, token.as_bytes()), "a link token is in the database");
        }
        for comment in &comments {
            assert!(!occurs_in(&after_close, comment.as_bytes()), "an unreleased comment survives");
        }
        for values in &vectors {
            let as_json = serde_json::to_string(values).unwrap();
            assert!(!occurs_in(&after_close, as_json.as_bytes()), "an answer vector survives");
        }
        assert_eq!(
            linked_people(&after_close, backend, &master, round_id, &tokens),
            0,
            "with the master key and every token, nobody is linked to an answer"
        );
    }

    async fn an_open_round_whose_key_is_lost_is_reported_and_can_be_discarded(app) {
        let org = app.create_org(&[6]).await;
        let survey = app.create_survey(&[org.department], json!({})).await;
        let round_id = app.open_round(survey).await;
        let admin = app.admin_token().await;
        let rounds_url = app.url(&format!("/api/v1/surveys/{survey}/rounds"));
        let listed: serde_json::Value =
            app.client.get(&rounds_url).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
        assert_eq!(listed[0]["accepts_answers"], true);
        let refused = post_as_admin(&app, &admin, &format!("/api/v1/rounds/{round_id}/discard")).await;
        assert_eq!(refused.status(), 409, "a round with its key is closed, not discarded");
        let problem: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(problem["code"], "round_key_present");
        let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200);

        let tokens: Vec<LinkToken> = app.link_tokens(round_id).await.into_values().collect();
        std::fs::remove_file(app.state.keys.keyring().dir().join(format!("{round_id}.salt"))).unwrap();

        let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 503, "readiness says a round cannot take answers");
        let problem: serde_json::Value = ready.json().await.unwrap();
        assert!(problem["detail"].as_str().unwrap().contains("round keyring"));
        let listed: serde_json::Value =
            app.client.get(&rounds_url).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
        assert_eq!(listed[0]["status"], "open");
        assert_eq!(listed[0]["accepts_answers"], false, "the admin API names the round");
        let items = app.item_count(round_id).await;
        let submitted = answers::submit(
            &app.state.store,
            &app.state.keys,
            &tokens[0],
            ValidAnswer { values: vec![4; items], comment: None },
        )
        .await;
        assert!(submitted.is_err(), "an answer is never stored without a key to seal it");
        let closing = post_as_admin(&app, &admin, &format!("/api/v1/rounds/{round_id}/close")).await;
        assert_eq!(closing.status(), 409, "no release is computed from answers nobody can open");
        let problem: serde_json::Value = closing.json().await.unwrap();
        assert_eq!(problem["code"], "round_key_missing");

        let discarded = post_as_admin(&app, &admin, &format!("/api/v1/rounds/{round_id}/discard")).await;
        assert_eq!(discarded.status(), 200);
        assert!(round::Entity::find_by_id(round_id).one(app.state.store.connection()).await.unwrap().is_none());
        let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200, "ready again once the round is gone");
        let reopened = app.open_round(survey).await;
        assert_ne!(reopened, round_id, "a new round with new links can open");
        let audit = audit_entry::Entity::find()
            .filter(audit_entry::Column::Action.eq("round.discarded"))
            .all(app.state.store.connection())
            .await
            .unwrap();
        assert_eq!(audit.len(), 1, "the discard is audited");
    }

    async fn a_close_interrupted_before_shredding_is_finished_at_start_and_on_every_tick(app) {
        let org = app.create_org(&[6]).await;
        let survey = app.create_survey(&[org.department], json!({})).await;
        let round_id = app.open_round(survey).await;
        let salt = app.state.keys.keyring().read(RoundId(round_id)).unwrap().unwrap();
        app.close_round(round_id).await;
        // What a kill -9 between the close commit and the shredding leaves behind:
        // the key file, and no record of the scrub.
        let key_file = app.state.keys.keyring().dir().join(format!("{round_id}.salt"));
        std::fs::write(&key_file, salt).unwrap();
        round::Entity::update_many()
            .col_expr(round::Column::ScrubbedAt, Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None))
            .filter(round::Column::Id.eq(round_id))
            .exec(app.state.store.connection())
            .await
            .unwrap();
        // A key this database knows nothing about (another database sharing the
        // keyring by mistake, or an opening that crashed before it committed),
        // written long ago: never destroyed on a guess.
        let unknown = Uuid::new_v4();
        let unknown_file = app.state.keys.keyring().dir().join(format!("{unknown}.salt"));
        std::fs::write(&unknown_file, [7u8; 32]).unwrap();
        let a_day_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(86_400);
        std::fs::File::options().write(true).open(&unknown_file).unwrap().set_modified(a_day_ago).unwrap();

        // At start (`build_state` runs the same function) …
        let restarted = safepulse_api::app::build_state((*app.state.config).clone(), std::sync::Arc::new(app.clock.clone()))
            .await
            .unwrap();
        assert!(!key_file.exists(), "the closed round's key is destroyed at start");
        assert!(
            restarted.keys.keyring().read(RoundId(unknown)).unwrap().is_some(),
            "a key of a round this database does not know is left alone"
        );
        assert!(app.round_row(round_id).await.scrubbed_at.is_some(), "the shredding is recorded");

        // … and on every scheduler tick.
        std::fs::write(&key_file, salt).unwrap();
        round::Entity::update_many()
            .col_expr(round::Column::ScrubbedAt, Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None))
            .filter(round::Column::Id.eq(round_id))
            .exec(app.state.store.connection())
            .await
            .unwrap();
        app.clock.advance(Duration::minutes(1));
        safepulse_api::worker::scheduler(&app.state).tick(app.clock.now()).await.unwrap();
        assert!(!key_file.exists(), "the scheduler destroys it");
        assert!(app.round_row(round_id).await.scrubbed_at.is_some());
    }
}

/// The privacy model is served by the server people answer on, in the words the
/// repository keeps it in, and the answer page links to it.
#[tokio::test]
async fn the_privacy_model_is_served_at_slash_privacy_and_linked_from_the_answer_page() {
    let app = safepulse_tests::spawn_app(safepulse_tests::Db::Sqlite).await;
    let response = app.client.get(app.url("/privacy")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let served = response.text().await.unwrap();
    let in_repository =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/privacy.md"))
            .unwrap();
    assert_eq!(served, in_repository);

    let org = app.create_org(&[5]).await;
    let survey = app.create_survey(&[org.department], json!({})).await;
    let round_id = app.open_round(survey).await;
    let token = app
        .link_tokens(round_id)
        .await
        .into_values()
        .next()
        .unwrap();
    let form = app.answer_form(&token).await;
    assert!(
        form.html.contains(r#"href="/privacy""#),
        "the answer page links the full text"
    );
}
