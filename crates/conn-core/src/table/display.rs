//! An aligned, truncated text rendering of a [`Table`].
//!
//! ```text
//!  id | name | weight
//! i64 | utf8 | f64
//! ----+------+-------
//!   1 | Rex  |   12.5
//!   … | …    |      …
//!  99 | Tom  |    4.1
//! (99 rows × 3 columns)
//! ```

use std::fmt;

use arrow::datatypes::DataType;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use super::Table;

/// Limits for displaying a [`Table`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisplayOptions {
    /// Rows shown; beyond this the first and last halves are shown around `…`.
    pub max_rows: usize,
    /// Columns shown; beyond this the first and last halves are shown around `…`.
    pub max_columns: usize,
    /// Characters per cell; longer text ends in `…`.
    pub max_cell_width: usize,
}

impl Default for DisplayOptions {
    fn default() -> Self {
        DisplayOptions {
            max_rows: 10,
            max_columns: 10,
            max_cell_width: 32,
        }
    }
}

pub(super) struct TableDisplay<'a> {
    pub(super) table: &'a Table,
    pub(super) options: DisplayOptions,
}

const ELLIPSIS: &str = "…";

/// Which of `total` items to show: all, or the first and last halves of `max` with a
/// gap (`None`) between.
fn pick(total: usize, max: usize) -> Vec<Option<usize>> {
    if total <= max {
        return (0..total).map(Some).collect();
    }
    let head = max.div_ceil(2);
    let tail = max - head;
    (0..head)
        .map(Some)
        .chain(std::iter::once(None))
        .chain((total - tail..total).map(Some))
        .collect()
}

fn truncate(text: &str, width: usize) -> String {
    let single_line = text.replace('\n', "\\n");
    if single_line.chars().count() <= width {
        return single_line;
    }
    let kept: String = single_line.chars().take(width.saturating_sub(1)).collect();
    format!("{kept}{ELLIPSIS}")
}

fn is_numeric(data_type: &DataType) -> bool {
    data_type.is_numeric()
}

impl TableDisplay<'_> {
    /// Cell text of `column` at global `row`.
    fn cell(&self, column: usize, row: usize) -> String {
        let mut offset = row;
        for batch in self.table.batches() {
            if offset < batch.num_rows() {
                let options = FormatOptions::default().with_null("null");
                return match ArrayFormatter::try_new(batch.column(column).as_ref(), &options) {
                    Ok(formatter) => formatter.value(offset).to_string(),
                    Err(_) => "?".to_owned(),
                };
            }
            offset -= batch.num_rows();
        }
        String::new()
    }
}

impl fmt::Display for TableDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let table = self.table;
        let options = self.options;
        let fields = table.schema().fields();
        let columns = pick(fields.len(), options.max_columns.max(1));
        let rows = pick(table.num_rows(), options.max_rows.max(1));

        // Build every shown cell, column by column, with header and type on top.
        let mut grid: Vec<Vec<String>> = Vec::with_capacity(columns.len());
        let mut right_align = Vec::with_capacity(columns.len());
        for column in &columns {
            let mut cells = Vec::with_capacity(rows.len() + 2);
            match column {
                Some(c) => {
                    let field = &fields[*c];
                    cells.push(truncate(field.name(), options.max_cell_width));
                    cells.push(truncate(
                        &field.data_type().to_string().to_lowercase(),
                        options.max_cell_width,
                    ));
                    for row in &rows {
                        cells.push(match row {
                            Some(r) => truncate(&self.cell(*c, *r), options.max_cell_width),
                            None => ELLIPSIS.to_owned(),
                        });
                    }
                    right_align.push(is_numeric(field.data_type()));
                }
                None => {
                    cells.resize(rows.len() + 2, ELLIPSIS.to_owned());
                    right_align.push(false);
                }
            }
            grid.push(cells);
        }
        let widths: Vec<usize> = grid
            .iter()
            .map(|cells| cells.iter().map(|c| c.chars().count()).max().unwrap_or(0))
            .collect();

        let line_count = rows.len() + 2;
        for line in 0..line_count {
            let mut parts = Vec::with_capacity(grid.len());
            for (index, cells) in grid.iter().enumerate() {
                let width = widths[index];
                let text = &cells[line];
                // Headers and types are left-aligned; numbers in the body right-aligned.
                parts.push(if line >= 2 && right_align[index] {
                    format!("{text:>width$}")
                } else {
                    format!("{text:<width$}")
                });
            }
            writeln!(f, " {}", parts.join(" | ").trim_end())?;
            if line == 1 {
                let rule: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
                writeln!(f, "{}", rule.join("+"))?;
            }
        }
        write!(
            f,
            "({} row{} × {} column{})",
            table.num_rows(),
            if table.num_rows() == 1 { "" } else { "s" },
            fields.len(),
            if fields.len() == 1 { "" } else { "s" }
        )
    }
}
