//! sqlx errors to conn errors: a class that decides retries, the SQLSTATE as code,
//! and a message with every secret of the connection removed.
//!
//! Stale: I/O errors, a closed pool, SQLSTATE class 08 (connection exception),
//! PostgreSQL 57P01-57P03 (terminated by an administrator, crash, starting up), MySQL
//! "server has gone away" and "lost connection". Transient: pool timeouts,
//! serialization failures and deadlocks (40001, 40P01), too many connections (53300),
//! SQLite busy and locked. Everything else, syntax (42), constraints (23) and
//! authentication (28) included, is permanent.

use conn_core::plugin::Redactor;
use conn_core::{DriverError, Error, ErrorClass, ErrorKind};

/// MySQL error numbers that mean the connection is gone.
#[cfg(feature = "mysql")]
const MYSQL_GONE: &[u16] = &[
    1053, // ER_SERVER_SHUTDOWN
    1927, // ER_CONNECTION_KILLED (MariaDB)
    2006, // CR_SERVER_GONE_ERROR
    2013, // CR_SERVER_LOST
    4031, // ER_CLIENT_INTERACTION_TIMEOUT
];

/// MySQL error numbers worth another attempt.
#[cfg(feature = "mysql")]
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
        return sqlite
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .map_or(ErrorClass::Permanent, class_of_sqlite_code);
    }
    err.code()
        .map_or(ErrorClass::Permanent, |code| class_of_sqlstate(&code))
}

/// The class of a SQLite result code: SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their
/// extended codes, are transient; everything else is permanent.
#[cfg(feature = "sqlite")]
pub(crate) fn class_of_sqlite_code(extended: i32) -> ErrorClass {
    match extended & 0xff {
        5 | 6 => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    }
}

/// The kind of a SQLite error, by its message (SQLite's codes do not tell a missing
/// table from other errors).
#[cfg(feature = "sqlite")]
pub(crate) fn kind_of_sqlite_message(message: &str) -> Option<ErrorKind> {
    if message.starts_with("no such table") {
        Some(ErrorKind::NotFound)
    } else if message.contains("interrupted") {
        Some(ErrorKind::Cancelled)
    } else {
        None
    }
}

/// The class of any sqlx error raised while running a statement. A protocol error is
/// permanent: retrying the same statement would fail the same way (a missing parameter,
/// a value the driver cannot encode), and the connection it broke is closed anyway.
pub(crate) fn class_of(err: &sqlx::Error) -> ErrorClass {
    match err {
        sqlx::Error::Io(_) | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
            ErrorClass::Stale
        }
        sqlx::Error::PoolTimedOut => ErrorClass::Transient,
        sqlx::Error::Database(db) => class_of_database_error(db.as_ref()),
        _ => ErrorClass::Permanent,
    }
}

/// The class of an error raised while opening a connection: a refused or unreachable
/// server, or one that closes the connection at once, is worth another attempt (it may
/// be restarting); DNS, TLS and authentication failures are not.
pub(crate) fn class_of_connect(err: &sqlx::Error) -> ErrorClass {
    use std::io::ErrorKind as Io;
    match err {
        sqlx::Error::Io(io) => match io.kind() {
            Io::ConnectionRefused
            | Io::ConnectionReset
            | Io::ConnectionAborted
            | Io::HostUnreachable
            | Io::NetworkUnreachable
            | Io::TimedOut
            | Io::AddrNotAvailable
            | Io::UnexpectedEof => ErrorClass::Transient,
            _ => ErrorClass::Permanent,
        },
        sqlx::Error::PoolTimedOut => ErrorClass::Transient,
        // sqlx 0.9 reads the one-byte answer to PostgreSQL's SSLRequest without checking
        // for the end of the stream, so a server (or a proxy in front of it) that closes
        // the connection at once, as while it restarts, shows as this answer. No server
        // sends a zero byte there.
        sqlx::Error::Protocol(message) if message.contains("from SSLRequest: 0x00") => {
            ErrorClass::Transient
        }
        sqlx::Error::Database(db) => match class_of_database_error(db.as_ref()) {
            // 57P03: the server is starting up.
            ErrorClass::Stale => ErrorClass::Transient,
            other => other,
        },
        _ => ErrorClass::Permanent,
    }
}

/// The kind a program can match on, when the error says more than its class.
fn kind_of(err: &sqlx::Error) -> Option<ErrorKind> {
    let sqlx::Error::Database(db) = err else {
        return match err {
            sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
                Some(ErrorKind::NotFound)
            }
            _ => None,
        };
    };
    #[cfg(feature = "mysql")]
    if let Some(mysql) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return match mysql.number() {
            1044 | 1045 | 1142 | 1143 | 1227 | 1698 => Some(ErrorKind::Authentication),
            1049 | 1051 | 1146 => Some(ErrorKind::NotFound),
            1317 => Some(ErrorKind::Cancelled),
            1969 | 3024 => Some(ErrorKind::Timeout),
            _ => None,
        };
    }
    #[cfg(feature = "sqlite")]
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        return kind_of_sqlite_message(db.message());
    }
    match db.code().as_deref() {
        Some(code) if code.starts_with("28") || code == "42501" => Some(ErrorKind::Authentication),
        Some("3D000" | "42P01" | "3F000") => Some(ErrorKind::NotFound),
        Some("57014") if db.message().contains("statement timeout") => Some(ErrorKind::Timeout),
        Some("57014") => Some(ErrorKind::Cancelled),
        _ => None,
    }
}

/// A conn error for `err`, raised by connection `name` while doing `what` (`connect`
/// is classified as a connect): redacted, with its SQLSTATE, its kind, and the sqlx
/// error as `source()` when its text holds no secret.
pub(crate) fn to_conn_error(
    err: sqlx::Error,
    name: &str,
    what: &str,
    redactor: &Redactor,
) -> Error {
    let connecting = what == "connect";
    let class = if connecting {
        class_of_connect(&err)
    } else {
        class_of(&err)
    };
    let code = match &err {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    };
    let kind = kind_of(&err);
    let mut error = DriverError::from_source(
        format!("sql connection \"{name}\", {what}"),
        class,
        err,
        redactor,
    );
    if let Some(code) = code {
        error = error.with_code(code);
    }
    if let Some(kind) = kind {
        error = error.with_kind(kind);
    }
    if connecting {
        error = error.before_send();
    }
    error.into()
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
    fn a_connection_closed_before_the_ssl_answer_is_transient() {
        // sqlx's text, with the place it was raised.
        let closed = sqlx::Error::Protocol(
            "unexpected response from SSLRequest: 0x00 (sqlx_postgres::connection::tls:95)".into(),
        );
        assert_eq!(class_of_connect(&closed), ErrorClass::Transient);
        let garbage = sqlx::Error::Protocol(
            "unexpected response from SSLRequest: 0x48 (sqlx_postgres::connection::tls:95)".into(),
        );
        assert_eq!(class_of_connect(&garbage), ErrorClass::Permanent);
    }

    #[test]
    fn io_is_stale_and_messages_are_redacted() {
        let io = sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset while talking to hunter2",
        ));
        let redactor = Redactor::default().with_secret("hunter2");
        let err = to_conn_error(io, "db", "query", &redactor);
        assert_eq!(err.class(), ErrorClass::Stale);
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(
            err.to_string()
                .starts_with("sql connection \"db\", query: "),
            "{err}"
        );
    }
}
