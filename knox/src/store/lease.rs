//! Connections lent to the reads on the request path.
//!
//! A sqlx pool pings every connection that comes back to it, and on
//! PostgreSQL also every connection it hands out. On SQLite a ping is one more
//! round trip to the connection's thread, on PostgreSQL one more round trip to
//! the server. Lookups by token digest and by username, which every
//! authentication and login makes, borrow instead from a few connections that
//! a [`Lender`] keeps checked out of the pool, and hand them back without a
//! ping. The pool still counts them: a lender keeps at most a quarter of the
//! pool's `max_connections`, and none from a pool of fewer than four. When
//! none of them is free within a few milliseconds, a read takes a connection
//! from the pool as any other query does.
//!
//! A connection that fails, or that the server ends, is closed. When that
//! happens to a connection that had waited idle, the read is tried once more
//! on a new connection, because the server may have ended the idle session
//! meanwhile, at a restart or after its idle timeout.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{Database, Pool};
use tokio::sync::{OnceCell, Semaphore};

use super::{is_connection_error, StoreError};

/// How many connections a lender keeps, at most.
const LENT_CONNECTIONS: u32 = 4;

/// How long a read waits for a kept connection before it uses the pool.
const PERMIT_WAIT: Duration = Duration::from_millis(5);

/// A read on a borrowed connection.
pub(crate) type Read<'c, T> = Pin<Box<dyn Future<Output = Result<T, sqlx::Error>> + Send + 'c>>;

/// A database whose connections a [`Lender`] can take out of the pool.
pub(crate) trait Lendable: Database {
    /// Returns whether connections of the database behind `pool` may leave
    /// it: `false` for a database that exists only on the pool's connection.
    fn lendable(pool: &Pool<Self>) -> impl Future<Output = Result<bool, sqlx::Error>> + Send;
}

impl Lendable for sqlx::Sqlite {
    async fn lendable(pool: &Pool<Self>) -> Result<bool, sqlx::Error> {
        // An in-memory or temporary database has no file name, and a second
        // connection would not reach it.
        let file: String =
            sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                .fetch_one(pool)
                .await?;
        Ok(!file.is_empty())
    }
}

#[cfg(feature = "postgres")]
impl Lendable for sqlx::Postgres {
    async fn lendable(_: &Pool<Self>) -> Result<bool, sqlx::Error> {
        Ok(true)
    }
}

/// Lends connections of a pool for single reads.
pub(crate) struct Lender<DB: Lendable> {
    pool: Pool<DB>,
    /// Set on first use: `None` when every read must use the pool.
    lent: OnceCell<Option<Lent<DB>>>,
}

/// The connections taken out of the pool, and a permit for each.
struct Lent<DB: Database> {
    idle: Mutex<Vec<PoolConnection<DB>>>,
    permits: Semaphore,
}

impl<DB: Lendable> std::fmt::Debug for Lender<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lender")
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

impl<DB: Lendable> Lender<DB> {
    /// Creates a lender that takes its connections from `pool`.
    pub(crate) fn new(pool: Pool<DB>) -> Self {
        Self {
            pool,
            lent: OnceCell::new(),
        }
    }

    /// Runs `read` on a kept connection, or on one from the pool when none is
    /// free within [`PERMIT_WAIT`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the read fails, or when no connection
    /// can be opened.
    pub(crate) async fn read<T, F>(&self, mut read: F) -> Result<T, StoreError>
    where
        F: for<'c> FnMut(&'c mut DB::Connection) -> Read<'c, T>,
    {
        let lent = self
            .lent
            .get_or_try_init(|| async {
                // A quarter of the pool, so writes and other lenders on the
                // same pool always find connections.
                let count = LENT_CONNECTIONS.min(self.pool.options().get_max_connections() / 4);
                let lendable = count > 0 && DB::lendable(&self.pool).await?;
                Ok::<_, StoreError>(lendable.then(|| Lent {
                    idle: Mutex::new(Vec::new()),
                    permits: Semaphore::new(count as usize),
                }))
            })
            .await?;
        let Some(lent) = lent else {
            let mut connection: PoolConnection<DB> = self.pool.acquire().await?;
            return Ok(read(&mut connection).await?);
        };

        // A kept connection is usually free again within a read's time. When
        // none is free by PERMIT_WAIT, the read takes a connection from the
        // pool like any other query, so during an outage, while kept
        // connections wait out the pool's timeout, reads fail side by side.
        let permit = match lent.permits.try_acquire() {
            Ok(permit) => Some(permit),
            Err(_) => tokio::time::timeout(PERMIT_WAIT, lent.permits.acquire())
                .await
                .ok()
                .and_then(Result::ok),
        };
        let Some(_permit) = permit else {
            let mut connection: PoolConnection<DB> = self.pool.acquire().await?;
            return Ok(read(&mut connection).await?);
        };
        let idle = lent
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop();
        let waited = idle.is_some();
        let mut connection = match idle {
            Some(connection) => connection,
            None => self.open().await?,
        };

        let mut result = read(&mut connection).await;
        if waited && result.as_ref().is_err_and(is_connection_error) {
            // The connection may have been ended while it waited: close it and
            // try a new one once.
            connection.close_on_drop();
            connection = self.open().await?;
            result = read(&mut connection).await;
        }
        if result.as_ref().is_err_and(is_connection_error) {
            connection.close_on_drop();
        } else {
            lent.idle
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(connection);
        }
        Ok(result?)
    }

    /// Checks a connection out of the pool.
    async fn open(&self) -> Result<PoolConnection<DB>, StoreError> {
        Ok(self.pool.acquire().await?)
    }
}
