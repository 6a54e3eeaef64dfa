//! Generated tables: column types, values with edge cases mixed in, NULL placement and
//! column names that the write paths must quote.

use std::fmt;

use proptest::prelude::*;
use proptest::sample::select;

/// The Arrow types the suite writes (each backend picks those it can `Create`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    Bool,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    F32,
    F64,
    /// Decimal128(precision, scale).
    Dec(u8, i8),
    Utf8,
    Binary,
    /// FixedSizeBinary(16) marked `arrow.uuid`.
    Uuid,
    Date32,
    /// Time64(µs).
    Time64,
    /// Timestamp(µs) without zone.
    Ts,
    /// Timestamp(µs, "UTC").
    TsUtc,
    /// Timestamp(ns) without zone.
    TsNs,
    /// Timestamp(ns, "UTC").
    TsNsUtc,
    /// Time64(ns).
    Time64Ns,
    /// Interval(MonthDayNano).
    Interval,
    /// List of Int32.
    ListI32,
    /// List of Utf8.
    ListUtf8,
}

impl Ty {
    /// The type's place in a backend's list, decimals being one entry.
    pub fn kind(self) -> Ty {
        match self {
            Ty::Dec(..) => Ty::Dec(0, 0),
            other => other,
        }
    }
}

/// One value, in a form that every Arrow type above maps to and back exactly.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Bool(bool),
    /// Integers, decimals (unscaled), dates (days), times and timestamps (µs).
    Int(i128),
    /// Floats (a 32-bit float widened exactly).
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
    Interval {
        months: i32,
        days: i32,
        nanos: i64,
    },
    List(Vec<Option<Cell>>),
}

/// One column of a generated table.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub ty: Ty,
    pub cells: Vec<Option<Cell>>,
}

/// One generated table and how to read it back.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    pub rows: usize,
    pub columns: Vec<Column>,
    /// Rows per batch when writing and reading (2 to 7).
    pub batch_size: usize,
    /// A free choice for the backend (the store for files, `infer_rows`).
    pub variant: u8,
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} rows, batch size {}, variant {}",
            self.rows, self.batch_size, self.variant
        )?;
        for c in &self.columns {
            writeln!(f, "  column {:?}: {:?}", c.name, c.ty)?;
            for (row, cell) in c.cells.iter().enumerate() {
                writeln!(f, "    row {row}: {cell:?}")?;
            }
        }
        Ok(())
    }
}

/// What a backend generates.
#[derive(Clone, Debug)]
pub struct Profile {
    /// The types (one `Ty::Dec(0, 0)` entry stands for every decimal).
    pub types: Vec<Ty>,
    /// The smallest decimal scale (negative where the backend handles them).
    pub min_scale: i8,
    /// Column names must be unique case-insensitively and may not hold characters
    /// beyond U+FFFF (MySQL identifiers are utf8mb3).
    pub bmp_names: bool,
    /// How many ways [`Case::variant`] goes (0..variants).
    pub variants: u8,
}

/// Name fragments: spaces, dots, quotes, backticks, multi-byte characters.
const NAMES: &[&str] = &[
    "a",
    "b b",
    "c.d",
    "say \"hi\"",
    "it's",
    "x`y",
    "naïve €",
    "日本語",
    "Ωmega",
    "UPPER",
    "mixed Case",
    " lead",
    "semi;colon",
    "comma,col",
    "dollar$",
    "ß",
];

/// Fragments with characters beyond U+FFFF (not for MySQL).
const WIDE_NAMES: &[&str] = &["🦀 crab", "𝔘nicode"];

fn name(profile: &Profile) -> BoxedStrategy<String> {
    let mut all: Vec<&'static str> = NAMES.to_vec();
    if !profile.bmp_names {
        all.extend_from_slice(WIDE_NAMES);
    }
    select(all).prop_map(str::to_owned).boxed()
}

/// An integer in `min..=max` whose number of bits is uniform: small, middling and
/// huge values are all common (a uniform draw would almost always be huge).
fn magnitude(min: i128, max: i128) -> BoxedStrategy<i128> {
    let widest = min.unsigned_abs().max(max.unsigned_abs());
    let bits = 128 - widest.leading_zeros();
    (0u32..=bits, any::<u128>(), any::<bool>())
        .prop_map(move |(bits, raw, negative)| {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX >> (128 - bits)
            };
            let magnitude = i128::try_from(raw & (mask >> 1)).unwrap_or(i128::MAX);
            let value = if negative { -magnitude } else { magnitude };
            value.clamp(min, max)
        })
        .boxed()
}

