//! Group commit for logins: token inserts that arrive together are written in
//! one transaction.
//!
//! Every login writes a row, and a database takes its writes one at a time.
//! Sent one by one, concurrent logins queue for the write lock and each pays
//! the commit and the round trips to the database alone. An [`InsertQueue`]
//! hands them to one writer task instead. The writer takes every insert
//! waiting in the queue, up to [`MAX_BATCH`], writes them in one transaction
//! and sends each caller its outcome. The inserts that arrive meanwhile form
//! the next batch. Nothing waits for a batch to fill: a lone login is written
//! at once.
//!
//! A batch applies its inserts in arrival order under the same rules as single
//! inserts, so the per-user limit is enforced exactly as before. When the
//! database rejects a statement of a batch, its inserts are retried one by
//! one, so one bad row cannot fail other users' logins. When the connection
//! fails or a wait runs out, the whole batch fails at once. A login whose
//! caller has gone away before its batch starts, such as a cancelled request,
//! is not written.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use super::{
    is_connection_error, is_timeout_error, InsertOutcome, NewFamily, StoreError, TokenRecord,
};

/// Maximum number of inserts in one transaction.
pub(crate) const MAX_BATCH: usize = 128;

/// How many inserts may wait for the writer before callers wait to queue.
const QUEUE_CAPACITY: usize = 1024;

/// One login's insert, as [`TokenStore::insert_token`](super::TokenStore::insert_token) takes it.
#[derive(Debug, Clone)]
pub(crate) struct PendingInsert {
    pub(crate) token: TokenRecord,
    pub(crate) family: Option<NewFamily>,
    pub(crate) limit: Option<u32>,
    pub(crate) now: DateTime<Utc>,
}

impl PendingInsert {
    /// Copies the arguments of one `insert_token` call.
    pub(crate) fn new(
        token: &TokenRecord,
        family: Option<&NewFamily>,
        limit: Option<u32>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            token: token.clone(),
            family: family.cloned(),
            limit,
            now,
        }
    }
}

/// A store's way to write several inserts in one transaction.
pub(crate) trait BatchWriter: Send + Sync + 'static {
    /// A connection the writer keeps while inserts keep arriving.
    type Connection: Send;

    /// Takes a connection from the store's pool.
    fn connect(&self) -> impl Future<Output = Result<Self::Connection, StoreError>> + Send;

    /// Returns whether the writer keeps `connection` while no insert waits;
    /// by default it goes back to the pool.
    fn keep_when_idle(connection: &Self::Connection) -> bool {
        let _ = connection;
        false
    }

    /// Applies `batch` in order in one transaction and returns one outcome per
    /// insert, in the same order. On an error nothing of the batch is stored.
    fn insert_batch(
        &self,
        connection: &mut Self::Connection,
        batch: &[PendingInsert],
    ) -> impl Future<Output = Result<Vec<InsertOutcome>, StoreError>> + Send;
}

type Job = (
    PendingInsert,
    oneshot::Sender<Result<InsertOutcome, StoreError>>,
);

/// Queue of inserts in front of one writer task.
///
/// The task starts with the first insert, on the runtime of that caller, and
/// ends when the queue is dropped. Every later insert waits for that runtime,
/// so a store must be used on the runtime that runs the server, as a server's
/// state is. If that runtime shuts down, the inserts it had queued fail, and
/// the next insert starts a new task on its own runtime.
#[derive(Debug, Default)]
pub(crate) struct InsertQueue {
    sender: Mutex<Option<mpsc::Sender<Job>>>,
}

impl InsertQueue {
    /// Queues `insert` for the writer task, starting the task with a clone of
    /// `writer` if none runs, and waits for its outcome.
    pub(crate) async fn insert<W>(
        &self,
        writer: &W,
        insert: PendingInsert,
    ) -> Result<InsertOutcome, StoreError>
    where
        W: BatchWriter + Clone,
    {
        let (reply, outcome) = oneshot::channel();
        let sender = self.sender(writer);
        if let Err(mpsc::error::SendError((insert, _))) = sender.send((insert, reply)).await {
            // The task's runtime has shut down. The next call starts another;
            // this insert is written here.
            self.forget(&sender);
            return insert_alone(writer, &mut None, &insert).await;
        }
        // The task drops a reply only when its runtime shuts down.
        outcome
            .await
            .unwrap_or(Err(StoreError::Database(sqlx::Error::WorkerCrashed)))
    }

    fn sender<W: BatchWriter + Clone>(&self, writer: &W) -> mpsc::Sender<Job> {
        let mut slot = self
            .sender
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(sender) = slot.as_ref().filter(|sender| !sender.is_closed()) {
            return sender.clone();
        }
        let (sender, jobs) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(run_writer(writer.clone(), jobs));
        *slot = Some(sender.clone());
        sender
    }

    fn forget(&self, stale: &mpsc::Sender<Job>) {
        let mut slot = self
            .sender
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if slot
            .as_ref()
            .is_some_and(|sender| sender.same_channel(stale))
        {
            *slot = None;
        }
    }
}

/// Writes one insert as a batch of its own, on `connection`, taking one from
/// the pool if it is `None`.
async fn insert_alone<W: BatchWriter>(
    writer: &W,
    connection: &mut Option<W::Connection>,
    insert: &PendingInsert,
) -> Result<InsertOutcome, StoreError> {
    let open = match connection {
        Some(open) => open,
        None => connection.insert(writer.connect().await?),
    };
    let written = writer
        .insert_batch(open, std::slice::from_ref(insert))
        .await;
    if written
        .as_ref()
        .is_err_and(|error| !is_statement_error(error))
    {
        *connection = None;
    }
    // A writer returns one outcome per insert, so an empty result means the
    // insert was not stored.
    written?
        .first()
        .copied()
        .ok_or(StoreError::Database(sqlx::Error::WorkerCrashed))
}

