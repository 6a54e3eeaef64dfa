//! The `files` connection's configuration: the protocol, the root, and credentials in
//! s3fs/gcsfs/adlfs form (what Streamlit users already have) or object_store's own.

use std::collections::BTreeMap;

use conn_core::{
    ConnectionConfig, Env, Error, Kind, Map, Result, RetryPolicy, Secret, Source, Value,
};

/// Where the files live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// The local file system (`file`, `local`).
    Local,
    /// An in-memory store private to the connection (`memory`).
    Memory,
    /// Amazon S3 or any S3-compatible server (`s3`, `s3a`).
    S3,
    /// Google Cloud Storage (`gs`, `gcs`).
    Gcs,
    /// Azure Blob Storage / Data Lake (`az`, `abfs`, `abfss`, `adl`).
    Azure,
    /// Plain HTTP(S) (`http`, `https`).
    Http,
}

/// Every protocol name, for messages and for inferring the protocol from a name.
pub(crate) const PROTOCOL_NAMES: &[&str] = &[
    "file", "local", "memory", "s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "http",
    "https",
];

impl Protocol {
    /// The protocol a name stands for, if any.
    pub fn from_name(name: &str) -> Option<Protocol> {
        Some(match name.to_ascii_lowercase().as_str() {
            "file" | "local" => Protocol::Local,
            "memory" => Protocol::Memory,
            "s3" | "s3a" => Protocol::S3,
            "gs" | "gcs" => Protocol::Gcs,
            "az" | "abfs" | "abfss" | "adl" | "azure" => Protocol::Azure,
            "http" | "https" => Protocol::Http,
            _ => return None,
        })
    }

    /// The object_store feature (of `conn-files`) the protocol needs.
    pub(crate) fn feature(self) -> Option<&'static str> {
        match self {
            Protocol::S3 => Some("aws"),
            Protocol::Gcs => Some("gcp"),
            Protocol::Azure => Some("azure"),
            Protocol::Http => Some("http"),
            Protocol::Local | Protocol::Memory => None,
        }
    }

    /// Whether the first segment of a path names a bucket or container.
    pub(crate) fn has_buckets(self) -> bool {
        matches!(self, Protocol::S3 | Protocol::Gcs | Protocol::Azure)
    }
}

/// The fields of a Google service account key, which Streamlit's GCS setup puts in the
/// section itself.
const SERVICE_ACCOUNT_FIELDS: &[&str] = &[
    "project_id",
    "private_key_id",
    "private_key",
    "client_email",
    "client_id",
    "auth_uri",
    "token_uri",
    "auth_provider_x509_cert_url",
    "client_x509_cert_url",
    "universe_domain",
];

/// Keys every protocol accepts.
const COMMON_KEYS: &[&str] = &["protocol", "root", "bucket", RetryPolicy::CONFIG_KEY];

/// s3fs-style keys and the object_store keys they stand for.
const S3FS_KEYS: &[(&str, &str)] = &[
    ("key", "aws_access_key_id"),
    ("secret", "aws_secret_access_key"),
    ("token", "aws_session_token"),
    ("endpoint_url", "aws_endpoint"),
    ("region", "aws_region"),
    ("region_name", "aws_region"),
];

/// adlfs-style keys and the object_store keys they stand for.
const ADLFS_KEYS: &[(&str, &str)] = &[
    ("account_name", "azure_storage_account_name"),
    ("account_key", "azure_storage_account_key"),
    ("sas_token", "azure_storage_sas_key"),
    ("tenant_id", "azure_storage_tenant_id"),
    ("client_id", "azure_storage_client_id"),
    ("client_secret", "azure_storage_client_secret"),
];

/// Environment variables read as the data source's own configuration (lowest
/// precedence), with the object_store key each sets.
const NATIVE_ENV: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "aws_access_key_id"),
    ("AWS_SECRET_ACCESS_KEY", "aws_secret_access_key"),
    ("AWS_SESSION_TOKEN", "aws_session_token"),
    ("AWS_DEFAULT_REGION", "aws_region"),
    ("AWS_REGION", "aws_region"),
    ("AWS_ENDPOINT_URL", "aws_endpoint"),
    ("AWS_ENDPOINT", "aws_endpoint"),
    ("AWS_ALLOW_HTTP", "aws_allow_http"),
    ("GOOGLE_SERVICE_ACCOUNT", "google_service_account"),
    (
        "GOOGLE_APPLICATION_CREDENTIALS",
        "google_application_credentials",
    ),
    ("AZURE_STORAGE_ACCOUNT_NAME", "azure_storage_account_name"),
    ("AZURE_STORAGE_ACCOUNT_KEY", "azure_storage_account_key"),
    ("AZURE_STORAGE_SAS_TOKEN", "azure_storage_sas_key"),
];

