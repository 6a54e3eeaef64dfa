//! Arrow IPC streams: what `rowsetBase64` decodes to and what a result chunk gunzips to.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::buffer::Buffer;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow_ipc::MessageHeader;
use conn_core::{Error, Result};

/// The record batches of one Arrow IPC stream (a decoded `rowsetBase64` or a gunzipped
/// chunk body); empty input has none.
///
/// Every field is read as nullable, whatever the stream declares: servers send
/// timestamp structs whose children are declared NOT NULL yet hold the NULLs of NULL
/// timestamps, which Arrow's validation would refuse. The rowtype, not the stream,
/// says which columns may hold NULL (see `Converter`). Lengths are checked against the
/// input before anything is allocated, so a damaged stream is an error, not a huge
/// allocation.
pub(crate) fn read_ipc(bytes: &[u8]) -> Result<Vec<RecordBatch>> {
    let unreadable = |what: String| {
        Error::Data(format!(
            "the result's Arrow IPC stream cannot be read: {what}"
        ))
    };
    let buffer = Buffer::from(bytes);
    let mut at = 0_usize;
    let mut schema: Option<SchemaRef> = None;
    let mut dictionaries = HashMap::new();
    let mut batches = Vec::new();
    while at < buffer.len() {
        let mut length = read_i32(&buffer, at)
            .ok_or_else(|| unreadable("a message length is cut off".into()))?;
        at += 4;
        if length == -1 {
            // The continuation marker; the length follows.
            length = read_i32(&buffer, at)
                .ok_or_else(|| unreadable("a message length is cut off".into()))?;
            at += 4;
        }
        if length == 0 {
            break; // The end-of-stream marker.
        }
        let length = usize::try_from(length)
            .map_err(|_| unreadable(format!("a message has the length {length}")))?;
        let metadata = buffer
            .get(at..at.saturating_add(length))
            .ok_or_else(|| unreadable("a message is cut off".into()))?;
        at += length;
        let message = arrow_ipc::root_as_message(metadata)
            .map_err(|e| unreadable(format!("a message is damaged: {e}")))?;
        let body_length = usize::try_from(message.bodyLength())
            .map_err(|_| unreadable("a message body has a negative length".into()))?;
        if at.saturating_add(body_length) > buffer.len() {
            return Err(unreadable("a message body is cut off".into()));
        }
        let body = buffer.slice_with_length(at, body_length);
        at += body_length;
        let version = message.version();
        match message.header_type() {
            MessageHeader::Schema => {
                let header = message
                    .header_as_schema()
                    .ok_or_else(|| unreadable("a schema message has no schema".into()))?;
                let declared = arrow_ipc::convert::fb_to_schema(header);
                schema = Some(Arc::new(all_nullable(&declared)));
            }
            MessageHeader::DictionaryBatch => {
                let (Some(schema), Some(header)) = (&schema, message.header_as_dictionary_batch())
                else {
                    return Err(unreadable("a dictionary comes before the schema".into()));
                };
                arrow_ipc::reader::read_dictionary(
                    &body,
                    header,
                    schema,
                    &mut dictionaries,
                    &version,
                )
                .map_err(|e| unreadable(e.to_string()))?;
            }
            MessageHeader::RecordBatch => {
                let (Some(schema), Some(header)) = (&schema, message.header_as_record_batch())
                else {
                    return Err(unreadable("a record batch comes before the schema".into()));
                };
                let batch = arrow_ipc::reader::read_record_batch(
                    &body,
                    header,
                    Arc::clone(schema),
                    &dictionaries,
                    None,
                    &version,
                )
                .map_err(|e| unreadable(e.to_string()))?;
                batches.push(batch);
            }
            other => return Err(unreadable(format!("unexpected message {other:?}"))),
        }
    }
    Ok(batches)
}

/// The little-endian `i32` at `at`, if the buffer holds it.
fn read_i32(buffer: &Buffer, at: usize) -> Option<i32> {
    let bytes = buffer.get(at..at.checked_add(4)?)?;
    Some(i32::from_le_bytes(bytes.try_into().ok()?))
}

