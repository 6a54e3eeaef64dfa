//! How a table write treats an existing table.

/// What writing a table does with an existing table of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteMode {
    /// Create the table; an existing table is an error.
    Create,
    /// Add rows to an existing table (columns matched by name).
    Append,
    /// Drop the table if it exists, create it anew, and fill it.
    Replace,
}
