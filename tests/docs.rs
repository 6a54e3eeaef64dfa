//! The documentation's TOML examples parse, and the configuration reference's example
//! resolves every connection it defines.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use conn::{ConnectionFactory, Env, Secrets};

/// The ```toml blocks of a Markdown file.
fn toml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start()) {
            (None, fence) if fence.starts_with("```toml") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

fn docs() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs")
}

#[test]
fn every_toml_example_in_the_docs_parses() {
    let mut checked = 0;
    let readme = docs().join("../README.md");
    let pages = std::fs::read_dir(docs())
        .unwrap()
        .map(|e| e.unwrap().path());
    for path in pages.chain([readme]) {
        if path.extension().is_some_and(|e| e == "md") {
            let text = std::fs::read_to_string(&path).unwrap();
            for block in toml_blocks(&text) {
                Secrets::from_toml_str(&block, &path, None)
                    .unwrap_or_else(|e| panic!("{}: {e}\n{block}", path.display()));
                checked += 1;
            }
        }
    }
    assert!(checked >= 8, "only {checked} TOML examples found");
}

#[test]
fn the_configuration_reference_example_resolves() {
    let text = std::fs::read_to_string(docs().join("configuration.md")).unwrap();
    let example = toml_blocks(&text).into_iter().next().unwrap();
    let secrets = Secrets::from_toml_str(&example, "configuration.md", None).unwrap();
    let names: Vec<String> = secrets
        .connection_names()
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert!(names.len() >= 4, "{names:?}");
    let factory = ConnectionFactory::builder()
        .env(Env::from_pairs([("PGPASSWORD", "example")]))
        .secrets(secrets)
        .build();
    for name in names {
        let config = factory
            .connection(&name)
            .config()
            .unwrap_or_else(|e| panic!("[connections.{name}]: {e}"));
        assert_eq!(config.name(), name);
    }
}