/// The `AWS_*`, `GOOGLE_*` and `AZURE_*` variables, as a configuration layer.
pub(crate) fn native_layer(env: &Env) -> Map {
    let mut layer = Map::new();
    for (var, key) in NATIVE_ENV {
        if let Some(value) = env.get(var).filter(|v| !v.is_empty()) {
            layer.insert(
                (*key).to_owned(),
                Value::new(Kind::String(value), Source::native(var)),
            );
        }
    }
    layer
}

/// The resolved configuration of one `files` connection.
/// `Debug` shows the option keys, never their values (some are credentials).
#[derive(Clone)]
pub(crate) struct FilesConfig {
    pub(crate) protocol: Protocol,
    /// The bucket or container every path is in, when fixed by `root` or `bucket`.
    pub(crate) bucket: Option<String>,
    /// A prefix every path is under (a folder, a key prefix, a base URL).
    pub(crate) prefix: String,
    /// Store options in object_store's key names, each a [`Secret`] (some are
    /// credentials).
    pub(crate) options: BTreeMap<String, Secret>,
    /// The `root` (or `bucket`) as configured, for errors; `None` when paths are not
    /// confined (no `root`, no `bucket`).
    pub(crate) root: Option<String>,
    /// The `retry` section, applied to object_store's per-request retries.
    #[cfg_attr(
        not(any(feature = "aws", feature = "gcp", feature = "azure", feature = "http")),
        allow(dead_code)
    )]
    pub(crate) store_retry: RetryPolicy,
}

impl std::fmt::Debug for FilesConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilesConfig")
            .field("protocol", &self.protocol)
            .field("bucket", &self.bucket)
            .field("option_keys", &self.options.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn scalar(config: &ConnectionConfig, key: &str, value: &Value) -> Result<String> {
    match value.kind() {
        Kind::String(s) => Ok(s.clone()),
        Kind::Integer(i) => Ok(i.to_string()),
        Kind::Float(f) => Ok(f.to_string()),
        Kind::Boolean(b) => Ok(b.to_string()),
        _ => config
            .get_as::<String>(key)
            .map(Option::unwrap_or_default)
            .map_err(|_| config.invalid_value(key, "expected a string, number or boolean")),
    }
}

/// Whether object_store knows `key` for `protocol`.
fn is_store_key(protocol: Protocol, key: &str) -> bool {
    // Without a remote backend compiled in, no key is a store key.
    let _ = key;
    match protocol {
        #[cfg(feature = "aws")]
        Protocol::S3 => key.parse::<object_store::aws::AmazonS3ConfigKey>().is_ok(),
        #[cfg(feature = "gcp")]
        Protocol::Gcs => key.parse::<object_store::gcp::GoogleConfigKey>().is_ok(),
        #[cfg(feature = "azure")]
        Protocol::Azure => key.parse::<object_store::azure::AzureConfigKey>().is_ok(),
        #[cfg(feature = "http")]
        Protocol::Http => key.parse::<object_store::ClientConfigKey>().is_ok(),
        _ => false,
    }
}

/// The friendly keys of a protocol.
fn friendly_keys(protocol: Protocol) -> &'static [(&'static str, &'static str)] {
    match protocol {
        Protocol::S3 => S3FS_KEYS,
        Protocol::Azure => ADLFS_KEYS,
        _ => &[],
    }
}

