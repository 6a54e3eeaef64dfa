use super::*;
use crate::test_support::{Other, Probe};

fn fresh() -> &'static Registry {
    Box::leak(Box::new(Registry::empty()))
}

#[test]
fn lookup_by_name_alias_path_and_case() {
    let registry = fresh();
    registry.register::<Probe>();
    for name in [
        "probe",
        "probe-alias",
        "conn_core::test_support::Probe",
        "PROBE",
    ] {
        assert_eq!(registry.lookup(name).unwrap().name, "probe", "{name}");
    }
}

#[test]
fn registering_twice_is_harmless() {
    let registry = fresh();
    registry.register::<Probe>();
    registry.register::<Probe>();
    assert_eq!(registry.names(), vec!["probe".to_owned()]);
    registry.check_duplicates().unwrap();
}

#[test]
fn two_types_claiming_one_name_is_an_error() {
    struct Impostor;
    impl ConnectionType for Impostor {
        const NAME: &'static str = "probe";
        const DESCRIPTION: &'static str = "claims probe's name";
        const EXAMPLE_TOML: &'static str = "";
        fn from_config(_: ConnectionConfig) -> Result<Self> {
            Ok(Impostor)
        }
        fn reset(&self) {}
        fn close(&self) {}
    }
    let registry = fresh();
    registry.register::<Probe>();
    registry.register::<Impostor>();
    let expected = "connection type name \"probe\" is registered twice, by \
                    conn_core::test_support::Probe and by \
                    conn_core::registry::tests::two_types_claiming_one_name_is_an_error::Impostor; \
                    rename one of them";
    assert_eq!(registry.lookup("probe").unwrap_err().to_string(), expected);
    assert_eq!(
        registry.check_duplicates().unwrap_err().to_string(),
        expected
    );
}

#[test]
fn names_and_types_are_sorted() {
    let registry = fresh();
    registry.register::<Probe>();
    registry.register::<Other>();
    assert_eq!(
        registry.names(),
        vec!["other".to_owned(), "probe".to_owned()]
    );
    let types: Vec<_> = registry.types().iter().map(|t| t.name).collect();
    assert_eq!(types, vec!["other", "probe"]);
}

#[test]
fn an_empty_registry_says_what_may_be_missing() {
    let err = fresh().lookup("sql").unwrap_err().to_string();
    assert_eq!(
        err,
        "connection type \"sql\" is provided by the conn-sql crate, which is not compiled in: \
         enable the `sql` feature of `conn`. Registered types: none (is the `conn` crate, or \
         the crate that registers the type, linked in?)"
    );
}

mod linked {
    //! The macro path, exactly as a plugin crate uses it.
    use crate::{ConnectionConfig, ConnectionType, Registry, Result};

    pub struct Linked;

    impl ConnectionType for Linked {
        const NAME: &'static str = "linked-by-inventory";
        const DESCRIPTION: &'static str = "registered with the macro";
        const EXAMPLE_TOML: &'static str = "";
        fn from_config(_: ConnectionConfig) -> Result<Self> {
            Ok(Linked)
        }
        fn reset(&self) {}
        fn close(&self) {}
    }

    crate::register_connection_type!(Linked);

    #[test]
    fn the_macro_registers_at_link_time() {
        let info = Registry::global().lookup("linked-by-inventory").unwrap();
        assert_eq!(info.type_path, "conn_core::registry::tests::linked::Linked");
        assert_eq!(info.description, "registered with the macro");
    }
}
