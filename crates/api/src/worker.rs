//! The scheduler and the outbox worker as the binary runs them: inside `serve`
//! (unless `in_process_worker = false`) or alone in `safepulse worker`. This module
//! assembles the rounds crate's [`Scheduler`] and the mailer's [`OutboxWorker`] from
//! the configuration and the shared state, and drives both in one loop ([`run`]).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use safepulse_domain::Clock;
use safepulse_mailer::outbox::DEFAULT_CLAIM_LEASE;
use safepulse_mailer::{MailTransport, OutboxSettings, OutboxWorker};
use safepulse_rounds::{Scheduler, SchedulerSettings, TickReport};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::state::AppState;

/// Outbox rows one call of the worker handles before the scheduler ticks again
/// (it claims only as many at a time as it can send at once).
pub const BATCH_SIZE: usize = 256;
/// How long the loop sleeps once nothing is due: the scheduler's resolution.
pub const IDLE_SLEEP: Duration = Duration::from_secs(1);

/// SMTP when `[smtp]` is configured; otherwise `.eml` files in `<data_dir>/mail`,
/// with a warning, because nobody receives those.
pub fn mail_transport(config: &Config) -> anyhow::Result<MailTransport> {
    match &config.smtp {
        Some(smtp) => MailTransport::smtp(smtp).context("smtp"),
        None => {
            let transport = MailTransport::file_in_data_dir(&config.data_dir)?;
            tracing::warn!(
                mail_dir = %config.mail_dir().display(),
                "emails are written as .eml files: fine for trying safepulse, production needs SMTP"
            );
            Ok(transport)
        }
    }
}

/// The outbox worker over the application's database, keys and clock.
pub fn outbox_worker(state: &AppState, transport: MailTransport) -> anyhow::Result<OutboxWorker> {
    OutboxWorker::new(
        state.store.clone(),
        transport,
        state.keys.clone(),
        Arc::clone(&state.bank),
        Arc::clone(&state.clock),
        OutboxSettings {
            from: state.config.mail_from.clone(),
            public_base_url: state.config.public_url.clone(),
            claim_lease: DEFAULT_CLAIM_LEASE,
        },
    )
    .context("cannot start the email worker")
    .and_then(|worker| {
        let webhooks =
            crate::webhook_transport::HttpWebhooks::new(crate::webhook_transport::WEBHOOK_TIMEOUT)
                .context("cannot start the webhook client")?;
        Ok(worker.with_webhook_transport(Arc::new(webhooks)))
    })
}

/// The scheduler over the application's database and keys.
pub fn scheduler(state: &AppState) -> Scheduler {
    Scheduler::new(
        state.store.clone(),
        Arc::clone(&state.bank),
        state.keys.clone(),
        SchedulerSettings {
            raw_retention: state.config.raw_retention(),
            report_base_url: state.config.public_url_trimmed().to_owned(),
            mail_host: state.config.mail_host(),
            rounds_may_open: state.round_opening_blocked.is_none(),
            recording_check: state.recording_check(),
            retained_answers_kept_for: state
                .config
                .raw_retention_days
                .filter(|days| *days > 0)
                .map(|days| chrono::Duration::days(i64::from(days))),
        },
    )
}

/// The scheduler and outbox worker running in a background task.
#[derive(Debug)]
pub struct BackgroundWork {
    shutdown: Arc<watch::Sender<bool>>,
    task: JoinHandle<()>,
}

impl BackgroundWork {
    /// Starts the loop: fails only when the mail transport or sender cannot be set up.
    pub fn start(state: &AppState) -> anyhow::Result<BackgroundWork> {
        let outbox = outbox_worker(state, mail_transport(&state.config)?)?;
        let scheduler = scheduler(state);
        let clock = Arc::clone(&state.clock);
        let (shutdown, stop_requested) = watch::channel(false);
        let settings = LoopSettings {
            batch_size: BATCH_SIZE,
            idle_sleep: IDLE_SLEEP,
        };
        let task = tokio::spawn(async move {
            run(
                &scheduler,
                &outbox,
                clock.as_ref(),
                &settings,
                stop_requested,
            )
            .await;
        });
        Ok(BackgroundWork {
            shutdown: Arc::new(shutdown),
            task,
        })
    }

    /// Asks the loop to stop as soon as `signal` completes, without waiting for
    /// it: `serve` starts stopping its worker at the signal, while the HTTP server
    /// drains its requests, so that both fit in the orchestrator's grace period.
    pub fn stop_when(&self, signal: impl Future<Output = ()> + Send + 'static) {
        let shutdown = Arc::clone(&self.shutdown);
        tokio::spawn(async move {
            signal.await;
            let _ = shutdown.send(true);
        });
    }

    /// Asks the loop to stop and waits for it: a scheduler tick in progress ends,
    /// unsent emails are given back at once, and sends under way get
    /// [`safepulse_mailer::outbox::IN_FLIGHT_GRACE_ON_STOP`] before they are
    /// abandoned and given back too.
    pub async fn stop(self) {
        // An error means the loop already ended: nothing left to stop.
        let _ = self.shutdown.send(true);
        if let Err(error) = self.task.await {
            tracing::error!(%error, "the scheduler and email worker ended abnormally");
        }
    }
}

/// How [`run`] paces itself.
#[derive(Debug, Clone)]
pub struct LoopSettings {
    /// Outbox rows claimed per batch.
    pub batch_size: usize,
    /// How long to sleep once nothing is due.
    pub idle_sleep: Duration,
}

/// Ticks the scheduler and delivers until the outbox has nothing due, sleeps, and
/// again — until `shutdown` turns true (or its sender is dropped). A tick in
/// progress is finished; the outbox worker gives back the rows it has not sent
/// and lets its sends under way finish for at most
/// [`safepulse_mailer::outbox::IN_FLIGHT_GRACE_ON_STOP`]. Rows claimed by a process that dies
/// are sent again once their claim expires.
async fn run(
    scheduler: &Scheduler,
    outbox: &OutboxWorker,
    clock: &dyn Clock,
    settings: &LoopSettings,
    mut shutdown: watch::Receiver<bool>,
) {
    let stop_requested =
        |shutdown: &watch::Receiver<bool>| *shutdown.borrow() || shutdown.has_changed().is_err();
    while !stop_requested(&shutdown) {
        match scheduler.tick(clock.now()).await {
            Ok(report) if report != TickReport::default() => tracing::debug!(
                closed = report.closed,
                opened = report.opened,
                reminders_queued = report.reminders_queued,
                "scheduler tick"
            ),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "scheduler tick failed"),
        }
        while !stop_requested(&shutdown) {
            match outbox.deliver(settings.batch_size, &mut shutdown).await {
                Ok(report) if report.queue_was_empty() => break,
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "delivering email failed");
                    break;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(settings.idle_sleep) => {}
            changed = shutdown.changed() => {
                if changed.is_err() {
                    break;
                }
            }
        }
    }
}
