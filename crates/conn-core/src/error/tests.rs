use super::*;

#[test]
fn unknown_type_lists_sorted_names_and_nearest() {
    let err: Error = UnknownTypeError {
        requested: "sqll".into(),
        registered: vec!["duckdb".into(), "files".into(), "sql".into()],
        suggestion: Some("sql".into()),
        feature: None,
        at: None,
    }
    .into();
    assert_eq!(
        err.to_string(),
        "unknown connection type \"sqll\"; did you mean \"sql\"? Registered types: duckdb, files, sql"
    );
}

#[test]
fn disabled_first_party_type_names_the_feature() {
    let err: Error = UnknownTypeError {
        requested: "duckdb".into(),
        registered: vec!["sql".into()],
        suggestion: None,
        feature: Some(FeatureHint {
            crate_name: "conn-duckdb",
            feature: "duckdb",
        }),
        at: None,
    }
    .into();
    assert_eq!(
        err.to_string(),
        "connection type \"duckdb\" is provided by the conn-duckdb crate, which is not \
         compiled in: enable the `duckdb` feature of `conn`. Registered types: sql"
    );
}

#[test]
fn only_driver_errors_are_retryable() {
    assert!(
        Error::driver("x", ErrorClass::Stale, "gone")
            .class()
            .is_retryable()
    );
    assert!(
        !Error::driver("x", ErrorClass::Permanent, "bad")
            .class()
            .is_retryable()
    );
    assert!(!Error::InvalidArgument("x".into()).class().is_retryable());
}
