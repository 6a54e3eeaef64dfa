use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::*;
use crate::test_support::{Echo, Other, Probe, counts, registry};

/// A factory over a temporary project with `project` as `.streamlit/secrets.toml` and
/// `global` as `~/.streamlit/secrets.toml`.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(project: Option<&str>, global: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (sub, text) in [("app", project), ("home", global)] {
            std::fs::create_dir_all(dir.path().join(sub).join(".streamlit")).unwrap();
            if let Some(text) = text {
                std::fs::write(dir.path().join(sub).join(".streamlit/secrets.toml"), text).unwrap();
            }
        }
        Project { dir }
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    fn factory(&self, env: &[(&str, &str)]) -> ConnectionFactory {
        let home = self.path("home").display().to_string();
        let env = Env::from_pairs(
            env.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .chain([("HOME".to_owned(), home)]),
        );
        ConnectionFactory::builder()
            .env(env)
            .project_dir(self.path("app"))
            .registry(registry())
            .build()
    }
}

fn factory_with(secrets: &str) -> (Project, ConnectionFactory) {
    let project = Project::new(Some(secrets), None);
    let factory = project.factory(&[]);
    (project, factory)
}

#[test]
fn same_name_and_options_give_the_same_connection() {
    let (_p, factory) = factory_with("");
    let a = factory.get::<Probe>("same_a").unwrap();
    let b = factory.get::<Probe>("same_a").unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(counts("same_a").builds.load(Ordering::SeqCst), 1);
}

#[test]
fn options_are_part_of_the_key_in_any_order() {
    let (_p, factory) = factory_with("");
    let pq = factory
        .connection("order_a")
        .option("p", 1)
        .option("q", 2)
        .get::<Probe>()
        .unwrap();
    let qp = factory
        .connection("order_a")
        .option("q", 2)
        .option("p", 1)
        .get::<Probe>()
        .unwrap();
    let other = factory
        .connection("order_a")
        .option("p", 3)
        .get::<Probe>()
        .unwrap();
    assert!(Arc::ptr_eq(&pq, &qp));
    assert!(!Arc::ptr_eq(&pq, &other));
}

#[test]
fn ttl_expiry_builds_anew_and_closes_the_old() {
    let (_p, factory) = factory_with("");
    // Generous margins: a loaded CI machine may pause a thread for tens of ms.
    let ttl = Duration::from_millis(500);
    let first = factory.connection("ttl_a").ttl(ttl).get::<Probe>().unwrap();
    let again = factory.connection("ttl_a").ttl(ttl).get::<Probe>().unwrap();
    assert!(Arc::ptr_eq(&first, &again));
    std::thread::sleep(Duration::from_millis(600));
    let later = factory.connection("ttl_a").ttl(ttl).get::<Probe>().unwrap();
    assert!(!Arc::ptr_eq(&first, &later));
    let counts = counts("ttl_a");
    assert_eq!(counts.builds.load(Ordering::SeqCst), 2);
    assert_eq!(counts.closes.load(Ordering::SeqCst), 1);
}

#[test]
fn ttl_zero_builds_every_time_and_closes_the_previous() {
    let (_p, factory) = factory_with("");
    for _ in 0..3 {
        factory
            .connection("ttl0")
            .ttl(Ttl::ZERO)
            .get::<Probe>()
            .unwrap();
    }
    let counts = counts("ttl0");
    assert_eq!(counts.builds.load(Ordering::SeqCst), 3);
    assert_eq!(counts.closes.load(Ordering::SeqCst), 2);
}

#[test]
fn max_entries_bounds_one_name_and_closes_the_least_recently_used() {
    let (_p, factory) = factory_with("");
    let get = |name: &str, v: i64| {
        factory
            .connection(name)
            .option("v", v)
            .max_entries(2)
            .get::<Probe>()
            .unwrap()
    };
    let other_name = get("lru_b", 1);
    let one = get("lru_a", 1);
    let _two = get("lru_a", 2);
    let one_again = get("lru_a", 1); // 1 is now more recent than 2
    assert!(Arc::ptr_eq(&one, &one_again));
    let _three = get("lru_a", 3); // evicts 2
    assert_eq!(counts("lru_a").closes.load(Ordering::SeqCst), 1);
    assert!(Arc::ptr_eq(&one, &get("lru_a", 1)), "1 survived");
    assert_eq!(counts("lru_a").builds.load(Ordering::SeqCst), 3);
    // Another name was never touched.
    assert!(Arc::ptr_eq(&other_name, &get("lru_b", 1)));
    assert_eq!(counts("lru_b").closes.load(Ordering::SeqCst), 0);
}

