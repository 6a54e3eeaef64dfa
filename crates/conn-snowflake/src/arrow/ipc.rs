//! Arrow IPC streams: what `rowsetBase64` decodes to and what a result chunk gunzips to.

use arrow::array::RecordBatch;
use arrow::buffer::Buffer;
use arrow_ipc::reader::StreamDecoder;
use conn_core::{Error, Result};

/// The record batches of one Arrow IPC stream. Empty input (a result without rows, whose
/// `rowsetBase64` is `""`) holds no batches.
///
/// The push decoder reads the bytes in memory: unlike a `StreamReader`, it never
/// allocates what a corrupt length prefix claims, only what the input holds.
pub(crate) fn read_ipc(bytes: &[u8]) -> Result<Vec<RecordBatch>> {
    let unreadable = |e: arrow::error::ArrowError| {
        Error::Data(format!("the result's Arrow IPC stream cannot be read: {e}"))
    };
    let mut buffer = Buffer::from(bytes);
    let mut decoder = StreamDecoder::new();
    let mut batches = Vec::new();
    while !buffer.is_empty() {
        if let Some(batch) = decoder.decode(&mut buffer).map_err(unreadable)? {
            batches.push(batch);
        }
    }
    decoder.finish().map_err(unreadable)?;
    Ok(batches)
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
            "the result's Arrow IPC stream cannot be read: Ipc error: Unexpected End of Stream"
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
