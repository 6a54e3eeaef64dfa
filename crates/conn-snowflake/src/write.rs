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
use conn_core::{Error, Result, Table, WriteMode};

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
    match mode {
        WriteMode::Append => {
            insert_all(client, &target.sql(), &column_list, table, &columns).await?;
        }
        WriteMode::Create => {
            let target_sql = target.sql();
            run(client, format!("CREATE TABLE {target_sql} ({definition})")).await?;
            // Dropped half-way (a time limit, a caller that gave up), the new table goes.
            let cleanup = Cleanup::arm(client, &target_sql);
            let inserted = insert_all(client, &target_sql, &column_list, table, &columns).await;
            if inserted.is_ok() {
                cleanup.disarm();
            } else {
                cleanup.now().await;
            }
            inserted?;
        }
        WriteMode::Replace => {
            let staging = target.staging();
            let staging_sql = staging.sql();
            run(client, format!("CREATE TABLE {staging_sql} ({definition})")).await?;
            // After a swap the staging table holds the old rows; after a rename, a
            // failure or a drop half-way it is gone or unwanted: dropped in any case.
            let cleanup = Cleanup::arm(client, &staging_sql);
            let filled = insert_all(client, &staging_sql, &column_list, table, &columns).await;
            let placed = match filled {
                Ok(()) => take_place(client, &staging, &target).await,
                Err(err) => Err(err),
            };
            cleanup.now().await;
            placed?;
        }
        other => {
            return Err(Error::InvalidArgument(format!(
                "write_table to Snowflake does not know the write mode {other:?}"
            )));
        }
    }
    Ok(rows)
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
        Err(err) if err.kind() == conn_core::ErrorKind::NotFound => {
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
    match inserted {
        Ok(()) => run(client, "COMMIT".to_owned()).await,
        Err(err) => {
            let _ = run(client, "ROLLBACK".to_owned()).await;
            Err(err)
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

    /// Drops the table now.
    async fn now(self) {
        self.guard.disarm();
        drop_table(&self.client, &self.table).await;
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
