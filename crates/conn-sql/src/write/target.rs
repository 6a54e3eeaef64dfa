//! What a target column can hold, whatever the database: the rules every value is
//! checked against before it is written, and which Arrow types may go into it at all.
//!
//! Each backend reads its catalog (or, for `Create`, the table it just made) into one
//! [`Target`] per column; [`accepts`] then checks the Arrow schema against the table
//! before any row is written.

use arrow::datatypes::{DataType, Field};

/// Days from 1970-01-01 to 0001-01-01 and to 9999-12-31: the four-digit years MySQL's
/// DATE/DATETIME and SQLite's text dates hold.
pub(crate) const YEAR_1_DAYS: i32 = -719_162;
pub(crate) const YEAR_9999_END_DAYS: i32 = 2_932_896;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Characters a MySQL text column's character set can store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Charset {
    /// Any Unicode text (utf8mb4, PostgreSQL, SQLite).
    #[default]
    Unicode,
    /// MySQL's `utf8`/`utf8mb3`: no characters beyond U+FFFF.
    Bmp,
    /// MySQL's `latin1` (Windows-1252).
    Latin1,
    /// `ascii`.
    Ascii,
}

impl Charset {
    /// Whether the character set can store `c`.
    pub(crate) fn holds(self, c: char) -> bool {
        match self {
            Charset::Unicode => true,
            Charset::Bmp => u32::from(c) <= 0xFFFF,
            Charset::Ascii => c.is_ascii(),
            Charset::Latin1 => u32::from(c) <= 0xFF || CP1252_EXTRA.contains(&c),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Charset::Unicode => "Unicode",
            Charset::Bmp => "utf8mb3",
            Charset::Latin1 => "latin1",
            Charset::Ascii => "ascii",
        }
    }
}

/// The characters Windows-1252 (MySQL's latin1) adds in 0x80..0x9F.
const CP1252_EXTRA: [char; 27] = [
    '€', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', 'Ž', '‘', '’', '“', '”', '•', '–',
    '—', '˜', '™', 'š', '›', 'œ', 'ž', 'Ÿ',
];

/// What a text column accepts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct TextRules {
    /// At most this many characters (`varchar(n)`, `char(n)`).
    pub(crate) max_chars: Option<u64>,
    /// At most this many bytes in the column's character set (MySQL's TEXT types).
    pub(crate) max_bytes: Option<u64>,
    /// Trailing spaces beyond `max_chars` are dropped by the database (PostgreSQL's
    /// `char(n)`), so they do not count.
    pub(crate) blank_padded: bool,
    pub(crate) charset: Charset,
    /// The text may not contain NUL (PostgreSQL).
    pub(crate) no_nul: bool,
    /// The labels of a MySQL ENUM (matched exactly: MySQL would fold case).
    pub(crate) labels: Option<Vec<String>>,
}

/// What a column holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Target {
    Bool,
    /// Integers in `min..=max`.
    Int {
        min: i128,
        max: i128,
    },
    /// A binary float column; `nan`/`infinity` say whether it stores those.
    Float {
        single: bool,
        nan: bool,
        infinity: bool,
    },
    /// An exact decimal; `None` parts are unconstrained (PostgreSQL's bare `numeric`).
    Decimal {
        precision: Option<u32>,
        scale: Option<i32>,
    },
    /// SQLite's NUMERIC affinity (and untyped columns): integers stay integers, other
    /// numbers become 64-bit floats, so only values a float prints back exactly fit.
    Approximate,
    Text(TextRules),
    /// PostgreSQL `json` (`binary: false`) or `jsonb`.
    Json {
        binary: bool,
    },
    /// PostgreSQL `uuid`, MariaDB `UUID` (sent as text).
    Uuid,
    Binary {
        max_len: Option<u64>,
        /// MySQL's `BINARY(n)` pads shorter values with zero bytes, so only exactly `n`
        /// bytes read back unchanged.
        exact_len: Option<u64>,
    },
    /// Days since 1970-01-01 in `min..=max`.
    Date {
        min: i32,
        max: i32,
    },
    /// Time of day; `digits` fractional second digits are kept.
    Time {
        digits: u8,
    },
    /// Microseconds since 1970-01-01 UTC in `min..=max`; `digits` fractional second
    /// digits are kept.
    Timestamp {
        digits: u8,
        min: i64,
        max: i64,
    },
    /// PostgreSQL `interval`.
    Interval {
        digits: u8,
    },
    /// A one-dimensional PostgreSQL array of `element`, whose type OID is `oid`.
    Array {
        element: Box<Target>,
        oid: u32,
    },
    /// A SQLite column without a declared type: each value keeps its own kind.
    Any,
}

impl Target {
    /// The date range of four-digit years (MySQL DATE, SQLite).
    pub(crate) fn four_digit_dates() -> Target {
        Target::Date {
            min: YEAR_1_DAYS,
            max: YEAR_9999_END_DAYS,
        }
    }

    /// The timestamp range of four-digit years (MySQL DATETIME, SQLite).
    pub(crate) fn four_digit_timestamps(digits: u8) -> Target {
        Target::Timestamp {
            digits,
            min: i64::from(YEAR_1_DAYS) * MICROS_PER_DAY,
            max: (i64::from(YEAR_9999_END_DAYS) + 1) * MICROS_PER_DAY - 1,
        }
    }