impl FilesConfig {
    pub(crate) fn from_config(config: &ConnectionConfig) -> Result<Self> {
        let protocol = match config.get_as::<String>("protocol")? {
            Some(name) => Protocol::from_name(&name).ok_or_else(|| {
                let hint = conn_core::plugin::did_you_mean(&name, PROTOCOL_NAMES)
                    .map_or_else(|| ".".to_owned(), |s| format!("; did you mean \"{s}\"?"));
                config.invalid_value(
                    "protocol",
                    format!(
                        "unknown protocol \"{name}\"{hint} Supported: {}",
                        PROTOCOL_NAMES.join(", ")
                    ),
                )
            })?,
            // As in st-files-connection: a connection named after a protocol uses it.
            None => Protocol::from_name(config.name()).unwrap_or(Protocol::Local),
        };
        if let Some(feature) = protocol.feature()
            && !compiled(protocol)
        {
            return Err(Error::InvalidArgument(format!(
                "the {} protocol of conn-files is not compiled in: enable the `files-{feature}` \
                 (or `files`) feature of `conn`",
                protocol_label(protocol)
            )));
        }

        let service_account = protocol == Protocol::Gcs && config.get("private_key").is_some();
        let mut options = BTreeMap::new();
        for (key, value) in config.values() {
            if COMMON_KEYS.contains(&key.as_str()) || key == "type" {
                continue;
            }
            if service_account && SERVICE_ACCOUNT_FIELDS.contains(&key.as_str()) {
                continue;
            }
            let native = matches!(value.source(), Source::Native { .. });
            if key == "client_kwargs" && protocol == Protocol::S3 {
                for nested in ["region_name", "endpoint_url"] {
                    let dotted = format!("client_kwargs.{nested}");
                    if let Some(inner) = config.get(&dotted) {
                        let target = if nested == "region_name" {
                            "aws_region"
                        } else {
                            "aws_endpoint"
                        };
                        options.insert(target.to_owned(), scalar(config, &dotted, inner)?);
                    }
                }
                continue;
            }
            if key == "anon" && protocol == Protocol::S3 {
                if config.get_as::<bool>("anon")?.unwrap_or(false) {
                    options.insert("aws_skip_signature".into(), "true".into());
                }
                continue;
            }
            if protocol == Protocol::Gcs && key == "token" {
                // gcsfs: `token` is a path or a table (handled below).
                continue;
            }
            if let Some((_, target)) = friendly_keys(protocol).iter().find(|(k, _)| k == key) {
                options.insert((*target).to_owned(), scalar(config, key, value)?);
                continue;
            }
            if is_store_key(protocol, key) {
                options
                    .entry(key.to_ascii_lowercase())
                    .or_insert(scalar(config, key, value)?);
                continue;
            }
            if native {
                // Another protocol's environment variable: not ours to judge.
                continue;
            }
            let mut known: Vec<&str> = COMMON_KEYS.to_vec();
            known.extend(friendly_keys(protocol).iter().map(|(k, _)| *k));
            if protocol == Protocol::S3 {
                known.extend(["client_kwargs", "anon"]);
            }
            let mut sorted: Vec<String> = known.iter().map(|k| (*k).to_owned()).collect();
            sorted.sort();
            return Err(conn_core::ConfigError::UnknownKey {
                connection: config.name().to_owned(),
                type_name: "files".into(),
                key: key.clone(),
                at: value.source().clone(),
                suggestion: conn_core::plugin::did_you_mean(key, &known).map(str::to_owned),
                known: sorted,
            }
            .into());
        }
        if protocol == Protocol::Gcs {
            gcs_service_account(config, &mut options)?;
        }
        // A local S3-compatible endpoint speaks plain HTTP.
        if options
            .get("aws_endpoint")
            .is_some_and(|e| e.starts_with("http://"))
        {
            options
                .entry("aws_allow_http".into())
                .or_insert_with(|| "true".into());
        }

        let (bucket, prefix) = root(config, protocol)?;
        let root = match (
            config.get_as::<String>("root")?.filter(|r| !r.is_empty()),
            &bucket,
        ) {
            (Some(root), _) => Some(root),
            (None, Some(bucket)) => Some(format!("{}://{bucket}", protocol_label(protocol))),
            (None, None) => None,
        };
        Ok(FilesConfig {
            protocol,
            bucket,
            prefix,
            options: options
                .into_iter()
                .map(|(key, value)| (key, Secret::new(value)))
                .collect(),
            root,
            store_retry: RetryPolicy::from_config(config)?,
        })
    }
}

fn compiled(protocol: Protocol) -> bool {
    match protocol {
        Protocol::S3 => cfg!(feature = "aws"),
        Protocol::Gcs => cfg!(feature = "gcp"),
        Protocol::Azure => cfg!(feature = "azure"),
        Protocol::Http => cfg!(feature = "http"),
        Protocol::Local | Protocol::Memory => true,
    }
}

pub(crate) fn protocol_label(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Local => "file",
        Protocol::Memory => "memory",
        Protocol::S3 => "s3",
        Protocol::Gcs => "gcs",
        Protocol::Azure => "azure",
        Protocol::Http => "http",
    }
}

