//! The SQLite login writer: batches of token inserts on a connection of its
//! own, with the WAL checkpoints moved off that connection.
//!
//! SQLite copies the write-ahead log back into the database file at a
//! checkpoint. By default the connection whose commit makes the log pass 1000
//! pages runs it inside that commit, fsync included. Under a stream of logins
//! that connection is the writer, so every login in the queue would wait for
//! the disk. The writer's own connection therefore has automatic checkpoints
//! off. Instead, while logins are written, a task on a pooled connection runs
//! a passive checkpoint at most every [`CHECKPOINT_INTERVAL`], which does not
//! wait for readers or writers. Only once the log has grown past
//! [`RESTART_FRAMES`] does the task run a restart checkpoint, which waits for
//! both. Other connections keep SQLite's automatic
//! checkpoints.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::{ConnectOptions, SqliteConnection, SqlitePool};

use super::{count_sessions, encode_time, insert_access_tokens, insert_refresh_token};
use crate::store::batch::{
    accepted, counted_at, decide_limits, limited_users, BatchWriter, PendingInsert,
};
use crate::store::lease::Lendable;
use crate::store::{InsertOutcome, StoreError, TokenTable};

/// The shortest time between two checkpoints that the writer starts.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);

/// Length of the write-ahead log, in pages, past which a checkpoint makes the
/// log start over: 16 MiB with SQLite's default 4 KiB pages.
const RESTART_FRAMES: i64 = 4096;

/// Writes batches of logins for a [`SqliteStore`](super::SqliteStore).
#[derive(Debug, Clone)]
pub(super) struct Writer {
    pub(super) pool: SqlitePool,
    pub(super) table: TokenTable,
    pub(super) write_lock: Arc<tokio::sync::Mutex<()>>,
    pub(super) checkpoints: Arc<Checkpoints>,
}

/// The writer's connection.
#[derive(Debug)]
pub(super) enum WriterConnection {
    /// A connection of its own to a database file, without automatic checkpoints.
    Own(SqliteConnection),
    /// A connection from the pool for each batch, for an in-memory or
    /// temporary database, which exists only on the pool's connection. It is
    /// taken after the write lock, in the order every other writer takes them,
    /// so the writer cannot deadlock with another writer of the store.
    Pooled,
}

/// When the last checkpoint started, and whether one runs now.
#[derive(Debug)]
pub(super) struct Checkpoints {
    running: AtomicBool,
    last: Mutex<Instant>,
}

impl Default for Checkpoints {
    fn default() -> Self {
        Self {
            running: AtomicBool::new(false),
            last: Mutex::new(Instant::now()),
        }
    }
}

impl Writer {
    /// Starts a passive checkpoint on a pooled connection unless one runs or
    /// one started less than [`CHECKPOINT_INTERVAL`] ago.
    fn request_checkpoint(&self) {
        let checkpoints = &self.checkpoints;
        {
            let mut last = checkpoints
                .last
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if last.elapsed() < CHECKPOINT_INTERVAL
                || checkpoints.running.swap(true, Ordering::AcqRel)
            {
                return;
            }
            *last = Instant::now();
        }

        let pool = self.pool.clone();
        let checkpoints = Arc::clone(checkpoints);
        tokio::spawn(async move {
            // Cleared when the task ends, even when its runtime drops it midway.
            let _running = Running(&checkpoints.running);
            if let Err(error) = checkpoint(&pool).await {
                // The log stays longer until the next checkpoint.
                tracing::warn!(target: "knox", error = %error, "SQLite checkpoint failed");
            }
        });
    }
}

/// Clears the flag of a running checkpoint when dropped.
struct Running<'a>(&'a AtomicBool);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Copies the write-ahead log into the database file.
///
/// A passive checkpoint does not wait. But under a steady stream of writes and
/// reads it never finds the whole log copied and unused, which SQLite needs
/// before it starts the log over, so the log file would grow without bound.
/// Once the log is longer than [`RESTART_FRAMES`], a restart checkpoint waits
/// for the current readers and makes the next write start the log over.
/// Writers wait meanwhile in their busy handler.
async fn checkpoint(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    let (_, log_frames, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(pool)
        .await?;
    if log_frames > RESTART_FRAMES {
        sqlx::query("PRAGMA wal_checkpoint(RESTART)")
            .execute(pool)
            .await?;
    }
    Ok(())
}

impl BatchWriter for Writer {
    type Connection = WriterConnection;

    async fn connect(&self) -> Result<WriterConnection, StoreError> {
        if !<sqlx::Sqlite as Lendable>::lendable(&self.pool).await? {
            return Ok(WriterConnection::Pooled);
        }

        // The pool's options, so the same pragmas and busy timeout apply.
        let mut connection = self.pool.connect_options().connect().await?;
        sqlx::query("PRAGMA wal_autocheckpoint = 0")
            .execute(&mut connection)
            .await?;
        Ok(WriterConnection::Own(connection))
    }

    fn keep_when_idle(connection: &WriterConnection) -> bool {
        matches!(connection, WriterConnection::Own(_))
    }

    async fn insert_batch(
        &self,
        connection: &mut WriterConnection,
        batch: &[PendingInsert],
    ) -> Result<Vec<InsertOutcome>, StoreError> {
        let _write = self.write_lock.lock().await;
        match connection {
            WriterConnection::Own(connection) => {
                let outcomes = self.write(connection, batch).await?;
                self.request_checkpoint();
                Ok(outcomes)
            }
            WriterConnection::Pooled => {
                let mut connection = self.pool.acquire().await?;
                self.write(&mut connection, batch).await
            }
        }
    }
}

impl Writer {
    async fn write(
        &self,
        connection: &mut SqliteConnection,
        batch: &[PendingInsert],
    ) -> Result<Vec<InsertOutcome>, StoreError> {
        if batch
            .iter()
            .all(|insert| insert.family.is_none() && insert.limit.is_none())
        {
            // One statement is atomic on its own: no transaction needed.
            let tokens = batch.iter().map(|insert| &insert.token);
            insert_access_tokens(connection, self.table, tokens).await?;
            return Ok(vec![InsertOutcome::Inserted; batch.len()]);
        }

        // BEGIN IMMEDIATE takes the database's write lock before the counts,
        // so logins of other processes cannot pass the limit beside this batch.
        let mut transaction = sqlx::Connection::begin_with(connection, "BEGIN IMMEDIATE").await?;
        let now = counted_at(batch);
        let mut stored = HashMap::new();
        for user in limited_users(batch) {
            stored.insert(user, count_sessions(&mut transaction, user, now).await?);
        }
        let outcomes = decide_limits(batch, &stored);

        let inserts = accepted(batch, &outcomes);
        let tokens = inserts.clone().map(|insert| &insert.token);
        insert_access_tokens(&mut transaction, self.table, tokens).await?;
        for insert in inserts {
            let Some(new) = &insert.family else {
                continue;
            };
            sqlx::query(
                "INSERT INTO knox_refresh_family (id, user_id, created, expiry, generation, last_issued)
                 VALUES (?1, ?2, ?3, ?4, 1, ?3)",
            )
            .bind(&new.family.id)
            .bind(&new.family.user_id)
            .bind(encode_time(new.family.created))
            .bind(encode_time(new.family.expiry))
            .execute(&mut *transaction)
            .await?;
            insert_refresh_token(
                &mut transaction,
                &new.token,
                &new.family.id,
                1,
                &insert.token,
                new.family.expiry,
            )
            .await?;
        }
        transaction.commit().await?;
        Ok(outcomes)
    }
}
