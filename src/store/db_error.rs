//! How database failures become the application's errors: unreachable is
//! `Unavailable` (503), a unique-constraint clash is a `Conflict` (409), anything else
//! is a fault (500). The driver's words are logged, never answered.

use sea_orm::{DbErr, SqlErr};

use crate::error::{ConflictKind, Error};

impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        if unavailable(&err) {
            return Error::Unavailable(err.to_string());
        }
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(detail)) => {
                // The database's own words name tables and constraints: log them only.
                tracing::info!(%detail, "a concurrent change won");
                Error::conflict(
                    ConflictKind::Concurrent,
                    "a concurrent request changed the same data first; send the request again",
                )
            }
            _ => Error::Db(err.to_string()),
        }
    }
}

/// Whether a database error means the database cannot be reached now (rather than
/// that the request or the data is wrong).
fn unavailable(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            sqlx_unavailable(e)
        }
        _ => false,
    }
}

fn sqlx_unavailable(err: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error as E;
    match err {
        E::Io(_)
        | E::Tls(_)
        | E::Protocol(_)
        | E::PoolTimedOut
        | E::PoolClosed
        | E::WorkerCrashed => true,
        E::Database(db) => db.code().is_some_and(|code| unavailable_code(&code)),
        _ => false,
    }
}

/// PostgreSQL SQLSTATEs (five characters) and SQLite result codes (numbers) that say
/// the database, not the statement, is the problem.
fn unavailable_code(code: &str) -> bool {
    // A SQLSTATE has five characters, often all digits; SQLite's codes fit in four.
    if code.len() < 5
        && let Ok(sqlite) = code.parse::<i32>()
    {
        // The primary code is the low byte of an extended one.
        return matches!(
            sqlite & 0xff,
            5 /* BUSY */ | 6 /* LOCKED */ | 8 /* READONLY */ | 10 /* IOERR */
                | 13 /* FULL */ | 14 /* CANTOPEN */
        );
    }
    // Class 08: connection exception; 53: insufficient resources (too many
    // connections, disk full); 57P01–57P03: the server is shutting down or starting.
    code.starts_with("08") || code.starts_with("53") || matches!(code, "57P01" | "57P02" | "57P03")
}

#[cfg(test)]
mod tests {
    use super::unavailable_code;

    #[test]
    fn which_database_codes_mean_unavailable() {
        // PostgreSQL: connection failure, shutting down, too many connections.
        for code in ["08006", "08001", "57P01", "57P03", "53300"] {
            assert!(unavailable_code(code), "{code}");
        }
        // Unique violation, syntax error, invalid text: the request, not the database.
        for code in ["23505", "42601", "22021"] {
            assert!(!unavailable_code(code), "{code}");
        }
        // SQLite: BUSY, BUSY_SNAPSHOT (517), READONLY, IOERR_WRITE (778), FULL.
        for code in ["5", "517", "8", "778", "13"] {
            assert!(unavailable_code(code), "{code}");
        }
        // CONSTRAINT_UNIQUE (2067), plain ERROR.
        for code in ["2067", "1"] {
            assert!(!unavailable_code(code), "{code}");
        }
    }
}