/// `schema` with every field, nested ones included, nullable.
fn all_nullable(schema: &Schema) -> Schema {
    let fields: Vec<Field> = schema.fields().iter().map(|f| nullable_field(f)).collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

fn nullable_field(field: &Field) -> Field {
    let data_type = match field.data_type() {
        DataType::Struct(children) => DataType::Struct(
            children
                .iter()
                .map(|c| Arc::new(nullable_field(c)))
                .collect(),
        ),
        DataType::List(child) => DataType::List(Arc::new(nullable_field(child))),
        DataType::LargeList(child) => DataType::LargeList(Arc::new(nullable_field(child))),
        DataType::FixedSizeList(child, size) => {
            DataType::FixedSizeList(Arc::new(nullable_field(child)), *size)
        }
        DataType::Map(entries, sorted) => DataType::Map(Arc::new(nullable_field(entries)), *sorted),
        other => other.clone(),
    };
    field.clone().with_data_type(data_type).with_nullable(true)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int32Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow_ipc::writer::StreamWriter;

    use super::*;

    fn stream(batches: &[RecordBatch]) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut writer = StreamWriter::try_new(&mut bytes, &batches[0].schema()).unwrap();
        for batch in batches {
            writer.write(batch).unwrap();
        }
        writer.finish().unwrap();
        drop(writer);
        bytes
    }

    #[test]
    fn reads_every_batch_of_a_stream() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("N", DataType::Int32, true),
            Field::new("S", DataType::Utf8, true),
        ]));
        let first = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int32Array::from(vec![Some(1), None])),
                Arc::new(StringArray::from(vec![Some("a"), Some("b")])),
            ],
        )
        .unwrap();
        let second = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int32Array::from(vec![3])),
                Arc::new(StringArray::from(vec![None::<&str>])),
            ],
        )
        .unwrap();
        let batches = read_ipc(&stream(&[first.clone(), second.clone()])).unwrap();
        assert_eq!(batches, vec![first, second]);
    }

    /// fakesnow's answer to `select 1::number(38,0) as id, null::timestamp_ntz as ts
    /// union all select 2, '2024-01-01 00:00:01.5'::timestamp_ntz order by id`
    /// (tests/data): its timestamp struct declares NOT NULL children that hold the
    /// NULL timestamp's NULLs. It is read, and converts to NULL and the instant.
    #[test]
    fn children_declared_not_null_may_hold_nulls() {
        use base64::Engine as _;
        let text = include_str!("../../tests/data/fakesnow_null_timestamp.b64");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .unwrap();
        let batches = read_ipc(&bytes).unwrap();
        assert_eq!(batches.len(), 1);
        let DataType::Struct(children) = batches[0].schema().field(1).data_type().clone() else {
            panic!("not a struct: {:?}", batches[0].schema());
        };
        assert!(children.iter().all(|c| c.is_nullable()));

        let columns = [
            super::super::test_support::column("ID", "fixed", Some(38), Some(0)),
            super::super::test_support::column("TS", "timestamp_ntz", Some(0), Some(9)),
        ];
        let converter = super::super::Converter::new(&columns, None).unwrap();
        let converted = converter.arrow(&batches[0], 0).unwrap();
        let shown = conn_core::Table::from_batch(converted).to_string();
        assert!(shown.contains("     1 | null\n"), "{shown}");
        assert!(
            shown.contains("     2 | 2024-01-01T00:00:01.500\n"),
            "{shown}"
        );
    }

    #[test]
    fn empty_input_holds_no_batches() {
        assert!(read_ipc(&[]).unwrap().is_empty());
    }

    #[test]
    fn garbage_and_truncated_streams_are_errors() {
        // "not " read as a length prefix claims half a gigabyte: refused without
        // allocating it.
        let err = read_ipc(b"not arrow at all").unwrap_err().to_string();
        assert_eq!(
            err,
            "the result's Arrow IPC stream cannot be read: a message is cut off"
        );
        let schema = Arc::new(Schema::new(vec![Field::new("N", DataType::Int32, true)]));
        let whole = stream(&[RecordBatch::try_new(
            schema,
            vec![Arc::new(Int32Array::from(vec![1, 2, 3]))],
        )
        .unwrap()]);
        assert_eq!(read_ipc(&whole).unwrap().len(), 1);
        let err = read_ipc(&whole[..whole.len() - 12])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("the result's Arrow IPC stream cannot be read: "),
            "{err}"
        );
    }

    #[test]
    fn a_stream_of_only_a_schema_holds_no_batches() {
        let schema = Schema::new(vec![Field::new("N", DataType::Int32, true)]);
        let mut bytes = Vec::new();
        let mut writer = StreamWriter::try_new(&mut bytes, &schema).unwrap();
        writer.finish().unwrap();
        drop(writer);
        assert!(read_ipc(&bytes).unwrap().is_empty());
    }
}
