use std::fs;

use serde::Deserialize;

use super::*;

fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let path = dir.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, text).unwrap();
    path
}

#[test]
fn later_files_replace_top_level_keys_whole() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.toml", "x = 1\n[section]\nfrom_a = 1\n");
    let b = write(dir.path(), "b.toml", "[section]\nfrom_b = 2\n");
    let secrets = Secrets::load_from(&SecretsLocations::paths([&a, &b]), None).unwrap();
    assert!(secrets.contains("x"));
    assert!(secrets.contains("section.from_b"));
    assert!(
        !secrets.contains("section.from_a"),
        "Streamlit's merge is shallow"
    );
    assert_eq!(secrets.loaded(), &[a, b]);
}

#[test]
fn missing_files_are_skipped_and_other_paths_are_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let secrets = Secrets::load_from(&SecretsLocations::paths([&missing]), None).unwrap();
    assert!(secrets.is_empty());
    assert!(secrets.loaded().is_empty());

    let bogus = dir.path().join("not-toml.txt");
    let err = Secrets::load_from(&SecretsLocations::paths([&bogus]), None)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "Invalid secrets path: {}: path is not a .toml file or a directory",
            bogus.display()
        )
    );
}

#[test]
fn directories_mix_with_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "s.toml", "token = \"from file\"\n");
    write(dir.path(), "k8s/token/value", "from dir\n");
    let secrets = Secrets::load_from(
        &SecretsLocations::paths([file, dir.path().join("k8s")]),
        None,
    )
    .unwrap();
    assert_eq!(secrets.get::<String>("token").unwrap(), "from dir");
}

#[test]
fn typed_access_and_nested_sections() {
    #[derive(Deserialize, Debug, PartialEq)]
    struct Db {
        host: String,
        port: u16,
    }
    let secrets =
        Secrets::from_toml_str("[db]\nhost = \"h\"\nport = \"5432\"\n", "/s.toml", None).unwrap();
    assert_eq!(
        secrets.get::<Db>("db").unwrap(),
        Db {
            host: "h".into(),
            port: 5432
        }
    );
    assert_eq!(secrets.get::<u16>("db.port").unwrap(), 5432);
}

#[test]
fn missing_key_suggests_and_names_files() {
    let secrets = Secrets::from_toml_str("[db]\npassword = \"x\"\n", "/s.toml", None).unwrap();
    let err = secrets.get::<String>("db.pasword").unwrap_err().to_string();
    assert_eq!(
        err,
        "secrets have no key \"db.pasword\"; did you mean \"db.password\"? Secrets were read \
         from: /s.toml"
    );
}

#[test]
fn wrong_type_names_file_and_line_but_not_the_value() {
    let secrets = Secrets::from_toml_str("[db]\nport = \"hunter2\"\n", "/s.toml", None).unwrap();
    let err = secrets.get::<u16>("db.port").unwrap_err().to_string();
    assert_eq!(
        err,
        "secrets key \"db.port\" at /s.toml:2:8: expected a non-negative integer, found a \
         string that is not one"
    );
}

#[test]
fn interpolation_and_unset_variables() {
    let env = Env::from_pairs([("PGPASS", "s3cret")]);
    let secrets = Secrets::from_toml_str(
        "a = \"${PGPASS}\"\nb = \"${UNSET}\"\nc = \"${UNSET:-dflt}\"\n",
        "/s.toml",
        Some(&env),
    )
    .unwrap();
    assert_eq!(secrets.get::<String>("a").unwrap(), "s3cret");
    assert_eq!(secrets.get::<String>("c").unwrap(), "dflt");
    let err = secrets.get::<String>("b").unwrap_err().to_string();
    assert_eq!(
        err,
        "secrets key \"b\" at /s.toml:2:5: environment variable UNSET is not set (the value \
         refers to it as ${UNSET}); set it, or give a default with ${UNSET:-default}"
    );
}

#[test]
fn debug_and_display_never_show_values() {
    let secrets = Secrets::from_toml_str(
        "[connections.db]\npassword = \"hunter2\"\nport = 5432\n",
        "/s.toml",
        None,
    )
    .unwrap();
    for text in [format!("{secrets:?}"), secrets.to_string()] {
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("5432"), "{text}");
        assert!(text.contains("password"), "{text}");
    }
    assert_eq!(
        secrets.to_string(),
        "connections:\n  db:\n    password = <string redacted> (/s.toml:2:12)\n    port = \
         <integer redacted> (/s.toml:3:8)\n"
    );
}

#[test]
fn a_real_streamlit_secrets_file_works_unchanged() {
    let text = r#"
# Everything your app needs, as in the Streamlit docs.
api_key = "top-level"

[connections.pets_db]
url = "sqlite:///pets.db"

[connections.postgresql]
dialect = "postgresql"
host = "localhost"
port = "5432"
database = "xxx"
username = "xxx"
password = "xxx"

[connections.s3]
type = "st_files_connection.FilesConnection"
key = "AKIA"
secret = "shh"
"#;
    let secrets = Secrets::from_toml_str(text, "/app/.streamlit/secrets.toml", None).unwrap();
    assert_eq!(
        secrets.connection_names(),
        vec!["pets_db", "postgresql", "s3"]
    );
    assert_eq!(
        secrets.get::<u16>("connections.postgresql.port").unwrap(),
        5432
    );
}

#[test]
fn discover_uses_home_then_project_and_the_override_variable() {
    let env = Env::from_pairs([("HOME", "/home/ada")]);
    let locations = SecretsLocations::discover(&env, Path::new("/app"));
    assert_eq!(
        locations.as_slice(),
        &[
            PathBuf::from("/home/ada/.streamlit/secrets.toml"),
            PathBuf::from("/app/.streamlit/secrets.toml")
        ]
    );
    let env = Env::from_pairs([(SECRETS_FILES_VAR, "/x/a.toml:rel/b")]);
    let locations = SecretsLocations::discover(&env, Path::new("/app"));
    assert_eq!(
        locations.as_slice(),
        &[PathBuf::from("/x/a.toml"), PathBuf::from("/app/rel/b")]
    );
}

#[test]
fn discover_reads_streamlit_config_files_list() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        ".streamlit/config.toml",
        "[secrets]\nfiles = [\"one.toml\", \"env:EXTRA\"]\n",
    );
    let env = Env::from_pairs([("EXTRA", "/etc/two.toml")]);
    let locations = SecretsLocations::discover(&env, dir.path());
    assert_eq!(
        locations.as_slice(),
        &[dir.path().join("one.toml"), PathBuf::from("/etc/two.toml")]
    );
}

#[test]
fn without_interpolation_values_are_taken_as_written() {
    // A real Streamlit secrets file whose password holds `${`: it keeps its meaning.
    let secrets = Secrets::from_toml_str(
        "[connections.db]\npassword = \"p${ss}w0rd${\"\n",
        "/s.toml",
        None,
    )
    .unwrap();
    assert_eq!(
        secrets.get::<String>("connections.db.password").unwrap(),
        "p${ss}w0rd${"
    );
}