#[test]
fn max_entries_zero_is_refused() {
    let (_p, factory) = factory_with("");
    let err = factory
        .connection("zero")
        .max_entries(0)
        .get::<Probe>()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "max_entries must be at least 1 (it bounds the cached connections of one name); \
         leave it unset for no bound"
    );
}

#[test]
fn concurrent_first_calls_build_once() {
    let (_p, factory) = factory_with("");
    let factory = Arc::new(factory);
    let barrier = Arc::new(std::sync::Barrier::new(64));
    let threads: Vec<_> = (0..64)
        .map(|_| {
            let factory = Arc::clone(&factory);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                factory
                    .connection("flight")
                    .option("build_ms", 30)
                    .get::<Probe>()
                    .unwrap()
            })
        })
        .collect();
    let conns: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(counts("flight").builds.load(Ordering::SeqCst), 1);
    assert!(conns.iter().all(|c| Arc::ptr_eq(c, &conns[0])));
}

#[test]
fn failures_are_not_cached() {
    let (_p, factory) = factory_with("");
    let request = || {
        factory
            .connection("flaky")
            .option("fail_first", 2)
            .get::<Probe>()
    };
    assert_eq!(request().unwrap_err().to_string(), "probe build 0 fails");
    assert_eq!(request().unwrap_err().to_string(), "probe build 1 fails");
    let ok = request().unwrap();
    assert!(Arc::ptr_eq(&ok, &request().unwrap()));
    assert_eq!(counts("flaky").builds.load(Ordering::SeqCst), 3);
}

#[test]
fn fresh_replaces_and_closes() {
    let (_p, factory) = factory_with("");
    let old = factory.get::<Probe>("fresh_a").unwrap();
    let new = factory
        .connection("fresh_a")
        .fresh()
        .get::<Probe>()
        .unwrap();
    assert!(!Arc::ptr_eq(&old, &new));
    assert!(Arc::ptr_eq(&new, &factory.get::<Probe>("fresh_a").unwrap()));
    assert_eq!(counts("fresh_a").closes.load(Ordering::SeqCst), 1);
}

#[test]
fn clear_one_name_or_all() {
    let (_p, factory) = factory_with("");
    factory.get::<Probe>("clear_a").unwrap();
    factory.get::<Probe>("clear_b").unwrap();
    assert_eq!(factory.clear_connection("clear_a"), 1);
    assert_eq!(counts("clear_a").closes.load(Ordering::SeqCst), 1);
    assert_eq!(counts("clear_b").closes.load(Ordering::SeqCst), 0);
    assert_eq!(factory.cached_connections(), 1);
    assert_eq!(factory.clear(), 1);
    assert_eq!(counts("clear_b").closes.load(Ordering::SeqCst), 1);
    factory.get::<Probe>("clear_a").unwrap();
    assert_eq!(counts("clear_a").builds.load(Ordering::SeqCst), 2);
}

#[test]
fn env_prefix_in_the_name_reads_a_variable() {
    let project = Project::new(Some("[connections.from_var]\ntype = \"probe\"\n"), None);
    let factory = project.factory(&[("DB_NAME", "from_var")]);
    let conn = factory.get_dyn("env:DB_NAME").unwrap();
    assert_eq!(conn.name(), "from_var");
    assert_eq!(conn.type_name(), "probe");
    // The probe type has no health check of its own: `conn check` reports it skipped.
    assert!(conn.health_check().is_none());
    let err = factory.get_dyn("env:NOPE").unwrap_err();
    assert_eq!(
        err.to_string(),
        "the connection name \"env:NOPE\" reads environment variable NOPE, which is not set"
    );
}

#[test]
fn snowpark_points_to_snowflake() {
    let (_p, factory) = factory_with("[connections.sp]\ntype = \"snowpark\"\n");
    for err in [
        factory.get_dyn("snowpark").unwrap_err(),
        factory.get_dyn("sp").unwrap_err(),
        factory
            .connection("x")
            .type_name("snowpark")
            .get_dyn()
            .unwrap_err(),
    ] {
        assert!(
            err.to_string()
                .starts_with("The Snowpark connection was removed in favor of the Snowflake connection. Use type = \"snowflake\""),
            "{err}"
        );
    }
}

