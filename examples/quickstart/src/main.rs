//! The README quick start: Streamlit's pets example, in Rust, on SQLite.
//!
//! Run with `cargo run -p quickstart` (from anywhere in the workspace).
#![allow(clippy::print_stdout)]

use std::time::Duration;

use conn::sql::SqlConnection;
use serde::Deserialize;

#[derive(Deserialize)]
struct PetOwner {
    person: String,
    pet: String,
}

fn main() -> conn::Result<()> {
    // Work in this example's folder, where its .streamlit/secrets.toml names pets_db.
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).map_err(|e| conn::Error::Io {
        context: "entering the example's folder".into(),
        message: e.to_string(),
    })?;

    // One call: a cached, thread-safe connection to [connections.pets_db].
    let conn = conn::connection::<SqlConnection>("pets_db")?;

    // Insert some data in a transaction.
    let mut session = conn.session().blocking()?;
    session
        .execute("CREATE TABLE IF NOT EXISTS pet_owners (person TEXT, pet TEXT)")
        .blocking()?;
    session.execute("DELETE FROM pet_owners").blocking()?;
    for (owner, pet) in [("jerry", "fish"), ("barbara", "cat"), ("alex", "puppy")] {
        session
            .execute("INSERT INTO pet_owners (person, pet) VALUES (:owner, :pet)")
            .param("owner", owner)
            .param("pet", pet)
            .blocking()?;
    }
    session.commit().blocking()?;

    // One more call: an Arrow table, cached for ten minutes.
    let pet_owners = conn
        .query("SELECT * FROM pet_owners")
        .ttl(Duration::from_secs(600))
        .blocking()?;
    println!("{pet_owners}");

    // Rows as Rust values.
    for row in pet_owners.rows::<PetOwner>()? {
        println!("{} has a :{}:", row.person, row.pet);
    }
    Ok(())
}