/// Mostly ordinary values, some at the type's edges: `edges` are values every backend
/// should hold, `extremes` values some cannot (drawn rarely, so that most tables are
/// written and compared rather than refused).
fn mixed<T: Clone + fmt::Debug + 'static>(
    ordinary: BoxedStrategy<T>,
    edges: Vec<T>,
    extremes: Vec<T>,
) -> BoxedStrategy<T> {
    let mut choices: Vec<(u32, BoxedStrategy<T>)> = vec![(40, ordinary)];
    if !edges.is_empty() {
        choices.push((6, select(edges).boxed()));
    }
    if !extremes.is_empty() {
        choices.push((1, select(extremes).boxed()));
    }
    proptest::strategy::Union::new_weighted(choices).boxed()
}

fn ints(min: i128, max: i128) -> BoxedStrategy<Cell> {
    let mut edges = vec![min, max, 0, min + 1, max - 1, 1];
    if min < 0 {
        edges.push(-1);
    }
    // Unsigned 64-bit values beyond i64 (SQLite has no such integers).
    let extremes = if max > i128::from(i64::MAX) {
        vec![i128::from(i64::MAX) + 1, max]
    } else {
        Vec::new()
    };
    let max = max.min(i128::from(i64::MAX));
    mixed(magnitude(min, max), edges, extremes)
        .prop_map(Cell::Int)
        .boxed()
}

fn f64s() -> BoxedStrategy<Cell> {
    use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    let edges = vec![
        0.0,
        -0.0,
        f64::MIN_POSITIVE,
        5e-324,
        -2.225_073_858_507_201e-308,
        f64::MAX,
        f64::MIN,
        f64::EPSILON,
        0.1,
        1e16,
        9_007_199_254_740_993.0,
        123_456_789.123_456_79,
    ];
    let ordinary = prop_oneof![
        (-100_000i64..100_000).prop_map(|i| i as f64 / 100.0),
        POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO,
    ]
    .boxed();
    mixed(
        ordinary,
        edges,
        vec![f64::INFINITY, f64::NEG_INFINITY, f64::NAN],
    )
    .prop_map(Cell::Float)
    .boxed()
}

fn f32s() -> BoxedStrategy<Cell> {
    use proptest::num::f32::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    let edges = vec![
        0.0f32,
        -0.0,
        f32::MIN_POSITIVE,
        1e-45,
        f32::MAX,
        f32::MIN,
        0.1,
        16_777_217.0,
    ];
    let ordinary = prop_oneof![
        (-100_000i32..100_000).prop_map(|i| i as f32 / 100.0),
        POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO,
    ]
    .boxed();
    mixed(
        ordinary,
        edges,
        vec![f32::INFINITY, f32::NEG_INFINITY, f32::NAN],
    )
    .prop_map(|f| Cell::Float(f64::from(f)))
    .boxed()
}

/// Unscaled decimal values of at most `precision` digits, full precision included.
fn decimals(precision: u8) -> BoxedStrategy<Cell> {
    let max = 10i128.pow(u32::from(precision)) - 1;
    let ordinary = prop_oneof![
        magnitude(-max, max),
        (0..=u32::from(precision), any::<i128>())
            .prop_map(move |(digits, raw)| raw % 10i128.pow(digits).max(1)),
    ]
    .boxed();
    mixed(ordinary, vec![max, -max, 0, 1, -1], Vec::new())
        .prop_map(Cell::Int)
        .boxed()
}

fn text() -> BoxedStrategy<String> {
    let samples = vec![
        "naïve €",
        "日本語のテキスト",
        "🦀 emoji 🎉",
        "Ωμέγα",
        "ß",
        "line\nbreak",
        "tab\there",
        "quote \" and , comma",
        "back\\slash",
        "  padded  ",
        "01",
        "1.5",
        "-0",
        "true",
        "NaN",
        "null",
        "2024-02-29",
        "1e5",
        "{\"a\": 1}",
    ];
    prop_oneof![
        10 => Just(String::new()),
        20 => "[a-zA-Z0-9 ,.'-]{1,12}",
        15 => select(samples).prop_map(str::to_owned),
        5 => "\\PC{100,400}",
        5 => "[\\x01-\\x1f]{1,4}",
        // PostgreSQL text cannot hold NUL.
        1 => Just("nul\0inside".to_owned()),
    ]
    .boxed()
}

/// Days from 1970-01-01 of some dates at the edges.
pub mod days {
    /// 0001-01-01.
    pub const YEAR_1: i32 = -719_162;
    /// 9999-12-31.
    pub const YEAR_9999_END: i32 = 2_932_896;
    /// 1000-01-01.
    pub const YEAR_1000: i32 = -354_285;
    /// PostgreSQL's first date, 4714-11-24 BC.
    pub const PG_MIN: i32 = -2_440_588;
    /// PostgreSQL's last date, 5874897-12-31.
    pub const PG_MAX: i32 = 2_145_042_905;
}