#[test]
fn type_comes_from_explicit_then_type_key_then_name() {
    let project = Project::new(
        Some(
            "[connections.by_key]\ntype = \"other\"\n\
             [connections.probe]\ntype = \"other\"\n\
             [connections.by_path]\ntype = \"conn_core::test_support::Probe\"\n",
        ),
        None,
    );
    let factory = project.factory(&[("CONN_BY_ENV__TYPE", "probe-alias")]);
    assert_eq!(factory.get_dyn("by_key").unwrap().type_name(), "other");
    // The type key beats the name (Streamlit would pick the name's type here).
    assert_eq!(factory.get_dyn("probe").unwrap().type_name(), "other");
    // A name that is a type name, with no section, is that type.
    assert_eq!(factory.get_dyn("other").unwrap().type_name(), "other");
    assert_eq!(factory.get_dyn("by_env").unwrap().type_name(), "probe");
    assert_eq!(factory.get_dyn("by_path").unwrap().type_name(), "probe");
    let explicit = factory
        .connection("by_key")
        .type_name("probe")
        .get_dyn()
        .unwrap();
    assert_eq!(explicit.type_name(), "probe");
    assert!(explicit.downcast::<Probe>().is_some());
    assert!(explicit.downcast::<Other>().is_none());
}

#[test]
fn typed_and_dynamic_requests_share_one_connection() {
    let (_p, factory) = factory_with("[connections.shared]\ntype = \"probe\"\n");
    let typed = factory.get::<Probe>("shared").unwrap();
    let dynamic = factory
        .get_dyn("shared")
        .unwrap()
        .downcast::<Probe>()
        .unwrap();
    assert!(Arc::ptr_eq(&typed, &dynamic));
}

#[test]
fn unknown_type_lists_registered_names_and_the_nearest() {
    let (project, factory) = factory_with("[connections.typo]\ntype = \"prob\"\n");
    let err = factory.get_dyn("typo").unwrap_err();
    let file = project.path("app").join(".streamlit/secrets.toml");
    assert_eq!(
        err.to_string(),
        format!(
            "unknown connection type \"prob\" (given at {}:2:8); did you mean \"probe\"? \
             Registered types: echo, other, probe",
            file.display()
        )
    );
}

#[test]
fn disabled_first_party_type_names_its_feature() {
    let (project, factory) = factory_with(
        "[connections.ducks]\ntype = \"duckdb\"\n[connections.st]\ntype = \"streamlit.connections.SQLConnection\"\n",
    );
    let file = project.path("app").join(".streamlit/secrets.toml");
    assert_eq!(
        factory.get_dyn("ducks").unwrap_err().to_string(),
        format!(
            "connection type \"duckdb\" (given at {}:2:8) is provided by the conn-duckdb \
             crate, which is not compiled in: enable the `duckdb` feature of `conn`. \
             Registered types: echo, other, probe",
            file.display()
        )
    );
    assert!(
        factory
            .get_dyn("st")
            .unwrap_err()
            .to_string()
            .starts_with("connection type \"streamlit.connections.SQLConnection\" (given at ")
    );
}

#[test]
fn unconfigured_name_says_where_it_looked() {
    let project = Project::new(Some("[connections.pets_db]\ntype = \"probe\"\n"), None);
    let factory = project.factory(&[]);
    let err = factory.get_dyn("pet_db").unwrap_err().to_string();
    let app = project.path("app").join(".streamlit/secrets.toml");
    assert_eq!(
        err,
        format!(
            "connection \"pet_db\" is not configured: no [connections.pet_db] section; did you \
             mean \"pets_db\"? Secrets were read from: {}",
            app.display()
        )
    );
}

#[test]
fn no_secrets_at_all_lists_the_valid_paths() {
    let project = Project::new(None, None);
    let factory = project.factory(&[]);
    let err = factory.get_dyn("nothing").unwrap_err().to_string();
    let home = project.path("home").join(".streamlit/secrets.toml");
    let app = project.path("app").join(".streamlit/secrets.toml");
    assert_eq!(
        err,
        format!(
            "connection \"nothing\" is not configured: add a [connections.nothing] section with \
             a `type` key, set CONN_NOTHING__TYPE and its other keys as environment variables, \
             or ask for a type in code. No secrets found. Valid paths for a secrets.toml file \
             or secret directories are: {}, {}",
            home.display(),
            app.display()
        )
    );
}

