//! sqlx errors to conn errors: a class that decides retries, the SQLSTATE as code,
//! and a message with every secret of the connection removed.
//!
//! Stale: I/O errors, a closed pool, SQLSTATE class 08 (connection exception),
//! PostgreSQL 57P01-57P03 (terminated by an administrator, crash, starting up), MySQL
//! "server has gone away" and "lost connection". Transient: pool timeouts,
//! serialization failures and deadlocks (40001, 40P01), too many connections (53300),
//! SQLite busy and locked. Everything else, syntax (42), constraints (23) and
//! authentication (28) included, is permanent.

use conn_core::{Error, ErrorClass, Redactor};

/// MySQL error numbers that mean the connection is gone.
const MYSQL_GONE: &[u16] = &[
    1053, // ER_SERVER_SHUTDOWN
    1927, // ER_CONNECTION_KILLED (MariaDB)
    2006, // CR_SERVER_GONE_ERROR
    2013, // CR_SERVER_LOST
    4031, // ER_CLIENT_INTERACTION_TIMEOUT
];

/// MySQL error numbers worth another attempt.
const MYSQL_TRANSIENT: &[u16] = &[
    1040, // ER_CON_COUNT_ERROR
    1205, // ER_LOCK_WAIT_TIMEOUT
    1213, // ER_LOCK_DEADLOCK
];

/// The class of a SQLSTATE.
pub(crate) fn class_of_sqlstate(code: &str) -> ErrorClass {
    match code {
        c if c.starts_with("08") => ErrorClass::Stale,
        "57P01" | "57P02" | "57P03" => ErrorClass::Stale,
        "40001" | "40P01" | "53300" => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    }
}

fn class_of_database_error(err: &dyn sqlx::error::DatabaseError) -> ErrorClass {
    #[cfg(feature = "mysql")]
    if let Some(mysql) = err.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        let number = mysql.number();
        if MYSQL_GONE.contains(&number) {
            return ErrorClass::Stale;
        }
        if MYSQL_TRANSIENT.contains(&number) {
            return ErrorClass::Transient;
        }
    }
    #[cfg(feature = "sqlite")]
    if let Some(sqlite) = err.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
        use sqlx::error::DatabaseError as _;
        // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
        let primary = sqlite
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .map(|c| c & 0xff);
        if matches!(primary, Some(5 | 6)) {
            return ErrorClass::Transient;
        }
        return ErrorClass::Permanent;
    }
    err.code()
        .map_or(ErrorClass::Permanent, |code| class_of_sqlstate(&code))
}

/// The class of any sqlx error.
pub(crate) fn class_of(err: &sqlx::Error) -> ErrorClass {
    match err {
        sqlx::Error::Io(_) | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
            ErrorClass::Stale
        }
        sqlx::Error::Protocol(_) => ErrorClass::Stale,
        sqlx::Error::PoolTimedOut => ErrorClass::Transient,
        sqlx::Error::Database(db) => class_of_database_error(db.as_ref()),
        _ => ErrorClass::Permanent,
    }
}

/// A conn error for `err`, raised by connection `name` while doing `what`.
pub(crate) fn to_conn_error(
    err: &sqlx::Error,
    name: &str,
    what: &str,
    redactor: &Redactor,
) -> Error {
    let class = class_of(err);
    let code = match err {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    };
    let error = Error::driver(
        format!("sql connection \"{name}\", {what}"),
        class,
        redactor.redact(&err.to_string()),
    );
    match code {
        Some(code) => error.with_code(code),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates() {
        assert_eq!(class_of_sqlstate("08006"), ErrorClass::Stale);
        assert_eq!(class_of_sqlstate("57P01"), ErrorClass::Stale);
        assert_eq!(class_of_sqlstate("40001"), ErrorClass::Transient);
        assert_eq!(class_of_sqlstate("42601"), ErrorClass::Permanent);
        assert_eq!(class_of_sqlstate("23505"), ErrorClass::Permanent);
        assert_eq!(class_of_sqlstate("28P01"), ErrorClass::Permanent);
    }

    #[test]
    fn io_is_stale_and_messages_are_redacted() {
        let io = sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset while talking to hunter2",
        ));
        let redactor = Redactor::default().with_secret("hunter2");
        let err = to_conn_error(&io, "db", "query", &redactor);
        assert_eq!(err.class(), ErrorClass::Stale);
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(
            err.to_string()
                .starts_with("sql connection \"db\", query: "),
            "{err}"
        );
    }
}
