//! Emails per second through the outbox worker to a local SMTP sink (DESIGN §7:
//! ≥ 1,000/s), next to its raw ceiling measured in the same run: a plain loop
//! handing the same number of pre-built messages to the same pooled lettre
//! transport, as many at once as the pool has connections.
//!
//! The worker's figure includes everything a real batch does: claiming rows in the
//! database, deriving each link token from the round key, rendering the multipart
//! email, sending, and deleting the delivered rows.
//!
//! Run: `cargo bench -p safepulse-mailer --bench outbox_throughput`. PostgreSQL is
//! measured too when `SAFEPULSE_TEST_POSTGRES_URL` (or the local default) answers.
//! `SAFEPULSE_BENCH_POOL_SIZE` overrides the SMTP pool size (default 32).

#[path = "../../../tests/support/smtp_sink.rs"]
#[allow(
    dead_code,
    reason = "the benchmark uses the sink without its scripted failures"
)]
mod smtp_sink;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::StreamExt;
use lettre::Message;
use safepulse_domain::keys::{KeyId, MasterKey, random_bytes};
use safepulse_domain::{Clock, Email, Locale, Name, SystemClock, TimeZone};
use safepulse_mailer::outbox::DEFAULT_CLAIM_LEASE;
use safepulse_mailer::{
    InvitationEmail, MailTransport, MessageHeaders, MessageId, OutboxSettings, OutboxWorker,
    PublicBaseUrl, Recipient, SmtpConfig, SmtpTls,
};
use safepulse_rounds::ItemBank;
use safepulse_rounds::rounds::{OpenRequest, RecordingCheck, open_round};
use safepulse_rounds::survey::SurveySettings;
use safepulse_store::keyring::{KeyChain, RoundKeyring};
use safepulse_store::org::{self, NewPerson, NewTeam};
use safepulse_store::{Store, surveys};
use sea_orm::ConnectionTrait;
use smtp_sink::{Script, SmtpSink};

const EMAILS: usize = 5_000;
const DEFAULT_POOL_SIZE: u32 = 32;
const BATCH_SIZE: usize = 256;
const REPETITIONS: usize = 3;

fn pool_size() -> u32 {
    std::env::var("SAFEPULSE_BENCH_POOL_SIZE")
        .ok()
        .and_then(|size| size.parse().ok())
        .unwrap_or(DEFAULT_POOL_SIZE)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let sqlite = format!(
            "sqlite://{}?mode=rwc",
            directory.path().join("bench.db").display()
        );
        measure("SQLite (WAL, synchronous=FULL)", &sqlite).await;
        match fresh_postgres_database().await {
            Some(url) => measure("PostgreSQL", &url).await,
            None => eprintln!("PostgreSQL not reachable: measured SQLite only"),
        }
    });
}

#[expect(clippy::print_stdout, reason = "the figures are this program's output")]
async fn measure(database: &str, url: &str) {
    let store = Store::connect(url).await.expect("connect");
    store.migrate().await.expect("migrate");
    let bank = Arc::new(ItemBank::builtin().expect("the item bank"));
    let keyring_dir =
        std::env::temp_dir().join(format!("safepulse-bench-keyring-{}", uuid::Uuid::new_v4()));
    let keys = KeyChain::new(
        vec![MasterKey::new(KeyId::parse("bench").unwrap(), random_bytes().to_vec()).unwrap()],
        RoundKeyring::open(&keyring_dir).expect("a keyring"),
    );
    let team = create_team_of(&store, EMAILS).await;
    let sink = SmtpSink::start(Script::accept_all()).await;
    let transport = MailTransport::smtp(&SmtpConfig {
        host: "127.0.0.1".into(),
        port: sink.port(),
        tls: SmtpTls::None,
        username: None,
        password: None,
        pool_size: pool_size(),
        timeout_seconds: 30,
        message_timeout_seconds: 60,
        from: None,
    })
    .expect("a transport");
    let worker = OutboxWorker::new(
        store.clone(),
        transport.clone(),
        keys.clone(),
        Arc::clone(&bank),
        Arc::new(SystemClock),
        OutboxSettings {
            from: "safepulse <pulse@example.org>".into(),
            public_base_url: "https://pulse.example.org".into(),
            claim_lease: DEFAULT_CLAIM_LEASE,
        },
    )
    .expect("a worker");
    let messages = prebuilt_messages(EMAILS);
    // Warm-up: open the pool's connections.
    send_plain(&transport, &messages[..pool_size() as usize * 2]).await;

    let mut raw = Vec::new();
    let mut through_outbox = Vec::new();
    for _ in 0..REPETITIONS {
        let started = Instant::now();
        send_plain(&transport, &messages).await;
        raw.push(rate(started.elapsed()));

        queue_a_round(&store, &bank, &keys, team).await;
        let started = Instant::now();
        let mut delivered = 0;
        loop {
            let report = worker.deliver_batch(BATCH_SIZE).await.expect("a batch");
            if report.queue_was_empty() {
                break;
            }
            delivered += report.delivered;
        }
        assert_eq!(delivered, EMAILS, "every email was delivered");
        through_outbox.push(rate(started.elapsed()));
    }
    println!(
        "{database}: {EMAILS} emails, pool {}, batch {BATCH_SIZE}\n  \
         plain lettre loop (raw ceiling): median {:.0}/s  runs {}\n  \
         outbox worker:                   median {:.0}/s  runs {}  ({:.0}% of raw)",
        pool_size(),
        median(&raw),
        runs(&raw),
        median(&through_outbox),
        runs(&through_outbox),
        100.0 * median(&through_outbox) / median(&raw)
    );
}

