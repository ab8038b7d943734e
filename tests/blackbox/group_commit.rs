//! Group commit on the answer path (issue 17): answers that arrive together are
//! stored in one transaction, in random order, and every request still learns its
//! own outcome, only after the commit.

use futures_util::future::join_all;
use safepulse_domain::RoundId;
use safepulse_domain::keys::LinkToken;
use safepulse_store::answers::{self, Submission, SubmitOutcome, ValidAnswer};
use safepulse_store::entities::open_response;
use safepulse_tests::{TestApp, on_both_databases};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, Statement,
};
use serde_json::json;
use uuid::Uuid;

fn submission(token: &LinkToken, items: usize, value: u8, comment: Option<&str>) -> Submission {
    Submission {
        token: token.clone(),
        answer: ValidAnswer {
            values: vec![value; items],
            comment: comment.map(str::to_owned),
        },
    }
}

/// The ballots of a round's open answers in the order the rows were written
/// (PostgreSQL's physical position, in a table only ever inserted into; SQLite keeps
/// the table `WITHOUT ROWID`, so its rows are stored in the order of their random ids).
async fn ballots_in_row_order(app: &TestApp, round_id: Uuid) -> Vec<Vec<u8>> {
    let db = app.state.store.connection();
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT ballot FROM open_responses WHERE round_id = $1 ORDER BY ctid"
        }
        _ => "SELECT ballot FROM open_responses WHERE round_id = ? ORDER BY id",
    };
    db.query_all_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [round_id.into()],
    ))
    .await
    .unwrap()
    .iter()
    .map(|row| row.try_get::<Vec<u8>>("", "ballot").unwrap())
    .collect()
}

