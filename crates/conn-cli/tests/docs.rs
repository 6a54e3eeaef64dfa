//! docs/cli.md: every `$ conn ...` example in a ```console block runs in the page's
//! example project (its first ```toml block, with Streamlit's pets in `pets.db`), in
//! order, and prints what the page shows. Times and rates may differ; the project folder
//! is shown as `/app`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::Project;
use conn::sql::SqlConnection;
use conn::{ConnectionFactory, Secrets};

/// One documented command and the output the page shows for it.
#[derive(Debug)]
struct Example {
    env: Vec<(String, String)>,
    args: Vec<String>,
    output: String,
}

fn page() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/cli.md");
    std::fs::read_to_string(path).unwrap()
}

/// The bodies of the fenced blocks opened by ```` ```{language} ````.
fn blocks(markdown: &str, language: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut current: Option<String> = None;
    let opening = format!("```{language}");
    for line in markdown.lines() {
        match &mut current {
            None if line.trim_end() == opening => current = Some(String::new()),
            Some(block) if line.trim_end() == "```" => {
                found.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    found
}

/// Splits a shell command line: whitespace separates, double and single quotes group.
fn split(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    assert!(quote.is_none(), "unclosed quote in: {line}");
    if in_word {
        words.push(word);
    }
    words
}

fn examples(markdown: &str) -> Vec<Example> {
    let mut examples: Vec<Example> = Vec::new();
    for block in blocks(markdown, "console") {
        for line in block.lines() {
            if let Some(command) = line.strip_prefix("$ ") {
                let mut words = split(command).into_iter().peekable();
                let mut env = Vec::new();
                while let Some(word) = words.next_if(|w| w.contains('=') && w != "conn") {
                    let (var, value) = word.split_once('=').unwrap();
                    env.push((var.to_owned(), value.to_owned()));
                }
                assert_eq!(words.next().as_deref(), Some("conn"), "{line}");
                examples.push(Example {
                    env,
                    args: words.collect(),
                    output: String::new(),
                });
            } else {
                let last = examples
                    .last_mut()
                    .unwrap_or_else(|| panic!("output before any command: {line}"));
                last.output.push_str(line);
                last.output.push('\n');
            }
        }
    }
    examples
}

/// Replaces each number that is a time or a rate (`12 ms`, `50 rows/s`), with the
/// padding before it, by ` N`.
fn normalize(text: &str) -> String {
    let mut normalized = String::new();
    for line in text.lines() {
        let chars: Vec<char> = line.chars().collect();
        let mut out: Vec<char> = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            if !chars[i].is_ascii_digit() {
                out.push(chars[i]);
                i += 1;
                continue;
            }
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let rest: String = chars[i..].iter().collect();
            let after_word = start == 0 || !chars[start - 1].is_alphanumeric();
            if after_word && (rest.starts_with(" ms") || rest.starts_with(" rows/s")) {
                while out.last() == Some(&' ') {
                    out.pop();
                }
                out.extend(" N".chars());
            } else {
                out.extend(&chars[start..i]);
            }
        }
        normalized.extend(out);
        normalized.push('\n');
    }
    normalized
}

/// The page's project: its secrets, the pets in `pets.db`, the `exports` folder.
fn example_project(markdown: &str) -> Project {
    let secrets = blocks(markdown, "toml").into_iter().next().unwrap();
    let project = Project::new(move |_| secrets);
    std::fs::create_dir_all(project.join("exports")).unwrap();
    let setup = format!(
        "[connections.setup]\ntype = \"sql\"\nurl = \"sqlite:///{}\"\n",
        project.join("pets.db").display()
    );
    let factory = ConnectionFactory::builder()
        .secrets(Secrets::from_toml_str(&setup, "setup.toml", None).unwrap())
        .build();
    let pets = factory.get::<SqlConnection>("setup").unwrap();
    for statement in [
        "create table pet (name text, kind text, age integer, weight real)",
        "insert into pet values ('Rex', 'dog', 3, 12.5), ('Tom', 'cat', 5, 4.25), \
         ('Nemo', 'fish', null, 0.1)",
    ] {
        pets.execute(statement).blocking().unwrap();
    }
    project
}

#[test]
fn every_example_in_the_cli_page_prints_what_the_page_shows() {
    let markdown = page();
    let examples = examples(&markdown);
    assert!(examples.len() >= 10, "only {} examples", examples.len());
    let project = example_project(&markdown);
    let folder = project.path().display().to_string();
    for example in &examples {
        let args: Vec<&str> = example.args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = example
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let run = project.run(&args, &env);
        let printed = format!("{}{}", run.stdout, run.stderr).replace(&folder, "/app");
        assert_eq!(
            normalize(&printed),
            normalize(&example.output),
            "`conn {}` (exit code {})",
            args.join(" "),
            run.code
        );
    }
}

#[test]
fn the_helpers_split_and_normalize_as_a_shell_reader_would() {
    assert_eq!(
        split(r#"query pets_db "select * from pet" -p 'a=b c'"#),
        ["query", "pets_db", "select * from pet", "-p", "a=b c"]
    );
    assert_eq!(
        normalize(
            "ok      pets_db    sql        12 ms\nin 5 ms (read 3 ms, 50 rows/s) os error 111\n"
        ),
        "ok      pets_db    sql N ms\nin N ms (read N ms, N rows/s) os error 111\n"
    );
}
