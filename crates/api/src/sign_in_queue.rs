//! The queue between `POST /sign-in` and the database (issue 11, finding 5).
//!
//! **Why a queue.** Answering only after [`sign_in::request_link`] had written and
//! committed (with an fsync) the link of a known leader made the answer measurably
//! slower for exactly the addresses that may sign in. Now the page parses the
//! address, hands it to this queue and answers at once: the request does the same
//! work whoever asked, and a background task does the lookup, the insert and the
//! commit afterwards, one request at a time.
//!
//! That work starts [`START_DELAY`] after the request was queued. Started at once,
//! it competed for the CPU with the answer still being written, and a leader's
//! answer came out measurably slower again (about 15% in the timing test). What
//! remains is indirect: a request arriving while a leader's link is being written
//! may be a little slower, whoever it asks about.
//!
//! A full queue (the database is stuck; the rate limits keep it far from full
//! otherwise) refuses every address alike. Requests still queued when the process
//! stops are waited for briefly ([`SignInQueue::settled`]), and lost after that:
//! the person gets no email and asks again, which is acceptable for a sign-in link.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use safepulse_domain::Email;
use safepulse_mailer::sign_in;
use safepulse_store::Store;
use tokio::sync::{mpsc, watch};
use tokio::time::{Duration, Instant};

/// How long a request waits before its database work starts: long enough for the
/// answer to have left, so that work never competes with it.
const START_DELAY: Duration = Duration::from_millis(50);

/// Requests waiting for the database at most.
const CAPACITY: usize = 1024;

#[derive(Debug)]
struct Request {
    email: Email,
    asked_at: DateTime<Utc>,
    queued_at: Instant,
}

/// Why a request was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("the sign-in queue is full")]
    Full,
    #[error("the sign-in queue's task has stopped")]
    Stopped,
}

/// The sending side, shared by every request; clones share one queue.
#[derive(Debug, Clone)]
pub struct SignInQueue {
    sender: mpsc::Sender<Request>,
    /// Requests queued or being written.
    pending: Arc<watch::Sender<usize>>,
}

impl SignInQueue {
    /// Starts the task that writes queued requests to `store`.
    pub fn start(store: Store, mail_host: String) -> SignInQueue {
        let (sender, mut receiver) = mpsc::channel::<Request>(CAPACITY);
        let pending = Arc::new(watch::Sender::new(0usize));
        let done = pending.clone();
        tokio::spawn(async move {
            while let Some(request) = receiver.recv().await {
                tokio::time::sleep_until(request.queued_at + START_DELAY).await;
                if let Err(error) =
                    sign_in::request_link(&store, &request.email, request.asked_at, &mail_host)
                        .await
                {
                    // No address in the line: a log must not say who tried to sign in.
                    tracing::error!(error = %error, "a sign-in request could not be written");
                }
                done.send_modify(|count| *count = count.saturating_sub(1));
            }
        });
        SignInQueue { sender, pending }
    }

    /// Queues a request for `email`, asked at `asked_at` (the link lives from then).
    pub fn push(&self, email: Email, asked_at: DateTime<Utc>) -> Result<(), QueueError> {
        self.pending.send_modify(|count| *count += 1);
        let queued = self.sender.try_send(Request {
            email,
            asked_at,
            queued_at: Instant::now(),
        });
        if let Err(error) = queued {
            self.pending
                .send_modify(|count| *count = count.saturating_sub(1));
            return Err(match error {
                mpsc::error::TrySendError::Full(_) => QueueError::Full,
                mpsc::error::TrySendError::Closed(_) => QueueError::Stopped,
            });
        }
        Ok(())
    }

    /// Returns once every request queued so far has been written (or failed).
    pub async fn settled(&self) {
        let mut pending = self.pending.subscribe();
        // An error means the sender is gone, and with it every pending request.
        let _ = pending.wait_for(|count| *count == 0).await;
    }
}