on_both_databases! {
    async fn a_batch_gives_each_answer_its_own_outcome_and_one_bad_answer_spoils_no_other(app) {
        let org = app.create_org(&[6, 6]).await;
        let first = app.open_round(app.create_survey(&[org.teams[0]], json!({})).await).await;
        let second = app.open_round(app.create_survey(&[org.teams[1]], json!({})).await).await;
        let items_first = app.item_count(first).await;
        let items_second = app.item_count(second).await;
        let first_tokens: Vec<LinkToken> = app.link_tokens(first).await.into_values().collect();
        let second_tokens: Vec<LinkToken> = app.link_tokens(second).await.into_values().collect();
        // One answered before, in its own transaction.
        assert_eq!(app.submit_directly(&first_tokens[0], 4, items_first).await, SubmitOutcome::Accepted);
        // The second round's key is lost: its answers cannot be sealed.
        app.state.keys.keyring().destroy(RoundId(second)).unwrap();
        let unknown = LinkToken::parse(&"A".repeat(43)).unwrap();

        let batch = vec![
            submission(&first_tokens[0], items_first, 5, None),        // answered before
            submission(&first_tokens[1], items_first, 6, Some("one")), // new
            submission(&first_tokens[2], items_first, 2, None),        // new
            submission(&first_tokens[2], items_first, 3, None),        // same link again
            submission(&second_tokens[0], items_second, 5, None),      // key lost
            submission(&unknown, items_first, 5, None),                // no such link
            submission(&first_tokens[3], items_first, 1, Some("two")), // new
        ];
        let outcomes = answers::submit_batch(&app.state.store, &app.state.keys, batch)
            .await
            .expect("the batch commits");
        let simple: Vec<Option<SubmitOutcome>> =
            outcomes.iter().map(|outcome| outcome.as_ref().ok().copied()).collect();
        assert_eq!(simple[0], Some(SubmitOutcome::AlreadyAnswered));
        assert_eq!(simple[1], Some(SubmitOutcome::Accepted));
        // The same link twice: exactly one of the two counts.
        let twice = [simple[2], simple[3]];
        assert!(
            twice.contains(&Some(SubmitOutcome::Accepted))
                && twice.contains(&Some(SubmitOutcome::AlreadyAnswered)),
            "{twice:?}"
        );
        assert!(outcomes[4].is_err(), "the answer whose round key is lost fails on its own");
        assert_eq!(simple[5], Some(SubmitOutcome::NotOpen));
        assert_eq!(simple[6], Some(SubmitOutcome::Accepted));

        // What was stored is exactly what was accepted, sealed under the round key.
        let mut stored: Vec<Vec<u8>> = app
            .unsealed_answers(first)
            .await
            .into_iter()
            .map(|(_, values)| values)
            .collect();
        stored.sort();
        let twice_value = if simple[2] == Some(SubmitOutcome::Accepted) { 2 } else { 3 };
        let mut expected = vec![
            vec![4; items_first],
            vec![6; items_first],
            vec![twice_value; items_first],
            vec![1; items_first],
        ];
        expected.sort();
        assert_eq!(stored, expected);
        let mut comments = app.unsealed_comments(first).await;
        comments.sort();
        assert_eq!(comments, ["one", "two"]);
        let second_rows = open_response::Entity::find()
            .filter(open_response::Column::RoundId.eq(second))
            .all(app.state.store.connection())
            .await
            .unwrap();
        assert!(second_rows.is_empty(), "nothing of the failed answer was stored");
    }

    async fn a_batch_is_written_in_random_order_not_in_the_order_people_answered(app) {
        let org = app.create_org(&[40]).await;
        let round_id = app.open_round(app.create_survey(&[org.department], json!({})).await).await;
        let items = app.item_count(round_id).await;
        let tokens: Vec<LinkToken> = app.link_tokens(round_id).await.into_values().collect();
        let round_key = app.round_key(&app.round_row(round_id).await);
        let batch: Vec<Submission> =
            tokens.iter().map(|token| submission(token, items, 4, None)).collect();
        let outcomes = answers::submit_batch(&app.state.store, &app.state.keys, batch)
            .await
            .unwrap();
        assert!(outcomes.iter().all(|outcome| matches!(outcome, Ok(SubmitOutcome::Accepted))));
        let submitted: Vec<Vec<u8>> =
            tokens.iter().map(|token| round_key.ballot(token).0.to_vec()).collect();
        let written = ballots_in_row_order(&app, round_id).await;
        assert_eq!(written.len(), submitted.len());
        // 40 rows in the submission order by chance: probability 1/40!.
        assert_ne!(written, submitted, "rows follow the order of submission");
        let mut reversed = submitted.clone();
        reversed.reverse();
        assert_ne!(written, reversed, "rows follow the reverse order of submission");
        // Ids are random too, so ordering by id says nothing either.
        let by_id: Vec<Vec<u8>> = open_response::Entity::find()
            .filter(open_response::Column::RoundId.eq(round_id))
            .order_by_asc(open_response::Column::Id)
            .all(app.state.store.connection())
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.ballot)
            .collect();
        assert_ne!(by_id, submitted);
    }

    async fn answers_posted_at_once_are_each_accepted_exactly_once_through_the_page(app) {
        let org = app.create_org(&[30]).await;
        let round_id = app.open_round(app.create_survey(&[org.department], json!({})).await).await;
        let tokens: Vec<LinkToken> = app.link_tokens(round_id).await.into_values().collect();
        // Every link posted twice at the same moment, 60 requests in flight.
        let mut bodies = Vec::new();
        for token in &tokens {
            let form = app.answer_form(token).await;
            for copy in 0..2 {
                let fields = form.fields(|index, _| 1 + ((index + copy) % 5) as u8, Some("hello"));
                bodies.push((token, safepulse_tests::answer_form::form_urlencode(&fields)));
            }
        }
        let statuses: Vec<u16> = join_all(
            bodies
                .into_iter()
                .map(|(token, body)| async { app.post_answer_body(token, body).await.status().as_u16() }),
        )
        .await;
        let accepted = statuses.iter().filter(|status| **status == 200).count();
        let already = statuses.iter().filter(|status| **status == 409).count();
        assert_eq!((accepted, already), (tokens.len(), tokens.len()), "{statuses:?}");
        assert_eq!(app.unsealed_answers(round_id).await.len(), tokens.len());
        assert_eq!(app.unsealed_comments(round_id).await.len(), tokens.len());
    }
}
