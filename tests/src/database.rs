//! The two stores every test runs on, and the raw SQL helpers tests use to
//! look at stored rows.

use std::sync::Arc;

use axum_knox::users::{KnoxUser, PasswordHasher, PgUsers, SqliteUsers, UserBackend};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row, SqlitePool};

/// The store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A fresh schema in the PostgreSQL database of [`postgres_url`].
    Postgres,
}

/// Returns the PostgreSQL URL of the tests: `KNOX_TEST_POSTGRES_URL`, or the
/// local server of the development machines.
pub fn postgres_url() -> String {
    std::env::var("KNOX_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Returns whether to skip the PostgreSQL half of the suite: only with
/// `KNOX_TEST_SKIP_POSTGRES=1`, and never under `CI=true`.
pub fn skip_postgres() -> bool {
    let requested = std::env::var("KNOX_TEST_SKIP_POSTGRES").is_ok_and(|value| value == "1");
    let in_ci = std::env::var("CI").is_ok_and(|value| value == "true");
    if requested && in_ci {
        panic!(
            "KNOX_TEST_SKIP_POSTGRES=1 is not allowed under CI=true: the PostgreSQL tests must run"
        );
    }
    if requested {
        eprintln!("skipping a PostgreSQL test: KNOX_TEST_SKIP_POSTGRES=1");
    }
    requested
}

/// A test database, removed when dropped.
pub enum Database {
    /// A SQLite file in its own directory.
    Sqlite {
        /// The pool of the file.
        pool: SqlitePool,
        /// The directory, deleted on drop.
        dir: Arc<tempfile::TempDir>,
    },
    /// A schema of its own in the shared PostgreSQL database.
    Postgres {
        /// A pool whose connections use the schema.
        pool: PgPool,
        /// Name of the schema, dropped on drop.
        schema: String,
    },
}

impl Database {
    /// Creates an empty database of `backend`.
    ///
    /// # Panics
    ///
    /// When PostgreSQL is unreachable, with the URL and the way to skip.
    pub async fn create(backend: Backend) -> Database {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}", dir.path().join("knox.sqlite3").display());
                let pool = axum_knox::store::sqlite::connect(&url)
                    .await
                    .expect("open SQLite");
                Database::Sqlite {
                    pool,
                    dir: Arc::new(dir),
                }
            }
            Backend::Postgres => {
                let url = postgres_url();
                let schema = format!("knox_test_{}", axum_knox::crypto::generate_token("", 16));
                let admin = match sqlx::PgPool::connect(&url).await {
                    Ok(admin) => admin,
                    Err(error) => panic!(
                        "PostgreSQL is unreachable at {url}: {error}. Start it, point \
                         KNOX_TEST_POSTGRES_URL at a server, or set KNOX_TEST_SKIP_POSTGRES=1 \
                         to skip these tests outside CI."
                    ),
                };
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&admin)
                    .await
                    .expect("create test schema");
                admin.close().await;
                let pool = Self::postgres_pool(&url, &schema).await;
                Database::Postgres { pool, schema }
            }
        }
    }

    /// Opens another pool on the same database, as a second app instance would.
    pub async fn second_pool(&self) -> Database {
        match self {
            Database::Sqlite { .. } => panic!("a second instance needs PostgreSQL"),
            Database::Postgres { schema, .. } => {
                let pool = Self::postgres_pool(&postgres_url(), schema).await;
                // The first instance owns the schema and drops it.
                Database::Postgres {
                    pool,
                    schema: String::new(),
                }
            }
        }
    }

    async fn postgres_pool(url: &str, schema: &str) -> PgPool {
        let options: PgConnectOptions = url.parse().expect("valid PostgreSQL URL");
        PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options.options([("search_path", schema)]))
            .await
            .expect("connect to PostgreSQL")
    }

    /// Counts the rows of `table` matching the SQL `condition`.
    pub async fn count(&self, table: &str, condition: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE {condition}");
        match self {
            Database::Sqlite { pool, .. } => sqlx::query(&sql)
                .fetch_one(pool)
                .await
                .expect("count")
                .get("n"),
            Database::Postgres { pool, .. } => sqlx::query(&sql)
                .fetch_one(pool)
                .await
                .expect("count")
                .get("n"),
        }
    }

    /// Returns the first column of `sql` as text, one entry per row.
    pub async fn texts(&self, sql: &str) -> Vec<Option<String>> {
        match self {
            Database::Sqlite { pool, .. } => sqlx::query(sql)
                .fetch_all(pool)
                .await
                .expect("query")
                .iter()
                .map(|row| row.get(0))
                .collect(),
            Database::Postgres { pool, .. } => sqlx::query(sql)
                .fetch_all(pool)
                .await
                .expect("query")
                .iter()
                .map(|row| row.get(0))
                .collect(),
        }
    }

    /// Runs a statement.
    pub async fn execute(&self, sql: &str) {
        match self {
            Database::Sqlite { pool, .. } => {
                sqlx::query(sql).execute(pool).await.expect("statement");
            }
            Database::Postgres { pool, .. } => {
                sqlx::query(sql).execute(pool).await.expect("statement");
            }
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let Database::Postgres { schema, .. } = self else {
            return;
        };
        if schema.is_empty() {
            return;
        }
        // Drop cannot await, so a thread of its own removes the schema.
        let schema = std::mem::take(schema);
        let url = postgres_url();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let admin = sqlx::PgPool::connect(&url).await?;
                sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .execute(&admin)
                    .await?;
                admin.close().await;
                Ok::<_, sqlx::Error>(())
            })
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("dropping a test schema failed: {error}");
        }
    }
}

/// The bundled users table of the test's store.
#[derive(Clone)]
pub enum TestUsers {
    /// `knox_user` on SQLite.
    Sqlite(SqliteUsers),
    /// `knox_user` on PostgreSQL.
    Postgres(PgUsers),
}

impl TestUsers {
    /// Returns the backend for [`axum_knox::Knox`].
    pub fn backend(&self) -> Arc<dyn UserBackend<User = KnoxUser>> {
        match self {
            TestUsers::Sqlite(users) => Arc::new(users.clone()),
            TestUsers::Postgres(users) => Arc::new(users.clone()),
        }
    }

    /// Creates an active user.
    pub async fn create_user(&self, username: &str, password: &str) -> KnoxUser {
        match self {
            TestUsers::Sqlite(users) => users.create_user(username, password).await,
            TestUsers::Postgres(users) => users.create_user(username, password).await,
        }
        .expect("create user")
    }

    /// Finds a user by username.
    pub async fn find_by_username(&self, username: &str) -> Option<KnoxUser> {
        match self {
            TestUsers::Sqlite(users) => users.find_by_username(username).await,
            TestUsers::Postgres(users) => users.find_by_username(username).await,
        }
        .expect("find user")
    }

    /// Activates or deactivates a user.
    pub async fn set_active(&self, id: i64, active: bool) {
        match self {
            TestUsers::Sqlite(users) => users.set_active(id, active).await,
            TestUsers::Postgres(users) => users.set_active(id, active).await,
        }
        .expect("update user");
    }

    /// Returns the password hasher of the tests.
    pub fn hasher() -> PasswordHasher {
        PasswordHasher::insecure_fast()
    }
}