const MICROS_PER_DAY: i128 = 86_400_000_000;

fn dates() -> BoxedStrategy<Cell> {
    use days::*;
    let edges = vec![YEAR_1, YEAR_9999_END, YEAR_1000, YEAR_1000 - 1, 0, -1];
    // Beyond four-digit years (MySQL, SQLite) or PostgreSQL's range.
    let extremes = vec![
        YEAR_1 - 1,
        YEAR_9999_END + 1,
        PG_MIN,
        PG_MIN - 1,
        PG_MAX,
        PG_MAX + 1,
        i32::MIN,
        i32::MAX,
    ];
    mixed((YEAR_1..=YEAR_9999_END).boxed(), edges, extremes)
        .prop_map(|d| Cell::Int(i128::from(d)))
        .boxed()
}

fn times() -> BoxedStrategy<Cell> {
    let last = 86_400_000_000i64 - 1;
    let ordinary = prop_oneof![0..=last, (0i64..86_400).prop_map(|s| s * 1_000_000)].boxed();
    mixed(ordinary, vec![0, last, 1, 43_200_000_000], Vec::new())
        .prop_map(|t| Cell::Int(i128::from(t)))
        .boxed()
}

fn timestamps() -> BoxedStrategy<Cell> {
    let day = |d: i32| i128::from(d) * MICROS_PER_DAY;
    let edges: Vec<i128> = vec![
        day(days::YEAR_1),
        day(days::YEAR_9999_END + 1) - 1,
        day(days::YEAR_1000),
        0,
        -1,
        1,
        // MySQL TIMESTAMP's last second and the one after.
        2_147_483_647_000_000,
        2_147_483_648_000_000,
    ];
    let extremes: Vec<i128> = vec![
        day(days::YEAR_1) - 1,
        day(days::YEAR_9999_END + 1),
        i128::from(i64::MIN),
        i128::from(i64::MAX),
        // PostgreSQL's first timestamp (4714-11-24 BC) and the µs before.
        -210_866_803_200_000_000,
        -210_866_803_200_000_001,
    ];
    let ordinary = prop_oneof![
        3 => day(-25_567)..day(47_482),
        2 => day(days::YEAR_1)..day(days::YEAR_9999_END + 1),
    ]
    .boxed();
    mixed(ordinary, edges, extremes).prop_map(Cell::Int).boxed()
}

/// Nanoseconds: mostly whole microseconds, sometimes not (most databases keep
/// microseconds and must refuse those).
fn nanos(ordinary: BoxedStrategy<i64>) -> BoxedStrategy<Cell> {
    prop_oneof![
        30 => ordinary.clone().prop_map(|v| v / 1000 * 1000),
        1 => ordinary,
    ]
    .prop_map(|v| Cell::Int(i128::from(v)))
    .boxed()
}

fn intervals() -> BoxedStrategy<Cell> {
    let micros = prop_oneof![
        30 => (-100_000_000_000i64..100_000_000_000).prop_map(|m| m * 1000),
        10 => (i64::MIN / 1000..=i64::MAX / 1000).prop_map(|m| m * 1000),
        1 => any::<i64>(),
    ];
    (
        prop_oneof![3 => -1000i32..1000, 1 => any::<i32>()],
        prop_oneof![3 => -1000i32..1000, 1 => any::<i32>()],
        micros,
    )
        .prop_map(|(months, days, nanos)| Cell::Interval {
            months,
            days,
            nanos,
        })
        .boxed()
}

fn list_of(item: BoxedStrategy<Cell>) -> BoxedStrategy<Cell> {
    proptest::collection::vec(proptest::option::weighted(0.8, item), 0..5)
        .prop_map(Cell::List)
        .boxed()
}

