//! A finished statement's answer as Arrow: the first rows in the answer, then its
//! chunks in order, each converted from Snowflake's raw forms to proper Arrow types.

use std::sync::Arc;

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use base64::Engine as _;
use bytes::Bytes;
use conn_core::plugin::BatchSink;
use conn_core::{Result, Table};
use futures::{Stream, StreamExt as _};

use crate::arrow::{Converter, read_ipc};
use crate::client::{QueryOutcome, SnowflakeClient};
use crate::protocol::{QueryData, cell_text};

/// The schema metadata key holding the id of the statement a table came from.
pub const QUERY_ID_KEY: &str = "snowflake:query_id";

/// One raw part of a result.
enum Raw {
    Arrow(Vec<RecordBatch>),
    Json(Vec<Vec<Option<String>>>),
}

/// The parts of one result, in order.
struct Parts {
    client: SnowflakeClient,
    arrow: bool,
    inline: Option<Raw>,
    /// The rows each chunk holds, as the answer announces them (checked as they come).
    chunk_rows: std::collections::VecDeque<u64>,
    /// Chunks read so far.
    chunks_read: usize,
    chunks: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>,
}

impl Parts {
    fn new(client: &SnowflakeClient, data: &mut QueryData) -> Result<Parts> {
        let arrow = data.is_arrow();
        let inline = if arrow {
            match data.rowset_base64.take().filter(|text| !text.is_empty()) {
                Some(text) => {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(text.trim())
                        .map_err(|e| {
                            client
                                .ctx()
                                .protocol_error("query", format!("rowsetBase64 is not base64: {e}"))
                        })?;
                    Some(Raw::Arrow(read_ipc(&bytes)?))
                }
                None => None,
            }
        } else {
            data.rowset.take().map(|rows| {
                Raw::Json(
                    rows.iter()
                        .map(|row| row.iter().map(cell_text).collect())
                        .collect(),
                )
            })
        };
        Ok(Parts {
            client: client.clone(),
            arrow,
            inline,
            chunk_rows: data.chunks.iter().map(|chunk| chunk.row_count).collect(),
            chunks_read: 0,
            chunks: Box::pin(client.chunk_bodies(data)?),
        })
    }

    /// The next part, or `None` after the last.
    async fn next(&mut self) -> Result<Option<Raw>> {
        if let Some(inline) = self.inline.take() {
            return Ok(Some(inline));
        }
        let Some(body) = self.chunks.next().await else {
            return Ok(None);
        };
        let body = body?;
        let raw = self.decode(&body)?;
        self.chunks_read += 1;
        let rows: u64 = match &raw {
            Raw::Arrow(batches) => batches.iter().map(|b| b.num_rows() as u64).sum(),
            Raw::Json(rows) => rows.len() as u64,
        };
        if let Some(announced) = self.chunk_rows.pop_front()
            && announced != rows
        {
            return Err(conn_core::Error::Data(format!(
                "result chunk {} holds {rows} rows where the answer announced {announced}: \
                 the result is incomplete",
                self.chunks_read
            )));
        }
        Ok(Some(raw))
    }

    /// One chunk's body as raw batches or rows.
    fn decode(&self, body: &[u8]) -> Result<Raw> {
        if self.arrow {
            return Ok(Raw::Arrow(read_ipc(body)?));
        }
        // A JSON chunk is the rows without the enclosing brackets.
        let mut text = Vec::with_capacity(body.len() + 2);
        text.push(b'[');
        text.extend_from_slice(body);
        text.push(b']');
        let rows: Vec<Vec<serde_json::Value>> = serde_json::from_slice(&text).map_err(|e| {
            self.client.ctx().protocol_error(
                "downloading results",
                format!("a JSON chunk is unreadable: {e}"),
            )
        })?;
        Ok(Raw::Json(
            rows.iter()
                .map(|row| row.iter().map(cell_text).collect())
                .collect(),
        ))
    }
}

/// The error when fewer or more rows arrived than the answer's `total` announced.
fn check_total(data_total: Option<u64>, rows: u64) -> Result<()> {
    match data_total {
        Some(total) if total != rows => Err(conn_core::Error::Data(format!(
            "the result announced {total} rows but {rows} arrived: it is incomplete"
        ))),
        _ => Ok(()),
    }
}

/// The converter for an answer's columns, in the session's time zone.
fn converter(client: &SnowflakeClient, data: &QueryData) -> Result<Converter> {
    let zone = data.timezone().or_else(|| client.timezone());
    Converter::new(&data.rowtype, zone.as_deref())
}