/// gcsfs credentials: `token` as a path or a table, or the section itself when it is
/// a service account key (Streamlit's documented GCS setup).
fn gcs_service_account(
    config: &ConnectionConfig,
    options: &mut BTreeMap<String, String>,
) -> Result<()> {
    if let Some(token) = config.get("token") {
        match token.kind() {
            Kind::String(path) => {
                options.insert("google_service_account_path".into(), path.clone());
            }
            Kind::Table(map) => {
                options.insert(
                    "google_service_account_key".into(),
                    conn_core::plugin::map_to_json(map).to_string(),
                );
            }
            _ => return Err(config.invalid_value("token", "expected a path or a table")),
        }
    } else if config.get("private_key").is_some() {
        let key: Map = config
            .values()
            .iter()
            .filter(|(k, _)| *k == "type" || SERVICE_ACCOUNT_FIELDS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        options.insert(
            "google_service_account_key".into(),
            conn_core::plugin::map_to_json(&key).to_string(),
        );
    }
    Ok(())
}

/// `root` (or `bucket`): the bucket and the prefix every path is under.
fn root(config: &ConnectionConfig, protocol: Protocol) -> Result<(Option<String>, String)> {
    let root = config.get_as::<String>("root")?.unwrap_or_default();
    let bucket = config.get_as::<String>("bucket")?;
    let without_scheme = match root.split_once("://") {
        Some((_, rest)) if protocol != Protocol::Http => rest.to_owned(),
        _ => root.clone(),
    };
    if protocol.has_buckets() {
        let trimmed = without_scheme.trim_matches('/');
        return Ok(match (bucket, trimmed.split_once('/')) {
            (Some(bucket), _) => (Some(bucket), trimmed.to_owned()),
            (None, Some((bucket, prefix))) => (Some(bucket.to_owned()), prefix.to_owned()),
            (None, None) if !trimmed.is_empty() => (Some(trimmed.to_owned()), String::new()),
            (None, None) => (None, String::new()),
        });
    }
    Ok((None, root))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str, toml: &str) -> Result<FilesConfig> {
        let config = ConnectionConfig::from_toml(name, "files", toml, "/s.toml")?;
        FilesConfig::from_config(&config)
    }

    #[test]
    fn protocol_from_key_then_name_then_local() {
        assert_eq!(
            parse("x", "protocol = \"s3\"").unwrap().protocol,
            Protocol::S3
        );
        assert_eq!(parse("memory", "").unwrap().protocol, Protocol::Memory);
        assert_eq!(parse("s3", "").unwrap().protocol, Protocol::S3);
        assert_eq!(parse("mydata", "").unwrap().protocol, Protocol::Local);
        let err = parse("x", "protocol = \"memroy\"").unwrap_err().to_string();
        assert!(
            err.contains("unknown protocol \"memroy\"; did you mean \"memory\"? Supported: file,"),
            "{err}"
        );
        let err = parse("x", "protocol = \"ftp\"").unwrap_err().to_string();
        assert!(
            err.contains("unknown protocol \"ftp\". Supported: file,"),
            "{err}"
        );
    }

    #[test]
    fn s3fs_keys_map_to_object_store_keys() {
        let c = parse(
            "s3",
            "key = \"AKIA\"\nsecret = \"shh\"\nendpoint_url = \"http://127.0.0.1:5000\"\n\
             client_kwargs = { region_name = \"eu-west-1\" }\nroot = \"s3://bucket/some/prefix\"\n\
             aws_virtual_hosted_style_request = false",
        )
        .unwrap();
        assert_eq!(c.options["aws_access_key_id"].expose(), "AKIA");
        assert_eq!(c.options["aws_secret_access_key"].expose(), "shh");
        assert_eq!(c.options["aws_region"].expose(), "eu-west-1");
        assert_eq!(c.options["aws_allow_http"].expose(), "true");
        assert_eq!(
            c.options["aws_virtual_hosted_style_request"].expose(),
            "false"
        );
        assert_eq!(
            (c.bucket.as_deref(), c.prefix.as_str()),
            (Some("bucket"), "some/prefix")
        );
    }

    #[test]
    fn unknown_keys_get_a_did_you_mean() {
        let err = parse("s3", "secert = \"x\"").unwrap_err().to_string();
        assert!(
            err.starts_with(
                "unknown key `secert` for connection \"s3\" (type files) at /s.toml:1:10; did you \
                 mean \"secret\"?"
            ),
            "{err}"
        );
    }

    #[test]
    #[cfg(feature = "gcp")]
    fn streamlit_gcs_sections_become_a_service_account_key() {
        let c = parse(
            "gcs",
            "type = \"service_account\"\nproject_id = \"p\"\nprivate_key = \"-----BEGIN\"\nclient_email = \"a@b\"",
        );
        let c = c.unwrap();
        let key: serde_json::Value =
            serde_json::from_str(c.options["google_service_account_key"].expose()).unwrap();
        assert_eq!(key["type"], "service_account");
        assert_eq!(key["client_email"], "a@b");
    }
}