#[test]
fn misspelled_connections_section_gets_a_did_you_mean() {
    let (project, factory) = factory_with("[connection.pets]\ntype = \"probe\"\n");
    let err = factory.get_dyn("pets").unwrap_err().to_string();
    let app = project.path("app").join(".streamlit/secrets.toml");
    assert!(
        err.starts_with(&format!(
            "connection \"pets\" is not configured: found [connection.pets] at {}:1:1; did you \
             mean [connections.pets]? Secrets were read from",
            app.display()
        )),
        "{err}"
    );
}

#[test]
fn section_without_type_says_how_to_give_one() {
    let (project, factory) = factory_with("[connections.untyped]\nurl = \"x\"\n");
    let err = factory.get_dyn("untyped").unwrap_err().to_string();
    let app = project.path("app").join(".streamlit/secrets.toml");
    assert_eq!(
        err,
        format!(
            "cannot infer the connection type of \"untyped\": add type = \"...\" to \
             [connections.untyped] ({}:1:1), set CONN_UNTYPED__TYPE, or ask for a type in \
             code. Registered types: echo, other, probe",
            app.display()
        )
    );
}

#[test]
fn layers_merge_with_code_over_env_over_project_over_global() {
    let project = Project::new(
        Some("[connections.layered]\ntype = \"probe\"\nhost = \"project\"\nport = 1\n"),
        Some("[connections.layered]\nuser = \"global\"\n[other]\nx = 1\n"),
    );
    let factory = project.factory(&[("CONN_LAYERED__PORT", "2"), ("CONN_LAYERED__DB", "env")]);
    let conn = factory
        .connection("layered")
        .option("db", "code")
        .get::<Probe>()
        .unwrap();
    let config = &conn.config;
    let app = project.path("app").join(".streamlit/secrets.toml");
    assert_eq!(
        config.get_as::<String>("host").unwrap().as_deref(),
        Some("project")
    );
    assert_eq!(
        config.get("host").unwrap().source().to_string(),
        format!("{}:3:8", app.display())
    );
    assert_eq!(config.get_as::<u16>("port").unwrap(), Some(2));
    assert_eq!(
        config.get("port").unwrap().source().to_string(),
        "environment variable CONN_LAYERED__PORT"
    );
    assert_eq!(
        config.get_as::<String>("db").unwrap().as_deref(),
        Some("code")
    );
    assert_eq!(
        config.get("db").unwrap().source().to_string(),
        "options given in code"
    );
    // Streamlit's shallow merge: the project file's [connections] replaces the global one.
    assert!(config.get("user").is_none());
    // `type` stays in the configuration, as in Streamlit.
    assert_eq!(
        config.get_as::<String>("type").unwrap().as_deref(),
        Some("probe")
    );
}

#[test]
fn a_connection_can_live_in_the_environment_alone() {
    let project = Project::new(None, None);
    let factory = project.factory(&[
        ("CONN_ENV_ONLY__TYPE", "probe"),
        ("CONN_ENV_ONLY__POOL__SIZE", "5"),
        ("CONN_ENV_ONLY__HOSTS", "[\"a\", \"b\"]"),
    ]);
    let conn = factory
        .get_dyn("env_only")
        .unwrap()
        .downcast::<Probe>()
        .unwrap();
    assert_eq!(conn.config.get_as::<u32>("pool.size").unwrap(), Some(5));
    assert_eq!(
        conn.config.get_as::<Vec<String>>("hosts").unwrap(),
        Some(vec!["a".to_owned(), "b".to_owned()])
    );
}

#[test]
fn reload_resets_only_connections_whose_section_changed() {
    let project = Project::new(
        Some(
            "[connections.r1]\ntype = \"probe\"\nv = 1\n[connections.r2]\ntype = \"probe\"\nv = 1\n",
        ),
        None,
    );
    let factory = project.factory(&[]);
    factory.get_dyn("r1").unwrap();
    factory.get_dyn("r2").unwrap();
    std::fs::write(
        project.path("app").join(".streamlit/secrets.toml"),
        "[connections.r1]\ntype = \"probe\"\nv = 2\n[connections.r2]\ntype = \"probe\"\nv = 1\n",
    )
    .unwrap();
    assert_eq!(factory.reload_secrets().unwrap(), vec!["r1".to_owned()]);
    assert_eq!(counts("r1").resets.load(Ordering::SeqCst), 1);
    assert_eq!(counts("r2").resets.load(Ordering::SeqCst), 0);

    // A file that does not parse keeps the last good secrets.
    std::fs::write(
        project.path("app").join(".streamlit/secrets.toml"),
        "[broken",
    )
    .unwrap();
    assert!(factory.reload_secrets().is_err());
    assert!(factory.secrets().unwrap().contains("connections.r1.v"));
}

