//! What a backend must give back for a column it was given: the expected table after
//! the backend's documented differences, or the refusal the write must end in.

use conn::arrow::datatypes::DataType;

use crate::arrays;
use crate::tables::{Cell, Column, Ty};

/// The column a read must give back.
#[derive(Clone, Debug)]
pub struct Expected {
    pub data_type: DataType,
    pub cells: Vec<Option<Cell>>,
    /// The extension name the read field must carry, if any.
    pub extension: Option<&'static str>,
    /// Another result that is just as right (a text format's type inferred from a
    /// sample that holds every value).
    pub alternative: Option<Box<Expected>>,
}

/// What writing a column and reading it back must do.
#[derive(Clone, Debug)]
pub enum Model {
    /// The column reads back as this.
    Holds(Expected),
    /// `write_table` must fail with an error naming the column (the model's reason).
    Refused(String),
    /// The write goes through, and reading it back fails with an error naming the
    /// column that contains this text (a documented limit of the read path).
    Unreadable(String),
}

impl Model {
    /// The column unchanged: same type, same values.
    pub fn same(column: &Column) -> Model {
        Model::Holds(Expected {
            data_type: arrays::data_type(column.ty),
            cells: column.cells.clone(),
            extension: (column.ty == Ty::Uuid).then_some("arrow.uuid"),
            alternative: None,
        })
    }

    /// The column's values read back as `data_type`.
    pub fn as_type(column: &Column, data_type: DataType) -> Model {
        Model::Holds(Expected {
            data_type,
            cells: column.cells.clone(),
            extension: None,
            alternative: None,
        })
    }

    /// Values mapped one by one, read back as `data_type`.
    pub fn mapped(column: &Column, data_type: DataType, map: impl Fn(&Cell) -> Cell) -> Model {
        Model::Holds(Expected {
            data_type,
            cells: column.cells.iter().map(|c| c.as_ref().map(&map)).collect(),
            extension: None,
            alternative: None,
        })
    }
}

/// The first value `why` refuses, as "row N: why".
pub fn first_refused(
    column: &Column,
    why: impl Fn(&Cell) -> Option<&'static str>,
) -> Option<String> {
    column.cells.iter().enumerate().find_map(|(row, cell)| {
        cell.as_ref()
            .and_then(&why)
            .map(|reason| format!("row {row}: {reason}"))
    })
}

/// `value × 10^k` for a decimal read back at a scale `k` digits larger.
pub fn rescaled(cell: &Cell, k: i8) -> Cell {
    match cell {
        Cell::Int(v) if k >= 0 => Cell::Int(v * 10i128.pow(u32::from(k.unsigned_abs()))),
        other => other.clone(),
    }
}

/// A decimal's text (`-12.50` for -1250 at scale 2; `1200` for 12 at scale -2).
pub fn decimal_text(value: i128, scale: i8) -> String {
    if scale <= 0 {
        let zeros = "0".repeat(usize::from(scale.unsigned_abs()));
        return if value == 0 {
            "0".to_owned()
        } else {
            format!("{value}{zeros}")
        };
    }
    let digits = value.unsigned_abs().to_string();
    let scale = usize::from(scale.unsigned_abs());
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (whole, fraction) = padded.split_at(padded.len() - scale);
    let sign = if value < 0 { "-" } else { "" };
    format!("{sign}{whole}.{fraction}")
}

/// A decimal's value as the `f64` that prints back as the same number, if there is one
/// (Rust prints the shortest text that reads back as the same float).
pub fn exact_f64(value: i128, scale: i8) -> Option<f64> {
    let text = decimal_text(value, scale);
    let f: f64 = text.parse().ok()?;
    (normalized(&format!("{f}")) == normalized(&text)).then_some(f)
}

/// A plain decimal text without trailing fractional zeros or a negative zero.
fn normalized(text: &str) -> String {
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    };
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_texts() {
        assert_eq!(decimal_text(-1250, 2), "-12.50");
        assert_eq!(decimal_text(5, 3), "0.005");
        assert_eq!(decimal_text(12, -2), "1200");
        assert_eq!(exact_f64(1, 1), Some(0.1));
        assert_eq!(exact_f64(12_345_678_901_234_567, 1), None);
    }
}
