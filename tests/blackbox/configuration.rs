//! Configuration and keys at start (issue 12 §4): a typo in the configuration
//! stops every command, keys lost next to an existing database are never
//! generated again, `serve` and `worker` refuse to start while an open round has
//! no key, and an older version keeps running on a schema a newer version
//! migrated when (and only when) the newer migrations are marked backward
//! compatible.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use safepulse_store::entities::{audit_entry, round};
use safepulse_tests::{TestApp, free_port, on_both_databases, terminate, wait_until_healthy};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::json;

const BINARY: &str = env!("CARGO_BIN_EXE_safepulse-under-test");

/// What a finished command left: whether it succeeded, and its stderr.
struct Finished {
    success: bool,
    stderr: String,
}

impl Finished {
    /// The command failed with exactly one line saying why, which contains `words`.
    fn assert_refused_saying(&self, words: &[&str]) {
        assert!(!self.success, "the command must fail: {}", self.stderr);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line on stderr: {:?}", self.stderr);
        for word in words {
            assert!(lines[0].contains(word), "{word:?} in {:?}", lines[0]);
        }
    }
}

/// Runs a command to its end: one that keeps running (a server that started)
/// fails the test after 60 s.
async fn finished(mut command: tokio::process::Command) -> Finished {
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output(),
    )
    .await
    .expect("the command ends by itself (it must not start and keep running)")
    .expect("the binary runs");
    Finished {
        success: output.status.success(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

async fn run(app: &TestApp, args: &[&str]) -> Finished {
    finished(app.safepulse_command(Path::new(BINARY), args)).await
}

/// The binary with nothing from the test's environment but `PATH`.
fn bare_command(args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(BINARY);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

#[tokio::test]
async fn a_typo_in_the_configuration_stops_every_command_with_one_line_naming_it() {
    let dirs = tempfile::tempdir().unwrap();
    let data_dir = dirs.path().join("data");
    let secrets_dir = dirs.path().join("secrets");
    let config = dirs.path().join("safepulse.toml");
    std::fs::write(
        &config,
        "databse_url = \"postgres://db.example.com/safepulse\"\n",
    )
    .unwrap();
    let dirs_args = [
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--secrets-dir",
        secrets_dir.to_str().unwrap(),
    ];
    let with_config = |config: &Path, command: &str| {
        let mut args = vec!["--config", config.to_str().unwrap()];
        args.extend(dirs_args);
        args.push(command);
        bare_command(&args.iter().map(|arg| arg.to_owned()).collect::<Vec<_>>())
    };

    finished(with_config(&config, "migrate"))
        .await
        .assert_refused_saying(&["`databse_url`", "`database_url`"]);
    let mut variable = with_config(&dirs.path().join("absent.toml"), "migrate");
    variable.env(
        "SAFEPULSE_DATABSE_URL",
        "postgres://db.example.com/safepulse",
    );
    finished(variable)
        .await
        .assert_refused_saying(&["SAFEPULSE_DATABSE_URL", "SAFEPULSE_DATABASE_URL"]);
    finished(with_config(dirs.path(), "migrate"))
        .await
        .assert_refused_saying(&["is not a file"]);
    assert!(
        !data_dir.exists() && !secrets_dir.exists(),
        "nothing started on the default SQLite database"
    );
}

on_both_databases! {
    async fn keys_lost_next_to_an_existing_database_are_never_generated_again(app) {
        app.create_org(&[4]).await;
        let kept_aside = app.secrets_dir.with_file_name("secrets-kept-aside");
        std::fs::rename(&app.secrets_dir, &kept_aside).unwrap();

        for args in [&["migrate"][..], &["worker"], &["serve", "--port", "0"]] {
            run(&app, args)
                .await
                .assert_refused_saying(&["restore the secrets directory"]);
        }
        assert!(!app.secrets_dir.exists(), "no key was generated");

        std::fs::rename(&kept_aside, &app.secrets_dir).unwrap();
        let restored = run(&app, &["migrate"]).await;
        assert!(restored.success, "the restored keys start it: {}", restored.stderr);
    }

    async fn serve_and_worker_refuse_to_start_while_an_open_round_has_no_key(app) {
        let org = app.create_org(&[4]).await;
        let survey = app.create_survey(&[org.department], json!({})).await;
        let round_id = app.open_round(survey).await;
        std::fs::remove_file(app.state.keys.keyring().dir().join(format!("{round_id}.salt")))
            .unwrap();

        for args in [&["worker"][..], &["serve", "--port", "0"]] {
            run(&app, args).await.assert_refused_saying(&[
                &round_id.to_string(),
                "restore the keyring directory",
                &format!("safepulse round discard {round_id}"),
            ]);
        }
        let still_there = round::Entity::find_by_id(round_id)
            .one(app.state.store.connection())
            .await
            .unwrap();
        assert!(still_there.is_some(), "nothing is given up on the operator's behalf");

        run(&app, &["round", "discard", "not-a-round"])
            .await
            .assert_refused_saying(&["not a round id"]);
        let discarded = run(&app, &["round", "discard", &round_id.to_string()]).await;
        assert!(discarded.success, "{}", discarded.stderr);
        let gone = round::Entity::find_by_id(round_id)
            .one(app.state.store.connection())
            .await
            .unwrap();
        assert!(gone.is_none());
        let audit = audit_entry::Entity::find()
            .filter(audit_entry::Column::Action.eq("round.discarded"))
            .all(app.state.store.connection())
            .await
            .unwrap();
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].actor, "cli");

        let port = free_port();
        let server = app
            .safepulse_command(Path::new(BINARY), &["serve", "--port", &port.to_string()])
            .spawn()
            .unwrap();
        wait_until_healthy(&app.client, &format!("http://127.0.0.1:{port}")).await;
        terminate(server).await;
    }

    async fn an_older_version_runs_on_a_newer_schema_only_when_its_migrations_are_marked_compatible(app) {
        let db = app.state.store.connection();
        // What a newer version's compatible migration does: a nullable column,
        // recorded and marked in one transaction.
        let applied_at = chrono::Utc::now().timestamp();
        for statement in [
            "ALTER TABLE teams ADD COLUMN colour TEXT NULL".to_owned(),
            format!(
                "INSERT INTO seaql_migrations (version, applied_at) \
                 VALUES ('m20991231_000001_team_colour', {applied_at})"
            ),
            "INSERT INTO backward_compatible_migrations (version) \
             VALUES ('m20991231_000001_team_colour')"
                .to_owned(),
        ] {
            db.execute_unprepared(&statement).await.unwrap();
        }
        let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200, "the older replica stays in service");
        app.create_team("Made by the older version", None).await;
        let restarted = run(&app, &["migrate"]).await;
        assert!(restarted.success, "an older replica restarts: {}", restarted.stderr);

        // A newer migration older code cannot run against: not marked.
        db.execute_unprepared(&format!(
            "INSERT INTO seaql_migrations (version, applied_at) \
             VALUES ('m20991231_000002_drop_team_names', {applied_at})"
        ))
        .await
        .unwrap();
        let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 503, "the older replica leaves service");
        let problem: serde_json::Value = ready.json().await.unwrap();
        assert!(problem["detail"].as_str().unwrap().contains("newer version"), "{problem}");
        for args in [&["migrate"][..], &["serve", "--port", "0"]] {
            run(&app, args)
                .await
                .assert_refused_saying(&["m20991231_000002_drop_team_names", "newer version"]);
        }
    }
}