/// Runs the writer task: takes what is queued, writes it as one batch and
/// replies to each caller.
///
/// It keeps its connection while more inserts wait, so under a stream of
/// logins it does not queue behind readers for a connection at every batch.
/// It gives a pooled connection back as soon as the queue is empty and keeps
/// one that [`BatchWriter::keep_when_idle`] keeps.
async fn run_writer<W: BatchWriter>(writer: W, mut jobs: mpsc::Receiver<Job>) {
    let mut queued = Vec::with_capacity(MAX_BATCH);
    let mut connection = None;
    loop {
        if jobs.is_empty() && !connection.as_ref().is_some_and(W::keep_when_idle) {
            connection = None;
        }
        if jobs.recv_many(&mut queued, MAX_BATCH).await == 0 {
            return;
        }
        // A caller that went away, such as a cancelled request, gets no token,
        // so its login is not written.
        let (batch, replies): (Vec<_>, Vec<_>) = queued
            .drain(..)
            .filter(|(_, reply)| !reply.is_closed())
            .unzip();
        if batch.is_empty() {
            continue;
        }
        let written = match connection.as_mut() {
            Some(open) => writer.insert_batch(open, &batch).await,
            None => match writer.connect().await {
                Ok(opened) => writer.insert_batch(connection.insert(opened), &batch).await,
                Err(error) => Err(error),
            },
        };
        match written {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    // A caller that went away no longer needs its outcome.
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(error) if batch.len() > 1 && is_statement_error(&error) => {
                // The database refused a statement, maybe for one row. Nothing
                // of the batch was stored, so each insert gets its own try.
                for (insert, reply) in batch.iter().zip(replies) {
                    if !reply.is_closed() {
                        let _ = reply.send(insert_alone(&writer, &mut connection, insert).await);
                    }
                }
            }
            Err(error) => {
                // The connection failed or a wait ran out: every insert of the
                // batch fails alike, at once, and the next batch takes a fresh
                // connection.
                connection = None;
                let mut replies = replies.into_iter();
                for reply in replies.by_ref().take(batch.len() - 1) {
                    let _ = reply.send(Err(copy_error(&error)));
                }
                if let Some(reply) = replies.next() {
                    let _ = reply.send(Err(error));
                }
            }
        }
    }
}

/// Returns whether `error` is the database rejecting a statement, which may
/// concern one row of a batch, rather than the connection failing or a wait
/// running out, which concern them all.
fn is_statement_error(error: &StoreError) -> bool {
    match error {
        StoreError::Database(error @ sqlx::Error::Database(_)) => {
            !is_connection_error(error) && !is_timeout_error(error)
        }
        _ => false,
    }
}

/// Copies a connection or pool error for each caller of a failed batch.
fn copy_error(error: &StoreError) -> StoreError {
    let copy = match error {
        StoreError::Database(sqlx::Error::PoolTimedOut) => sqlx::Error::PoolTimedOut,
        StoreError::Database(sqlx::Error::PoolClosed) => sqlx::Error::PoolClosed,
        StoreError::Database(sqlx::Error::WorkerCrashed) => sqlx::Error::WorkerCrashed,
        StoreError::Database(sqlx::Error::Io(io)) => {
            sqlx::Error::Io(std::io::Error::new(io.kind(), io.to_string()))
        }
        StoreError::Database(other) => sqlx::Error::Protocol(other.to_string()),
        other => sqlx::Error::Protocol(other.to_string()),
    };
    StoreError::Database(copy)
}

/// Returns the users of `batch`'s inserts that have a limit, sorted, each
/// once: those whose sessions the batch must count, and lock first where the
/// store locks users.
pub(crate) fn limited_users(batch: &[PendingInsert]) -> Vec<&str> {
    let mut users: Vec<&str> = batch
        .iter()
        .filter(|insert| insert.limit.is_some())
        .map(|insert| insert.token.user_id.as_str())
        .collect();
    users.sort_unstable();
    users.dedup();
    users
}

/// Returns the time at which a batch counts live sessions: its latest insert's.
pub(crate) fn counted_at(batch: &[PendingInsert]) -> DateTime<Utc> {
    batch
        .iter()
        .map(|insert| insert.now)
        .max()
        .unwrap_or_else(Utc::now)
}

/// Decides each insert of `batch` in arrival order, given the stored sessions
/// of every user from [`limited_users`]: an insert with a limit is refused
/// when its user's stored sessions plus those accepted earlier in the batch
/// reach that limit.
pub(crate) fn decide_limits(
    batch: &[PendingInsert],
    stored: &HashMap<&str, i64>,
) -> Vec<InsertOutcome> {
    let mut sessions: HashMap<&str, i64> = stored.clone();
    batch
        .iter()
        .map(|insert| {
            let count = sessions.entry(insert.token.user_id.as_str()).or_default();
            if insert.limit.is_some_and(|limit| *count >= i64::from(limit)) {
                return InsertOutcome::LimitReached;
            }
            *count += 1;
            InsertOutcome::Inserted
        })
        .collect()
}

/// Returns the inserts of `batch` that `outcomes` accepted.
pub(crate) fn accepted<'a>(
    batch: &'a [PendingInsert],
    outcomes: &'a [InsertOutcome],
) -> impl Iterator<Item = &'a PendingInsert> + Clone {
    batch
        .iter()
        .zip(outcomes)
        .filter(|(_, outcome)| **outcome == InsertOutcome::Inserted)
        .map(|(insert, _)| insert)
}
