//! A connection type for the core's own tests: counts builds, resets and closes per
//! connection name, and can be told to fail or to be slow.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use crate::{ConnectionConfig, ConnectionType, Error, Registry, Result};

/// Counters of one connection name.
#[derive(Default, Debug)]
pub(crate) struct Counts {
    pub(crate) builds: AtomicUsize,
    pub(crate) resets: AtomicUsize,
    pub(crate) closes: AtomicUsize,
}

static COUNTS: LazyLock<Mutex<HashMap<String, Arc<Counts>>>> = LazyLock::new(Default::default);

/// The counters of `name` (tests use unique names, so they do not see each other).
pub(crate) fn counts(name: &str) -> Arc<Counts> {
    let mut map = COUNTS.lock().unwrap();
    Arc::clone(map.entry(name.to_owned()).or_default())
}

#[derive(Debug)]
pub(crate) struct Probe {
    pub(crate) config: ConnectionConfig,
    counts: Arc<Counts>,
}

impl ConnectionType for Probe {
    const NAME: &'static str = "probe";
    const ALIASES: &'static [&'static str] = &["probe-alias"];
    const DESCRIPTION: &'static str = "a connection type for conn-core's tests";
    const EXAMPLE_TOML: &'static str = "[connections.p]\ntype = \"probe\"\n";

    fn from_config(config: ConnectionConfig) -> Result<Self> {
        let counts = counts(config.name());
        if let Some(ms) = config.get_as::<u64>("build_ms")? {
            std::thread::sleep(Duration::from_millis(ms));
        }
        let fail_first: usize = config.get_as("fail_first")?.unwrap_or(0);
        let attempt = counts.builds.fetch_add(1, Ordering::SeqCst);
        if attempt < fail_first {
            return Err(Error::InvalidArgument(format!(
                "probe build {attempt} fails"
            )));
        }
        Ok(Probe { config, counts })
    }

    fn reset(&self) {
        self.counts.resets.fetch_add(1, Ordering::SeqCst);
    }

    fn close(&self) {
        self.counts.closes.fetch_add(1, Ordering::SeqCst);
    }
}

/// A second type, to test resolution between types.
#[derive(Debug)]
pub(crate) struct Other;

impl ConnectionType for Other {
    const NAME: &'static str = "other";
    const DESCRIPTION: &'static str = "another test type";
    const EXAMPLE_TOML: &'static str = "";

    fn from_config(_: ConnectionConfig) -> Result<Self> {
        Ok(Other)
    }

    fn reset(&self) {}

    fn close(&self) {}
}

/// A registry holding `probe` and `other`.
pub(crate) fn registry() -> &'static Registry {
    static REGISTRY: LazyLock<Registry> = LazyLock::new(|| {
        let registry = Registry::empty();
        registry.register::<Probe>();
        registry.register::<Other>();
        registry.register::<Echo>();
        registry
    });
    &REGISTRY
}

/// A type built on [`Base`](crate::plugin::Base): its raw connection is the value of its
/// `v` key at connect time, so a test can see which configuration a connect used.
#[derive(Debug)]
pub(crate) struct Echo {
    pub(crate) base: crate::plugin::Base<EchoConnector>,
}

#[derive(Debug)]
pub(crate) struct EchoConnector {
    v: i64,
}

impl crate::plugin::Connector for EchoConnector {
    type Raw = i64;

    fn from_config(config: &ConnectionConfig) -> Result<Self> {
        config.check_keys(&["v"])?;
        Ok(EchoConnector {
            v: config.get_as("v")?.unwrap_or(0),
        })
    }

    async fn connect(&self) -> Result<i64> {
        Ok(self.v)
    }
}

impl ConnectionType for Echo {
    const NAME: &'static str = "echo";
    const DESCRIPTION: &'static str = "a Base-built type for conn-core's tests";
    const EXAMPLE_TOML: &'static str = "";

    fn from_config(config: ConnectionConfig) -> Result<Self> {
        Ok(Echo {
            base: crate::plugin::Base::new(&config, Self::NAME)?,
        })
    }

    fn reset(&self) {
        self.base.reset();
    }

    fn close(&self) {
        self.base.close();
    }
}