/// The whole result as one table. Timestamp columns are widened over the whole result
/// before any batch is converted, so that every batch has the same types.
pub(crate) async fn table(client: &SnowflakeClient, mut outcome: QueryOutcome) -> Result<Table> {
    let mut converter = converter(client, &outcome.data)?;
    let mut parts = Parts::new(client, &mut outcome.data)?;
    let mut raws = Vec::new();
    while let Some(raw) = parts.next().await? {
        match &raw {
            Raw::Arrow(batches) => {
                for batch in batches {
                    converter.widen_for(batch)?;
                }
            }
            Raw::Json(rows) => converter.widen_for_json(rows),
        }
        raws.push(raw);
    }
    let mut batches = Vec::new();
    let mut row = 0_u64;
    for raw in raws {
        match raw {
            Raw::Arrow(raw_batches) => {
                for raw in raw_batches {
                    let batch = converter.arrow(&raw, row)?;
                    row += batch.num_rows() as u64;
                    batches.push(batch);
                }
            }
            Raw::Json(rows) => {
                let batch = converter.json(&rows, row)?;
                row += batch.num_rows() as u64;
                batches.push(batch);
            }
        }
    }
    check_total(outcome.data.total, row)?;
    batches.retain(|batch| batch.num_rows() > 0);
    let schema = with_query_id(&converter.schema(), &outcome.query_id);
    let batches = batches
        .into_iter()
        .map(|batch| batch.with_schema(Arc::clone(&schema)))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            conn_core::Error::Data(format!("the converted result is inconsistent: {e}"))
        })?;
    Table::new(schema, batches)
}

/// `schema` with the statement's query id in its metadata (`snowflake:query_id`).
fn with_query_id(schema: &SchemaRef, query_id: &str) -> SchemaRef {
    let mut metadata = schema.metadata().clone();
    metadata.insert(QUERY_ID_KEY.to_owned(), query_id.to_owned());
    Arc::new(schema.as_ref().clone().with_metadata(metadata))
}

/// The result sent to `sink` part by part, as the chunks arrive. Timestamp columns
/// are widened for the first part; a later value that does not fit fails the stream.
pub(crate) async fn stream(
    client: &SnowflakeClient,
    mut outcome: QueryOutcome,
    sink: &BatchSink,
) -> Result<()> {
    let mut converter = converter(client, &outcome.data)?;
    let mut parts = Parts::new(client, &mut outcome.data)?;
    let mut row = 0_u64;
    let mut first = true;
    let mut sent = false;
    while let Some(raw) = parts.next().await? {
        let batches = match raw {
            Raw::Arrow(raw_batches) => {
                if first {
                    for batch in &raw_batches {
                        converter.widen_for(batch)?;
                    }
                }
                raw_batches
                    .iter()
                    .map(|raw| {
                        let batch = converter.arrow(raw, row)?;
                        row += batch.num_rows() as u64;
                        Ok(batch)
                    })
                    .collect::<Result<Vec<_>>>()?
            }
            Raw::Json(rows) => {
                if first {
                    converter.widen_for_json(&rows);
                }
                let batch = converter.json(&rows, row)?;
                row += batch.num_rows() as u64;
                vec![batch]
            }
        };
        first = false;
        for batch in batches.into_iter().filter(|b| b.num_rows() > 0) {
            sink.send(batch).await?;
            sent = true;
        }
    }
    check_total(outcome.data.total, row)?;
    if !sent {
        sink.announce(converter.schema()).await?;
    }
    Ok(())
}

/// The rows a DML statement changed: the sum of its "number of rows ..." columns (0 for
/// statements that report none).
pub(crate) fn rows_affected(table: &Table) -> u64 {
    let mut total = 0_u64;
    for (index, field) in table.schema().fields().iter().enumerate() {
        let name = field.name().to_ascii_lowercase();
        if !(name.starts_with("number of rows") || name.starts_with("number of multi-joined rows"))
        {
            continue;
        }
        let Some(batch) = table.batches().first() else {
            continue;
        };
        let column = batch.column(index);
        if column.is_empty() || column.is_null(0) {
            continue;
        }
        if let Ok(value) = arrow::compute::cast(&column.slice(0, 1), &DataType::UInt64)
            && let Some(values) = value.as_any().downcast_ref::<arrow::array::UInt64Array>()
            && values.is_valid(0)
        {
            total += values.value(0);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::check_total;

    #[test]
    fn a_result_with_fewer_rows_than_announced_is_an_error() {
        assert!(check_total(Some(3), 3).is_ok());
        assert!(check_total(None, 7).is_ok());
        let err = check_total(Some(5000), 4000).unwrap_err().to_string();
        assert!(
            err.contains("announced 5000 rows but 4000 arrived"),
            "{err}"
        );
    }
}
