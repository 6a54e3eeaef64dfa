//! `write_table`: a table into Snowflake with array binds, in its own session, so that
//! a failure leaves the target as it was.
//!
//! Snowflake commits the open transaction before any DDL, so one transaction cannot
//! hold a `CREATE` and the rows. Instead:
//! * append: `BEGIN`, the inserts, `COMMIT` (a failure rolls back);
//! * create: `CREATE TABLE`, then the inserts in one transaction; a failure drops the
//!   new table again;
//! * replace: the rows go into a new staging table next to the target, which then
//!   takes the target's place in one statement (`ALTER TABLE ... SWAP WITH`, or
//!   `RENAME TO` when there is no target yet); a failure drops the staging table and
//!   leaves the target untouched.
//!
//! Names: a table name is `table`, `schema.table` or `database.schema.table`; an
//! unquoted part follows Snowflake's rules (upper-cased by the server), a part in
//! double quotes is taken literally. A column name that is a plain identifier is
//! written unquoted (so `name` becomes `NAME`, as any Snowflake tool would make it);
//! any other is quoted and kept as it is.

mod binds;
mod names;

use conn_core::plugin::CancelGuard;
use conn_core::{DriverError, Error, ErrorClass, ErrorKind, Result, Table, WriteMode};

use crate::classify::nothing_applied;
use crate::client::{QueryRequest, SnowflakeClient};
use crate::run_for_effect;

use names::TableName;

