//! The keys a `snowflake` connection reads, and the Python connector's keys it accepts
//! without effect.

/// Keys conn reads (besides `type` and the common `retry`, `timeout`, `connect_timeout`).
pub(crate) const KNOWN: &[&str] = &[
    "account",
    "user",
    "password",
    "authenticator",
    "token",
    "token_file_path",
    "private_key_file",
    "private_key_file_pwd",
    "private_key",
    "role",
    "warehouse",
    "database",
    "schema",
    "session_parameters",
    "timezone",
    "host",
    "port",
    "protocol",
    "login_timeout",
    "network_timeout",
    "query_timeout",
    "client_session_keep_alive",
    "client_session_keep_alive_heartbeat_frequency",
    "client_prefetch_threads",
    "connection_name",
    "write_chunk_rows",
    // Accepted and ignored: see IGNORED.
    "ocsp_fail_open",
    "insecure_mode",
    "disable_ocsp_checks",
    "paramstyle",
    "application",
    "autocommit",
    "validate_default_parameters",
    "client_store_temporary_credential",
    "client_request_mfa_token",
    "arrow_number_to_decimal",
    "region",
    "socket_timeout",
    "backoff_policy",
];

/// Keys the Python connector accepts that have no effect in conn, and why.
pub(crate) const IGNORED: &[(&str, &str)] = &[
    (
        "ocsp_fail_open",
        "certificates are checked by rustls against the system's roots; there is no OCSP step",
    ),
    (
        "insecure_mode",
        "certificates are always checked; there is no OCSP step to skip",
    ),
    (
        "disable_ocsp_checks",
        "certificates are checked by rustls; there is no OCSP step",
    ),
    (
        "paramstyle",
        "binds are always positional (`?` or `:1`), as Streamlit sets paramstyle = \"qmark\"",
    ),
    ("application", "conn identifies itself as conn"),
    (
        "autocommit",
        "statements outside a session() always commit; session() opens a transaction",
    ),
    (
        "validate_default_parameters",
        "the server checks database, schema and warehouse at login",
    ),
    (
        "client_store_temporary_credential",
        "interactive authenticators are not supported, so nothing is cached",
    ),
    (
        "client_request_mfa_token",
        "interactive authenticators are not supported, so nothing is cached",
    ),
    (
        "arrow_number_to_decimal",
        "NUMBER with a scale is always Decimal128, never float",
    ),
    ("socket_timeout", "use network_timeout"),
    ("backoff_policy", "retries follow conn's `retry` setting"),
];

/// Authenticators that need a person at a browser or a phone, which a server process
/// cannot be.
pub(crate) const INTERACTIVE: &[&str] = &[
    "externalbrowser",
    "username_password_mfa",
    "oauth_authorization_code",
    "oauth_client_credentials",
];

/// The authenticators conn supports, for messages.
pub(crate) const SUPPORTED_AUTH: &str = "snowflake (password, the default), snowflake_jwt \
     (key pair: private_key_file), oauth (token or token_file_path), \
     programmatic_access_token (token)";