#[test]
fn invalid_default_ttl_uses_streamlits_message() {
    let project = Project::new(Some(""), None);
    let factory = project.factory(&[(DEFAULT_TTL_VAR, "soon")]);
    let err = factory.get::<Probe>("dttl").unwrap_err();
    assert_eq!(
        err.to_string(),
        "Invalid `runner.connectionDefaultTTL` value. Use a finite, non-negative number of \
         seconds, or leave the option unset to keep connections cached until they are \
         cleared. Received 'soon'."
    );
}

#[test]
fn negative_default_ttl_is_refused_like_streamlit() {
    let project = Project::new(Some(""), None);
    let factory = project.factory(&[(DEFAULT_TTL_VAR, "-1")]);
    let err = factory.get::<Probe>("dttl_neg").unwrap_err().to_string();
    assert!(err.ends_with("Received -1."), "{err}");
}

#[test]
fn default_ttl_from_streamlit_config_toml() {
    let project = Project::new(Some(""), None);
    std::fs::write(
        project.path("app").join(".streamlit/config.toml"),
        "[runner]\nconnectionDefaultTTL = 0\n",
    )
    .unwrap();
    let factory = project.factory(&[]);
    let a = factory.get::<Probe>("cfg_ttl").unwrap();
    let b = factory.get::<Probe>("cfg_ttl").unwrap();
    assert!(
        !Arc::ptr_eq(&a, &b),
        "a default ttl of 0 disables the cache"
    );
}

#[test]
fn secrets_files_from_the_environment_variable() {
    let project = Project::new(None, None);
    let custom = project.path("custom.toml");
    std::fs::write(&custom, "[connections.custom]\ntype = \"probe\"\n").unwrap();
    let factory = project.factory(&[(crate::SECRETS_FILES_VAR, custom.to_str().unwrap())]);
    assert_eq!(factory.get_dyn("custom").unwrap().type_name(), "probe");
    assert_eq!(factory.secrets().unwrap().loaded(), &[custom]);
}

#[test]
fn malformed_secrets_are_reported_on_use() {
    let (project, factory) = factory_with("[connections.bad\n");
    let err = factory.get_dyn("bad").unwrap_err().to_string();
    let app = project.path("app").join(".streamlit/secrets.toml");
    assert!(
        err.starts_with(&format!(
            "Error parsing secrets file at {}: ",
            app.display()
        )),
        "{err}"
    );
    assert!(err.ends_with("(at line 1, column 17)"), "{err}");
}

#[test]
fn config_request_shows_provenance_without_building() {
    let (_p, factory) = factory_with("[connections.inspect]\ntype = \"probe\"\nhost = \"h\"\n");
    let config = factory.connection("inspect").config().unwrap();
    assert_eq!(config.type_name(), "probe");
    assert!(config.get("host").is_some());
    assert_eq!(counts("inspect").builds.load(Ordering::SeqCst), 0);
}

#[test]
fn the_watcher_resets_changed_connections_and_survives_bad_files() {
    let project = Project::new(
        Some("[connections.w1]\ntype = \"probe\"\nv = 1\n[connections.w2]\ntype = \"probe\"\n"),
        None,
    );
    let factory = project.factory(&[]);
    let _watcher = factory.watch_secrets().unwrap();
    let first = factory.get::<Probe>("w1").unwrap();
    let untouched = factory.get::<Probe>("w2").unwrap();
    let file = project.path("app").join(".streamlit/secrets.toml");
    let wait_for = |what: &dyn Fn() -> bool| {
        for _ in 0..200 {
            if what() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        false
    };

    std::fs::write(&file, "[connections.w1]\ntype = \"probe\"\nv = [\n").unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        counts("w1").resets.load(Ordering::SeqCst),
        0,
        "a bad file changes nothing"
    );
    assert!(factory.secrets().unwrap().contains("connections.w1.v"));

    std::fs::write(
        &file,
        "[connections.w1]\ntype = \"probe\"\nv = 2\n[connections.w2]\ntype = \"probe\"\n",
    )
    .unwrap();
    assert!(wait_for(&|| counts("w1").resets.load(Ordering::SeqCst) == 1));
    let rebuilt = factory.get::<Probe>("w1").unwrap();
    assert!(!Arc::ptr_eq(&first, &rebuilt));
    assert_eq!(rebuilt.config.get_as::<i64>("v").unwrap(), Some(2));
    assert!(Arc::ptr_eq(
        &untouched,
        &factory.get::<Probe>("w2").unwrap()
    ));
    assert_eq!(counts("w2").resets.load(Ordering::SeqCst), 0);
}