/// Writes `table` to `name` on `client` (a session of the write's own).
pub(crate) async fn write_table(
    client: &SnowflakeClient,
    name: &str,
    table: &Table,
    mode: WriteMode,
) -> Result<u64> {
    let target = TableName::parse(name)?;
    let columns = binds::columns(table)?;
    let rows = table.num_rows() as u64;
    let column_list = columns
        .iter()
        .map(|c| c.sql_name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let definition = columns
        .iter()
        .map(|c| format!("{} {}", c.sql_name, c.sql_type))
        .collect::<Vec<_>>()
        .join(", ");
    let written = match mode {
        WriteMode::Append => insert_all(client, &target.sql(), &column_list, table, &columns).await,
        WriteMode::Create => {
            create(client, &target, &definition, &column_list, table, &columns).await
        }
        WriteMode::Replace => {
            replace(client, &target, &definition, &column_list, table, &columns).await
        }
        other => {
            return Err(Error::InvalidArgument(format!(
                "write_table to Snowflake does not know the write mode {other:?}"
            )));
        }
    };
    written.map_err(private_session)?;
    Ok(rows)
}

/// An error of the write's own session as the connection's retry loop should see it:
/// never a reason to reset the connection (its own session is fine) nor to run the
/// whole write again (part of it may have run; only the statements themselves are
/// resent, with their request ids).
fn private_session(err: Error) -> Error {
    match err {
        Error::Driver(driver) if driver.class().is_retryable() => {
            Error::Driver(Box::new((*driver).with_class(ErrorClass::Permanent)))
        }
        other => other,
    }
}

/// Create mode: `CREATE TABLE`, then the rows in one transaction; on failure (or when
/// dropped half-way) the new table is dropped again.
async fn create(
    client: &SnowflakeClient,
    target: &TableName,
    definition: &str,
    column_list: &str,
    table: &Table,
    columns: &[binds::Column],
) -> Result<()> {
    let target_sql = target.sql();
    // No cleanup before the CREATE succeeds: a table of that name that already existed
    // is not the write's to drop.
    run(client, format!("CREATE TABLE {target_sql} ({definition})")).await?;
    let cleanup = Cleanup::arm(client, &target_sql);
    let inserted = insert_all(client, &target_sql, column_list, table, columns).await;
    match inserted {
        Ok(()) => cleanup.disarm(),
        Err(_) => cleanup.now().await,
    }
    inserted.map_err(Error::after_send)
}

/// Replace mode: the rows into a new staging table, which then takes the target's
/// place; the staging table is dropped afterwards (it then holds the old rows), on
/// failure, and when dropped half-way, but kept when the swap's outcome is unknown.
async fn replace(
    client: &SnowflakeClient,
    target: &TableName,
    definition: &str,
    column_list: &str,
    table: &Table,
    columns: &[binds::Column],
) -> Result<()> {
    let staging = target.staging();
    let staging_sql = staging.sql();
    // Armed before the CREATE: the staging name is new, so whatever exists under it
    // is the write's own.
    let cleanup = Cleanup::arm(client, &staging_sql);
    if let Err(err) = run(client, format!("CREATE TABLE {staging_sql} ({definition})")).await {
        if nothing_applied(&err) {
            cleanup.disarm(); // No staging table was made.
        } else {
            cleanup.now().await;
        }
        return Err(err);
    }
    let filled = insert_all(client, &staging_sql, column_list, table, columns).await;
    if let Err(err) = filled {
        cleanup.now().await;
        return Err(err.after_send());
    }
    match take_place(client, &staging, target).await {
        Ok(()) => {
            cleanup.now().await;
            Ok(())
        }
        Err(err) if !nothing_applied(&err) => {
            // The swap may have happened: the staging table may hold the old rows.
            cleanup.disarm();
            Err(Error::Driver(Box::new(
                DriverError::new(
                    client.ctx().context("write_table"),
                    ErrorClass::Permanent,
                    format!(
                        "{err}; whether {staging_sql} took the place of {} is unknown, so \
                         {staging_sql} was kept: it holds either the new rows or the table's \
                         old ones; check, then drop it",
                        target.sql()
                    ),
                )
                .with_kind(ErrorKind::Transient),
            )))
        }
        Err(err) => {
            cleanup.now().await;
            Err(err.after_send())
        }
    }
}

/// Puts the filled `staging` table in `target`'s place in one statement.
async fn take_place(
    client: &SnowflakeClient,
    staging: &TableName,
    target: &TableName,
) -> Result<()> {
    let swapped = run(
        client,
        format!("ALTER TABLE {} SWAP WITH {}", staging.sql(), target.sql()),
    )
    .await;
    match swapped {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == ErrorKind::NotFound => {
            // No target yet: the staging table becomes it.
            run(
                client,
                format!("ALTER TABLE {} RENAME TO {}", staging.sql(), target.sql()),
            )
            .await
        }
        Err(err) => Err(err),
    }
}

/// Inserts every row of `table` in one transaction, in batches of array binds.
async fn insert_all(
    client: &SnowflakeClient,
    target: &str,
    column_list: &str,
    table: &Table,
    columns: &[binds::Column],
) -> Result<()> {
    if table.num_rows() == 0 {
        return Ok(());
    }
    run(client, "BEGIN".to_owned()).await?;
    let inserted = async {
        let placeholders = vec!["?"; columns.len()].join(", ");
        let sql = format!("INSERT INTO {target} ({column_list}) VALUES ({placeholders})");
        let mut first_row = 0_usize;
        for batch in table.batches() {
            for slice in binds::slices(batch, client.settings().write_chunk_rows) {
                let bindings =
                    binds::array_bindings(&slice, columns, first_row).map_err(|err| match err {
                        Error::Data(message) => Error::Data(message.replacen(
                            "write_table:",
                            &format!("write_table to {target}:"),
                            1,
                        )),
                        other => other,
                    })?;
                first_row += slice.num_rows();
                let query = QueryRequest {
                    sql: sql.clone(),
                    bindings: Some(bindings),
                };
                let executed = run_for_effect(client, &query).await?;
                if executed.rows != slice.num_rows() as u64 {
                    return Err(Error::Data(format!(
                        "inserting into {target}: the server reported {} rows inserted for {} \
                         rows sent (query id {})",
                        executed.rows,
                        slice.num_rows(),
                        executed.query_id
                    )));
                }
            }
        }
        Ok(())
    }
    .await;
    // After BEGIN, statements reached the server: no failure makes the write one
    // that never ran.
    match inserted {
        Ok(()) => run(client, "COMMIT".to_owned())
            .await
            .map_err(Error::after_send),
        Err(err) => {
            let _ = run(client, "ROLLBACK".to_owned()).await;
            Err(err.after_send())
        }
    }
}

/// Drops a table the write made, if the write does not finish: at once
/// ([`now`](Self::now)), or in the background when the write is dropped half-way.
struct Cleanup {
    client: SnowflakeClient,
    table: String,
    guard: CancelGuard,
}

impl Cleanup {
    fn arm(client: &SnowflakeClient, table: &str) -> Cleanup {
        let guard = {
            let (client, table) = (client.clone(), table.to_owned());
            CancelGuard::new(move || async move { drop_table(&client, &table).await })
        };
        Cleanup {
            client: client.clone(),
            table: table.to_owned(),
            guard,
        }
    }

    /// The table stays: the write finished.
    fn disarm(self) {
        self.guard.disarm();
    }

    /// Drops the table now (and still in the background if this is dropped before
    /// the drop ended).
    async fn now(self) {
        drop_table(&self.client, &self.table).await;
        self.guard.disarm();
    }
}

/// Drops `table`, after rolling back the write's open transaction (so that nothing of
/// it is committed on the way: Snowflake commits an open transaction before DDL). A
/// failure is logged with the table's name (the write's own error is what the caller
/// gets).
async fn drop_table(client: &SnowflakeClient, table: &str) {
    let _ = run(client, "ROLLBACK".to_owned()).await;
    if let Err(err) = run(client, format!("DROP TABLE IF EXISTS {table}")).await {
        tracing::warn!(
            connection = %client.ctx().name,
            table,
            %err,
            "conn.snowflake: write_table could not drop the table it made; drop it by hand"
        );
    }
}

/// Runs one statement without parameters.
async fn run(client: &SnowflakeClient, sql: String) -> Result<()> {
    let query = QueryRequest {
        sql,
        bindings: None,
    };
    client.run(&query).await.map(drop)
}