/// Values of one type (never NULL: NULLs are placed afterwards).
pub fn values(ty: Ty) -> BoxedStrategy<Cell> {
    match ty {
        Ty::Bool => any::<bool>().prop_map(Cell::Bool).boxed(),
        Ty::I8 => ints(i8::MIN.into(), i8::MAX.into()),
        Ty::I16 => ints(i16::MIN.into(), i16::MAX.into()),
        Ty::I32 => ints(i32::MIN.into(), i32::MAX.into()),
        Ty::I64 => ints(i64::MIN.into(), i64::MAX.into()),
        Ty::U8 => ints(0, u8::MAX.into()),
        Ty::U16 => ints(0, u16::MAX.into()),
        Ty::U32 => ints(0, u32::MAX.into()),
        Ty::U64 => ints(0, u64::MAX.into()),
        Ty::F32 => f32s(),
        Ty::F64 => f64s(),
        Ty::Dec(p, _) => decimals(p),
        Ty::Utf8 => text().prop_map(Cell::Text).boxed(),
        Ty::Binary => prop_oneof![
            4 => proptest::collection::vec(any::<u8>(), 0..24),
            1 => proptest::collection::vec(any::<u8>(), 500..2000),
        ]
        .prop_map(Cell::Bytes)
        .boxed(),
        Ty::Uuid => proptest::collection::vec(any::<u8>(), 16..=16)
            .prop_map(Cell::Bytes)
            .boxed(),
        Ty::Date32 => dates(),
        Ty::Time64 => times(),
        Ty::Ts | Ty::TsUtc => timestamps(),
        Ty::TsNs | Ty::TsNsUtc => nanos(
            mixed(
                any::<i64>().boxed(),
                vec![0, -1, 1, i64::MIN, i64::MAX, 1_000],
                Vec::new(),
            )
            .boxed(),
        ),
        Ty::Time64Ns => nanos((0..86_400_000_000_000i64).boxed()),
        Ty::Interval => intervals(),
        Ty::ListI32 => list_of(ints(i32::MIN.into(), i32::MAX.into())),
        Ty::ListUtf8 => list_of(text().prop_map(Cell::Text).boxed()),
    }
}

/// Where the NULLs of a column go.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Nulls {
    None,
    All,
    /// Rows whose coin says so.
    Random,
    /// The first k rows.
    First(usize),
    /// The last k rows.
    Last(usize),
}

fn nulls() -> BoxedStrategy<Nulls> {
    prop_oneof![
        3 => Just(Nulls::None),
        1 => Just(Nulls::All),
        3 => Just(Nulls::Random),
        1 => (1usize..=8).prop_map(Nulls::First),
        1 => (1usize..=8).prop_map(Nulls::Last),
    ]
    .boxed()
}

impl Nulls {
    fn is_null(self, row: usize, rows: usize, coin: bool) -> bool {
        match self {
            Nulls::None => false,
            Nulls::All => true,
            Nulls::Random => coin,
            Nulls::First(k) => row < k,
            Nulls::Last(k) => row + k >= rows,
        }
    }
}

fn ty(profile: &Profile) -> BoxedStrategy<Ty> {
    let min_scale = profile.min_scale;
    select(profile.types.clone())
        .prop_flat_map(move |ty| match ty {
            Ty::Dec(..) => (1u8..=38)
                .prop_flat_map(move |p| {
                    // A negative scale keeps p - s within 38 digits.
                    let lowest = min_scale.max(i8::try_from(p).unwrap_or(38) - 38);
                    let highest = i8::try_from(p).unwrap_or(38);
                    prop_oneof![
                        2 => Just(0i8),
                        3 => lowest..=highest,
                        1 => select(vec![lowest, highest]),
                    ]
                    .prop_map(move |s| Ty::Dec(p, s))
                })
                .boxed(),
            other => Just(other).boxed(),
        })
        .boxed()
}

/// A column's name, type and NULL placement.
type Spec = (String, Ty, Nulls);

fn spec(profile: &Profile) -> BoxedStrategy<Spec> {
    (name(profile), ty(profile), nulls()).boxed()
}

/// One row: a value and a NULL coin per column.
fn row(types: &[Ty]) -> BoxedStrategy<Vec<(Cell, bool)>> {
    let cells: Vec<BoxedStrategy<(Cell, bool)>> = types
        .iter()
        .map(|ty| (values(*ty), proptest::bool::weighted(0.3)).boxed())
        .collect();
    cells.boxed()
}

/// Tables of 1 to 6 columns and 0 to 40 rows for `profile`. Rows shrink away first,
/// then values, then columns.
pub fn cases(profile: Profile) -> BoxedStrategy<Case> {
    let variants = profile.variants.max(1);
    proptest::collection::vec(spec(&profile), 1..=6)
        .prop_flat_map(move |specs| {
            let types: Vec<Ty> = specs.iter().map(|(_, ty, _)| *ty).collect();
            (
                Just(specs),
                proptest::collection::vec(row(&types), 0..=40),
                2usize..=7,
                0..variants,
            )
        })
        .prop_map(|(specs, rows, batch_size, variant)| {
            let count = rows.len();
            let columns = specs
                .into_iter()
                .enumerate()
                .map(|(i, (name, ty, nulls))| Column {
                    // The index keeps names unique, case-insensitively too.
                    name: format!("{name}{i}"),
                    ty,
                    cells: rows
                        .iter()
                        .enumerate()
                        .map(|(r, row)| {
                            let (value, coin) = &row[i];
                            (!nulls.is_null(r, count, *coin)).then(|| value.clone())
                        })
                        .collect(),
                })
                .collect();
            Case {
                rows: count,
                columns,
                batch_size,
                variant,
            }
        })
        .boxed()
}
