//! Connections lent to the reads on the request path.
//!
//! When a connection goes back to a sqlx pool, the pool pings it in a task of
//! its own. On SQLite that ping is one more round trip to the connection's
//! thread, as costly as the read itself. Lookups by token digest and by
//! username, which every authentication and login makes, borrow from a few
//! connections taken out of the pool instead, and hand them back without the
//! ping.

use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::{OnceCell, Semaphore, SemaphorePermit};

use crate::store::StoreError;

/// How many connections the lender takes out of the pool, at most.
const LENT_CONNECTIONS: usize = 4;

/// Lends connections of a SQLite database for single reads.
#[derive(Debug)]
pub(crate) struct Lender {
    pool: SqlitePool,
    /// Set on first use: `None` when the database lives in memory, where
    /// every connection must come from the pool.
    lent: OnceCell<Option<Lent>>,
}

/// The connections of a file database, and a permit for each.
#[derive(Debug)]
pub(crate) struct Lent {
    idle: Mutex<Vec<SqliteConnection>>,
    permits: Semaphore,
}

/// A borrowed connection; it goes back to its lender when dropped.
pub(crate) enum Lease<'a> {
    /// One of the lender's own connections.
    Lent {
        connection: Option<SqliteConnection>,
        lent: &'a Lent,
        _permit: SemaphorePermit<'a>,
    },
    /// A pooled connection, for a database in memory.
    Pooled(PoolConnection<Sqlite>),
}

impl Lender {
    /// Creates a lender that takes its connections from `pool`.
    pub(crate) fn new(pool: SqlitePool) -> Self {
        Self {
            pool,
            lent: OnceCell::new(),
        }
    }

    /// Borrows a connection, waiting while all are lent.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the pool cannot open a connection.
    pub(crate) async fn lease(&self) -> Result<Lease<'_>, StoreError> {
        let lent = self
            .lent
            .get_or_try_init(|| async {
                // An in-memory or temporary database has no file name, and
                // exists only on the pool's connection.
                let file: String =
                    sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                        .fetch_one(&self.pool)
                        .await?;
                Ok::<_, StoreError>((!file.is_empty()).then(|| Lent {
                    idle: Mutex::new(Vec::with_capacity(LENT_CONNECTIONS)),
                    permits: Semaphore::new(LENT_CONNECTIONS),
                }))
            })
            .await?;
        let Some(lent) = lent else {
            return Ok(Lease::Pooled(self.pool.acquire().await?));
        };

        // The semaphore is never closed.
        let permit = lent
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        let idle = lent
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop();
        let connection = match idle {
            Some(connection) => connection,
            // The pool opens another connection in place of this one.
            None => self.pool.acquire().await?.detach(),
        };
        Ok(Lease::Lent {
            connection: Some(connection),
            lent,
            _permit: permit,
        })
    }
}

impl Deref for Lease<'_> {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        match self {
            Lease::Lent { connection, .. } => connection.as_ref().expect("present until dropped"),
            Lease::Pooled(connection) => connection,
        }
    }
}

impl DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        match self {
            Lease::Lent { connection, .. } => connection.as_mut().expect("present until dropped"),
            Lease::Pooled(connection) => connection,
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Lease::Lent {
            connection, lent, ..
        } = self
        {
            if let Some(connection) = connection.take() {
                lent.idle
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(connection);
            }
        }
    }
}