#[test]
fn a_held_connection_reconnects_with_the_new_section_after_a_change() {
    let project = Project::new(Some("[connections.held]\ntype = \"echo\"\nv = 1\n"), None);
    let factory = project.factory(&[]);
    let held = factory.get::<Echo>("held").unwrap();
    assert_eq!(held.base.raw().blocking().unwrap(), 1);
    std::fs::write(
        project.path("app").join(".streamlit/secrets.toml"),
        "[connections.held]\ntype = \"echo\"\nv = 2\n",
    )
    .unwrap();
    assert_eq!(factory.reload_secrets().unwrap(), vec!["held".to_owned()]);
    assert_eq!(
        held.base.raw().blocking().unwrap(),
        2,
        "the app's own handle follows the new secrets"
    );
    // And an explicit reset re-reads them too, as Streamlit's reset does.
    factory.replace_secrets(
        Secrets::from_toml_str(
            "[connections.held]\ntype = \"echo\"\nv = 3\n",
            "/s.toml",
            None,
        )
        .unwrap(),
    );
    held.base.reset();
    assert_eq!(held.base.raw().blocking().unwrap(), 3);
}

#[test]
fn secrets_given_in_code_survive_reload_and_refuse_a_watcher() {
    let secrets = Secrets::from_toml_str(
        "[connections.code]\ntype = \"echo\"\nv = 7\n",
        "/code.toml",
        None,
    )
    .unwrap();
    let factory = ConnectionFactory::builder()
        .env(Env::from_pairs(Vec::<(String, String)>::new()))
        .secrets(secrets)
        .registry(registry())
        .build();
    assert!(factory.reload_secrets().unwrap().is_empty());
    assert!(factory.secrets().unwrap().contains("connections.code.v"));
    let err = factory.watch_secrets().unwrap_err().to_string();
    assert!(err.contains("given in code"), "{err}");
}

#[test]
fn errors_say_where_the_connection_was_configured() {
    let (project, factory) = factory_with("[connections.where]\ntype = \"echo\"\nv = \"x\"\n");
    let err = factory.get::<Echo>("where").unwrap_err().to_string();
    let file = project.path("app").join(".streamlit/secrets.toml");
    assert_eq!(
        err,
        format!(
            "invalid `v` for connection \"where\" at {}:3:5: expected an integer, found a string that is not one",
            file.display()
        )
    );
    let (project, factory) = factory_with("[connections.typo]\ntype = \"ecko\"\n");
    let err = factory.get_dyn("typo").unwrap_err().to_string();
    let file = project.path("app").join(".streamlit/secrets.toml");
    assert!(
        err.starts_with(&format!(
            "unknown connection type \"ecko\" (given at {}:2:8); did you mean \"echo\"?",
            file.display()
        )),
        "{err}"
    );
}

#[test]
fn interpolation_is_opt_in() {
    let project = Project::new(
        Some("[connections.ip]\ntype = \"probe\"\nhost = \"${DB_HOST}\"\n"),
        None,
    );
    let off = project.factory(&[("DB_HOST", "db.example")]);
    let host = off
        .connection("ip")
        .config()
        .unwrap()
        .get_as::<String>("host")
        .unwrap();
    assert_eq!(host.as_deref(), Some("${DB_HOST}"));
    let on = project.factory(&[("DB_HOST", "db.example"), (INTERPOLATE_VAR, "1")]);
    let host = on
        .connection("ip")
        .config()
        .unwrap()
        .get_as::<String>("host")
        .unwrap();
    assert_eq!(host.as_deref(), Some("db.example"));
}

#[test]
fn result_groups_of_names_no_instance_holds_are_forgotten() {
    let (_p, factory) = factory_with("[connections.groups_held]\ntype = \"probe\"\n");
    let held = factory.connection("groups_held").config().unwrap();
    for i in 0..100 {
        drop(factory.get::<Probe>(&format!("groups_gone_{i}")).unwrap());
    }
    factory.clear();
    let again = factory.connection("groups_held").config().unwrap();
    let groups = factory.inner.results_groups.lock();
    assert!(groups.len() <= 2, "{} groups kept", groups.len());
    // A group something still holds is kept: the name's instances stay together.
    let (held, again) = (
        held.results_group().unwrap(),
        again.results_group().unwrap(),
    );
    assert!(Arc::ptr_eq(&held.gate(), &again.gate()));
}