    /// An `Any` target made concrete for the Arrow type written to it: what SQLite
    /// stores for a value of that type in a column without declared type.
    pub(crate) fn resolve_any(self, data_type: &DataType) -> Target {
        if self != Target::Any {
            return self;
        }
        match class(data_type) {
            Class::Bool => Target::Bool,
            Class::Integer | Class::Float | Class::Decimal => Target::Approximate,
            Class::Text => Target::Text(TextRules::default()),
            Class::Binary { .. } => Target::Binary {
                max_len: None,
                exact_len: None,
            },
            Class::Date => Target::four_digit_dates(),
            Class::Time => Target::Time { digits: 6 },
            Class::Timestamp => Target::four_digit_timestamps(6),
            _ => Target::Any,
        }
    }
}

/// The kinds of Arrow data, as far as writing is concerned.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Class {
    Null,
    Bool,
    Integer,
    Float,
    Decimal,
    Text,
    Binary { len16: bool },
    Date,
    Time,
    Timestamp,
    Interval,
    List(DataType),
    Other,
}

/// The class of an Arrow type (dictionaries by their values).
pub(crate) fn class(data_type: &DataType) -> Class {
    match data_type {
        DataType::Null => Class::Null,
        DataType::Boolean => Class::Bool,
        d if d.is_integer() => Class::Integer,
        d if d.is_floating() => Class::Float,
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => Class::Decimal,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Class::Text,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            Class::Binary { len16: false }
        }
        DataType::FixedSizeBinary(n) => Class::Binary { len16: *n == 16 },
        DataType::Date32 | DataType::Date64 => Class::Date,
        DataType::Time32(_) | DataType::Time64(_) => Class::Time,
        DataType::Timestamp(..) => Class::Timestamp,
        DataType::Interval(_) | DataType::Duration(_) => Class::Interval,
        DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _) => {
            Class::List(item.data_type().clone())
        }
        DataType::Dictionary(_, values) => class(values),
        _ => Class::Other,
    }
}

/// Whether values of `data_type` can go into a `target` column at all (each value is
/// still checked on its own).
pub(crate) fn accepts(target: &Target, data_type: &DataType) -> bool {
    let class = class(data_type);
    if class == Class::Null {
        return true;
    }
    match target {
        Target::Bool => class == Class::Bool,
        Target::Int { .. } => matches!(
            class,
            Class::Bool | Class::Integer | Class::Float | Class::Decimal
        ),
        Target::Float { .. } | Target::Decimal { .. } | Target::Approximate => {
            matches!(class, Class::Integer | Class::Float | Class::Decimal)
        }
        Target::Text(_) | Target::Json { .. } => class == Class::Text,
        Target::Uuid => matches!(class, Class::Text | Class::Binary { .. }),
        Target::Binary { .. } => matches!(class, Class::Binary { .. }),
        Target::Date { .. } => class == Class::Date,
        Target::Time { .. } => class == Class::Time,
        Target::Timestamp { .. } => matches!(class, Class::Timestamp | Class::Date),
        Target::Interval { .. } => class == Class::Interval,
        Target::Array { element, .. } => match class {
            Class::List(item) => {
                !matches!(self::class(&item), Class::List(_)) && accepts(element, &item)
            }
            _ => false,
        },
        Target::Any => !matches!(class, Class::Other | Class::Interval | Class::List(_)),
    }
}

/// The Arrow type of a field for messages, naming the JSON and UUID extension types.
pub(crate) fn describe(field: &Field) -> String {
    match field.extension_type_name() {
        Some(name) => format!("{} ({name})", field.data_type()),
        None => field.data_type().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::TimeUnit;

    use super::*;

    #[test]
    fn compatibility_by_class() {
        let int = Target::Int {
            min: -32768,
            max: 32767,
        };
        assert!(accepts(&int, &DataType::Int64));
        assert!(accepts(&int, &DataType::Boolean));
        assert!(accepts(&int, &DataType::Decimal128(10, 2)));
        assert!(!accepts(&int, &DataType::Utf8));
        assert!(accepts(&int, &DataType::Null));
        assert!(!accepts(&Target::Bool, &DataType::Int8));
        assert!(accepts(
            &Target::four_digit_timestamps(6),
            &DataType::Date32
        ));
        assert!(!accepts(
            &Target::four_digit_dates(),
            &DataType::Timestamp(TimeUnit::Second, None)
        ));
        let list = DataType::List(Arc::new(Field::new_list_field(DataType::Int32, true)));
        let array = Target::Array {
            element: Box::new(Target::Int {
                min: i128::from(i32::MIN),
                max: i128::from(i32::MAX),
            }),
            oid: 23,
        };
        assert!(accepts(&array, &list));
        let nested = DataType::List(Arc::new(Field::new_list_field(list.clone(), true)));
        assert!(!accepts(&array, &nested));
        assert!(!accepts(&Target::Any, &list));
        let dictionary = DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::Utf8));
        assert!(accepts(&Target::Text(TextRules::default()), &dictionary));
    }

    #[test]
    fn latin1_is_windows_1252() {
        assert!(Charset::Latin1.holds('é'));
        assert!(Charset::Latin1.holds('€'));
        assert!(!Charset::Latin1.holds('ł'));
        assert!(Charset::Bmp.holds('ł'));
        assert!(!Charset::Bmp.holds('😀'));
        assert!(!Charset::Ascii.holds('é'));
    }
}
