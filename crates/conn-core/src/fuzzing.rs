//! Thin wrappers over internal parsers, for the fuzz targets in `fuzz/` only.
//!
//! Compiled with the `fuzzing` feature; hidden from the docs and not a public API:
//! nothing outside the fuzz targets may depend on it.

use crate::value::{Env, Kind};

/// Expands `${VAR}` and `${VAR:-default}` references in one secrets string value, as
/// a secrets file read with interpolation does.
pub fn interpolate(text: &str, env: &Env) -> Kind {
    crate::secrets::interpolate(text, env)
}
