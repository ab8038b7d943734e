//! Group commit for the answer path (issue 17).
//!
//! Every accepted answer must be durable before its "thank you", and a durable
//! commit costs an fsync. One transaction per answer makes that fsync the limit,
//! and on SQLite the writers that lose the race for the lock sleep in the busy
//! handler. So `POST /r/{token}` hands its answer to this queue, and one task
//! stores whatever answers are waiting at that moment in one transaction
//! ([`answers::submit_batch`]: one statement per step, rows in random order, one
//! commit), then answers each request.
//!
//! Nothing waits on purpose: a batch is what arrived while the previous one was
//! being committed, so a lone answer is stored at once and batches grow only under
//! load, up to [`MAX_BATCH`]. Every reply comes after the commit. When a batch
//! fails, each of its answers is tried again on its own, so one answer that
//! cannot be stored never takes the others with it; whatever still fails is
//! reported to its own request, never silently dropped.

use safepulse_domain::keys::LinkToken;
use safepulse_store::answers::{self, Submission, SubmitOutcome, ValidAnswer};
use safepulse_store::keyring::KeyChain;
use safepulse_store::{Store, StoreError};
use tokio::sync::{mpsc, oneshot};

/// Answers stored in one transaction at most: a few hundred bound values per
/// statement, and a bounded wait for the last answer of a batch.
pub const MAX_BATCH: usize = 128;

/// Answers waiting for the writer at most; beyond that a request waits for room,
/// which is the back-pressure a full queue should give.
const CAPACITY: usize = 4 * MAX_BATCH;

type Reply = oneshot::Sender<Result<SubmitOutcome, StoreError>>;

/// The sending side, shared by every request.
#[derive(Debug, Clone)]
pub struct SubmitQueue {
    sender: mpsc::Sender<(Submission, Reply)>,
}

/// The queue's task has stopped (the process is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the answer writer has stopped")]
pub struct WriterStopped;

impl SubmitQueue {
    /// Starts the task that writes queued answers to `store`.
    pub fn start(store: Store, keys: KeyChain) -> SubmitQueue {
        let (sender, mut receiver) = mpsc::channel::<(Submission, Reply)>(CAPACITY);
        tokio::spawn(async move {
            let mut waiting = Vec::with_capacity(MAX_BATCH);
            while receiver.recv_many(&mut waiting, MAX_BATCH).await > 0 {
                write_batch(&store, &keys, std::mem::take(&mut waiting)).await;
            }
        });
        SubmitQueue { sender }
    }

    /// Stores one answer together with whatever else is waiting; returns once it is
    /// committed (or refused, or failed).
    pub async fn submit(
        &self,
        token: LinkToken,
        answer: ValidAnswer,
    ) -> Result<Result<SubmitOutcome, StoreError>, WriterStopped> {
        let (reply, outcome) = oneshot::channel();
        self.sender
            .send((Submission { token, answer }, reply))
            .await
            .map_err(|_| WriterStopped)?;
        outcome.await.map_err(|_| WriterStopped)
    }
}

async fn write_batch(store: &Store, keys: &KeyChain, waiting: Vec<(Submission, Reply)>) {
    let (submissions, replies): (Vec<Submission>, Vec<Reply>) = waiting.into_iter().unzip();
    if submissions.len() > 1 {
        match answers::submit_batch(store, keys, submissions.clone()).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    // A request that gave up (client gone) no longer listens.
                    let _ = reply.send(outcome);
                }
                return;
            }
            Err(error) => {
                tracing::warn!(%error, answers = submissions.len(), "a batch of answers failed; storing them one by one");
            }
        }
    }
    for (submission, reply) in submissions.into_iter().zip(replies) {
        let outcome = answers::submit(store, keys, &submission.token, submission.answer).await;
        let _ = reply.send(outcome);
    }
}