fn rate(elapsed: Duration) -> f64 {
    EMAILS as f64 / elapsed.as_secs_f64()
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn runs(values: &[f64]) -> String {
    values
        .iter()
        .map(|value| format!("{value:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn send_plain(transport: &MailTransport, messages: &[Message]) {
    let failures = futures_util::stream::iter(messages)
        .map(|message| transport.send(message))
        .buffer_unordered(transport.parallel_sends())
        .filter(|result| std::future::ready(result.is_err()))
        .count()
        .await;
    assert_eq!(failures, 0, "the sink accepts everything");
}

/// Invitations like the worker's, built before the clock starts.
fn prebuilt_messages(count: usize) -> Vec<Message> {
    let master = MasterKey::new(KeyId::parse("raw").unwrap(), vec![7; 32]).unwrap();
    let round_key = master.round_key(safepulse_domain::RoundId::random(), &[3; 32]);
    let base = PublicBaseUrl::parse("https://pulse.example.org").unwrap();
    (0..count)
        .map(|index| {
            let token = round_key.link_token(safepulse_domain::InvitationId::random());
            InvitationEmail {
                survey_name: "Team pulse".into(),
                team_name: "Platform".into(),
                led_teams: Vec::new(),
                answer_link: base.answer_link(&token),
                question_count: 8,
                min_group_size: 5,
                closes_at: Utc::now(),
            }
            .to_message(&MessageHeaders {
                from: "safepulse <pulse@example.org>".parse().unwrap(),
                to: Recipient {
                    address: Email::parse(&format!("person{index}@example.com")).unwrap(),
                    locale: Locale::En,
                    time_zone: TimeZone::parse("Europe/Berlin").unwrap(),
                },
                message_id: MessageId::random("example.org").unwrap(),
                date: Utc::now(),
            })
            .unwrap()
        })
        .collect()
}

async fn create_team_of(store: &Store, size: usize) -> safepulse_domain::TeamId {
    let now = SystemClock.now();
    let transaction = store.begin_write().await.unwrap();
    let team = org::create_team(
        &transaction,
        NewTeam {
            name: Name::parse("Platform").expect("a valid name"),
            parent_id: None,
            time_zone: TimeZone::parse("Europe/Berlin").unwrap(),
        },
        now,
    )
    .await
    .unwrap();
    for index in 0..size {
        org::create_person(
            &transaction,
            NewPerson {
                email: Email::parse(&format!("person{index}@example.com")).unwrap(),
                name: Name::parse(&format!("Person {index}")).expect("a valid name"),
                team_id: Some(team.id),
                locale: Locale::En,
                time_zone: None,
            },
            now,
        )
        .await
        .unwrap();
    }
    transaction.commit().await.unwrap();
    team.id
}

/// A new survey of the team with a round opened now: `EMAILS` outbox rows.
async fn queue_a_round(
    store: &Store,
    bank: &ItemBank,
    keys: &KeyChain,
    team: safepulse_domain::TeamId,
) {
    let survey = surveys::create_survey(
        store.connection(),
        surveys::NewSurvey {
            name: Name::parse(&format!("Pulse {}", uuid::Uuid::new_v4().simple()))
                .expect("a valid name"),
            team_ids: vec![team],
            include_subteams: true,
            settings: serde_json::to_value(SurveySettings::default()).unwrap(),
            k: 5,
            k_detail: 10,
            restricted_release: "suppressed".into(),
            draft: false,
        },
        SystemClock.now(),
    )
    .await
    .unwrap();
    open_round(
        store,
        bank,
        keys,
        survey.survey.id,
        OpenRequest::Now,
        SystemClock.now(),
        "example.org",
        RecordingCheck::Enforce,
    )
    .await
    .unwrap();
}

/// A new database on the local PostgreSQL server, or `None` when it does not answer.
async fn fresh_postgres_database() -> Option<String> {
    let base = std::env::var("SAFEPULSE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let admin = sea_orm::Database::connect(&base).await.ok()?;
    let name = format!("safepulse_bench_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .ok()?;
    let (prefix, _) = base.rsplit_once('/')?;
    Some(format!("{prefix}/{name}"))
}
