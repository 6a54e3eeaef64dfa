//! The Snowflake REST client: login, requests with the session token, renewal of an
//! expired token, retries that resend the same request id (so the server never runs a
//! statement twice), keep-alive heartbeats and close.

mod chunks;
mod query;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use conn_core::{Error, Result, Secret};
use parking_lot::{Mutex, RwLock};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::auth;
use crate::classify::Ctx;
use crate::config::Settings;
use crate::protocol::{self, Answer, ErrorData, LoginData, RenewData};

pub(crate) use query::{QueryOutcome, QueryRequest};

/// How many times one request is sent in all when the network or the server fails.
const SEND_ATTEMPTS: u32 = 5;
/// The first wait between two sends; it doubles each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// How many times one request renews the session (or logs in again) before failing.
const RENEWALS: u32 = 2;

/// A logged-in Snowflake session: what a `snowflake` connection holds. Cheap to clone
/// (shared). Dropping the last clone closes the session on the server.
///
/// Queries go through [`SnowflakeConnection`](crate::SnowflakeConnection); the client is
/// there for what conn does not wrap ([`post`](Self::post)).
#[derive(Clone)]
pub struct SnowflakeClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    settings: Arc<Settings>,
    ctx: Ctx,
    tokens: RwLock<Arc<Tokens>>,
    /// Held while renewing or logging in again: one renewal for every request that
    /// found the token expired.
    renewing: tokio::sync::Mutex<()>,
    sequence: AtomicU64,
    /// The session's TIMEZONE parameter, for TIMESTAMP_LTZ results.
    timezone: RwLock<Option<String>>,
    heartbeat: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// No new statement may start (statements under way finish; the session is closed
    /// on the server when the last clone is dropped).
    closed: AtomicBool,
    /// Whether a session whose renewal failed may be replaced by a new login. Only the
    /// connection's own client may: a [`Session`](crate::Session) or a write holds a
    /// transaction that a new login would silently lose.
    relogin: bool,
}

/// The session's tokens; `generation` counts renewals and logins.
struct Tokens {
    session: Secret,
    master: Option<Secret>,
    generation: u64,
}

/// Which token a request carries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token {
    None,
    Session,
    Master,
}

impl fmt::Debug for SnowflakeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnowflakeClient")
            .field("connection", &self.inner.ctx.name)
            .field("url", &self.inner.settings.base_url)
            .field("closed", &self.inner.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl SnowflakeClient {
    /// Logs in with `settings`. With `relogin`, a session whose renewal fails is replaced
    /// by a new login (for the connection's own client, which holds no transaction).
    pub(crate) async fn login(
        settings: Arc<Settings>,
        ctx: Ctx,
        relogin: bool,
    ) -> Result<SnowflakeClient> {
        let http = reqwest::Client::builder()
            .connect_timeout(settings.network_timeout.min(Duration::from_secs(30)))
            .user_agent(concat!("conn/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ctx.transport_error("building the HTTP client", e, true))?;
        let inner = Arc::new(Inner {
            http,
            settings,
            ctx,
            tokens: RwLock::new(Arc::new(Tokens {
                session: Secret::from(String::new()),
                master: None,
                generation: 0,
            })),
            renewing: tokio::sync::Mutex::new(()),
            sequence: AtomicU64::new(0),
            timezone: RwLock::new(None),
            heartbeat: Mutex::new(None),
            closed: AtomicBool::new(false),
            relogin,
        });
        let client = SnowflakeClient { inner };
        client.log_in().await?;
        if client.inner.settings.keep_alive {
            client.start_heartbeat();
        }
        Ok(client)
    }

    /// The connection's name and secret-removal, for errors.
    pub(crate) fn ctx(&self) -> &Ctx {
        &self.inner.ctx
    }

    /// The connection's settings.
    pub(crate) fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The session's TIMEZONE parameter, as the server last reported it.
    pub(crate) fn timezone(&self) -> Option<String> {
        self.inner.timezone.read().clone()
    }

    /// Records the session's TIMEZONE parameter from an answer.
    pub(crate) fn set_timezone(&self, zone: String) {
        *self.inner.timezone.write() = Some(zone);
    }

    /// The next statement's sequence number in this session.
    pub(crate) fn next_sequence(&self) -> u64 {
        self.inner.sequence.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The raw HTTP client (chunk downloads).
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// Sends a JSON `body` to `path` (with its query string, `requestId` added) with
    /// the session token, and returns the answer's `data` when it says success: for
    /// endpoints conn does not wrap.
    pub async fn post(&self, path: &str, body: Value) -> Result<Value> {
        self.check_open()?;
        let answer = self
            .request(
                Method::POST,
                path,
                Some(&body),
                Uuid::new_v4(),
                Token::Session,
                "request",
            )
            .await?;
        self.check(answer, "request").map(|(data, _)| data)
    }

    /// The failure of an answer that is not `success`, or its `data` and code.
    pub(crate) fn check(&self, answer: Answer, doing: &str) -> Result<(Value, Option<String>)> {
        if answer.success {
            return Ok((answer.data, answer.code));
        }
        let details: ErrorData = serde_json::from_value(answer.data).unwrap_or_default();
        Err(self.inner.ctx.server_error(
            doing,
            answer.code.as_deref(),
            answer.message.as_deref(),
            details.sql_state.as_deref(),
            details.query_id.as_deref(),
        ))
    }

    /// Logs in (again), within `login_timeout`: new tokens for every later request.
    async fn log_in(&self) -> Result<()> {
        let limit = self.inner.settings.login_timeout;
        tokio::time::timeout(limit, self.log_in_now())
            .await
            .map_err(|_| {
                Error::Timeout(Box::new(conn_core::TimeoutError {
                    connection: self.inner.ctx.name.to_string(),
                    operation: "login".into(),
                    after: limit,
                    limit: conn_core::Limit::Setting {
                        key: "login_timeout",
                        at: self.inner.settings.login_timeout_at.clone(),
                    },
                }))
            })?
    }

    async fn log_in_now(&self) -> Result<()> {
        let settings = &self.inner.settings;
        let mut data = serde_json::Map::new();
        data.insert("CLIENT_APP_ID".into(), "conn".into());
        data.insert(
            "CLIENT_APP_VERSION".into(),
            env!("CARGO_PKG_VERSION").into(),
        );
        data.insert("ACCOUNT_NAME".into(), settings.account_name.clone().into());
        if !settings.user.is_empty() {
            data.insert("LOGIN_NAME".into(), settings.user.clone().into());
        }
        data.insert(
            "CLIENT_ENVIRONMENT".into(),
            json!({ "APPLICATION": "conn", "OS": std::env::consts::OS }),
        );
        if !settings.session_parameters.is_empty() {
            data.insert(
                "SESSION_PARAMETERS".into(),
                Value::Object(settings.session_parameters.clone()),
            );
        }
        auth::add_credentials(settings, &mut data)?;
        let body = json!({ "data": data });
        let path = login_path(settings);
        let answer = self
            .request(
                Method::POST,
                &path,
                Some(&body),
                Uuid::new_v4(),
                Token::None,
                "login",
            )
            .await?;
        let (data, _) = self.check(answer, "login")?;
        let login: LoginData = serde_json::from_value(data).map_err(|e| {
            self.inner
                .ctx
                .protocol_error("login", format!("unreadable login answer: {e}"))
        })?;
        let session = login.token.ok_or_else(|| {
            self.inner
                .ctx
                .protocol_error("login", "the login answer has no session token")
        })?;
        if let Some(zone) = protocol::timezone(&login.parameters) {
            *self.inner.timezone.write() = Some(zone);
        }
        let generation = self.inner.tokens.read().generation + 1;
        *self.inner.tokens.write() = Arc::new(Tokens {
            session,
            master: login.master_token,
            generation,
        });
        tracing::debug!(connection = %self.inner.ctx.name, "conn.snowflake: logged in");
        Ok(())
    }

    /// Renews the session token after `seen` expired: with the master token, or by
    /// logging in again when that fails. Concurrent callers renew once.
    async fn renew(&self, seen: u64) -> Result<()> {
        let _renewing = self.inner.renewing.lock().await;
        let current = Arc::clone(&self.inner.tokens.read());
        if current.generation != seen {
            return Ok(()); // Someone else renewed while we waited.
        }
        if let Some(master) = &current.master {
            let body =
                json!({ "oldSessionToken": current.session.expose(), "requestType": "RENEW" });
            let answer = self
                .request(
                    Method::POST,
                    "/session/token-request",
                    Some(&body),
                    Uuid::new_v4(),
                    Token::Master,
                    "renewing the session",
                )
                .await;
            if let Ok(answer) = &answer
                && answer.code.as_deref() == Some(protocol::MASTER_TOKEN_EXPIRED)
            {
                tracing::debug!(connection = %self.inner.ctx.name, "conn.snowflake: the master token expired");
            }
            if let Ok(answer) = answer
                && answer.success
                && let Ok(renewed) = serde_json::from_value::<RenewData>(answer.data)
                && let Some(session) = renewed.session_token
            {
                *self.inner.tokens.write() = Arc::new(Tokens {
                    session,
                    master: renewed.master_token.or_else(|| Some(master.clone())),
                    generation: seen + 1,
                });
                tracing::debug!(connection = %self.inner.ctx.name, "conn.snowflake: session token renewed");
                return Ok(());
            }
        }
        if !self.inner.relogin || self.inner.closed.load(Ordering::Acquire) {
            // A new login would be a new session: the transaction and temporary tables
            // of this one would be gone without a word.
            return Err(Error::Driver(Box::new(
                conn_core::DriverError::new(
                    self.inner.ctx.context("renewing the session"),
                    conn_core::ErrorClass::Stale,
                    "the session expired and could not be renewed; its transaction and \
                     temporary tables are gone (nothing of its uncommitted work was committed)",
                )
                .with_kind(conn_core::ErrorKind::Stale)
                .with_code(protocol::SESSION_EXPIRED),
            )));
        }
        tracing::debug!(connection = %self.inner.ctx.name, "conn.snowflake: renewal failed, logging in again");
        self.log_in().await
    }

    /// Sends one request: retried with the same `request_id` (and `retry=true`) when
    /// the network or the server fails, and sent again after renewing the session when
    /// the token expired.
    pub(crate) async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        request_id: Uuid,
        token: Token,
        doing: &str,
    ) -> Result<Answer> {
        let mut renewals = 0;
        let mut attempt = 0;
        // Whether an attempt may have reached the server: then a later failure to
        // connect does not make the request one that was never sent.
        let mut reached = false;
        loop {
            let tokens = Arc::clone(&self.inner.tokens.read());
            let answer = self
                .send(
                    method.clone(),
                    path,
                    body,
                    request_id,
                    token,
                    &tokens,
                    Attempt {
                        number: attempt,
                        reached,
                    },
                    doing,
                )
                .await;
            attempt += 1;
            if let Err(Failure::Retry(err) | Failure::Fatal(err)) = &answer {
                reached |= err.may_have_reached_server();
            }
            let answer = match answer {
                Ok(answer) => answer,
                Err(Failure::Retry(err)) if attempt < SEND_ATTEMPTS => {
                    let wait = FIRST_BACKOFF * 2_u32.pow(attempt - 1);
                    tracing::debug!(connection = %self.inner.ctx.name, %err, ?wait, "conn.snowflake: sending again");
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Err(Failure::Retry(err) | Failure::Fatal(err)) => return Err(err),
            };
            let expired = matches!(
                answer.code.as_deref(),
                Some(protocol::SESSION_EXPIRED | protocol::SESSION_GONE)
            ) || answer
                .code
                .as_deref()
                .is_some_and(|c| protocol::TOKEN_INVALID.contains(&c));
            if !answer.success && expired && token == Token::Session && renewals < RENEWALS {
                renewals += 1;
                // Boxed: renewing sends requests of its own. A failure after an
                // earlier send reached the server leaves the request's outcome unknown.
                let renewed = Box::pin(self.renew(tokens.generation)).await;
                // Without an earlier send that may have reached it, the server answered
                // "expired" and ran nothing.
                renewed.map_err(|err| {
                    if reached {
                        err.after_send()
                    } else {
                        err.not_applied()
                    }
                })?;
                continue;
            }
            return Ok(answer);
        }
    }

    /// One send of a request.
    #[allow(clippy::too_many_arguments)]
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        request_id: Uuid,
        token: Token,
        tokens: &Tokens,
        attempt: Attempt,
        doing: &str,
    ) -> std::result::Result<Answer, Failure> {
        let ctx = &self.inner.ctx;
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut url = format!(
            "{}{path}{separator}requestId={request_id}&request_guid={}",
            self.inner.settings.base_url,
            Uuid::new_v4()
        );
        if attempt.number > 0 {
            url.push_str(&format!("&retry=true&retryCount={}", attempt.number));
        }
        let mut request = self
            .inner
            .http
            .request(method, &url)
            .timeout(self.inner.settings.network_timeout)
            .header("Accept", "application/snowflake")
            .header("Content-Type", "application/json");
        let secret = match token {
            Token::None => None,
            Token::Session => Some(&tokens.session),
            Token::Master => tokens.master.as_ref(),
        };
        if let Some(secret) = secret {
            request = request.header("Authorization", authorization(secret));
        }
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => {
                let before_send = err.is_connect() && !attempt.reached;
                return Err(Failure::Retry(ctx.transport_error(doing, err, before_send)));
            }
        };
        let status = response.status();
        let text = match response.text().await {
            Ok(text) => text,
            Err(err) => return Err(Failure::Retry(ctx.transport_error(doing, err, false))),
        };
        if !status.is_success() {
            let err = ctx.status_error(doing, status, &text);
            let retry = status.is_server_error()
                || status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::REQUEST_TIMEOUT;
            return Err(if retry {
                Failure::Retry(err)
            } else {
                Failure::Fatal(err)
            });
        }
        serde_json::from_str::<Answer>(&text).map_err(|e| {
            Failure::Fatal(
                ctx.protocol_error(doing, format!("the answer is not Snowflake JSON: {e}")),
            )
        })
    }

    /// Sends a heartbeat every `heartbeat_every`, until the client is dropped or closed.
    fn start_heartbeat(&self) {
        let weak = Arc::downgrade(&self.inner);
        let every = self.inner.settings.heartbeat_every;
        let Ok(runtime) = conn_core::plugin::runtime::handle() else {
            return;
        };
        let task = runtime.spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(inner) = weak.upgrade() else { return };
                if inner.closed.load(Ordering::Acquire) {
                    return;
                }
                let client = SnowflakeClient { inner };
                let sent = client
                    .request(Method::POST, "/session/heartbeat", Some(&json!({})), Uuid::new_v4(), Token::Session, "heartbeat")
                    .await;
                if let Err(err) = sent {
                    tracing::warn!(connection = %client.inner.ctx.name, %err, "conn.snowflake: heartbeat failed");
                }
            }
        });
        *self.inner.heartbeat.lock() = Some(task);
    }

    /// Stops new statements; the session is closed on the server once statements
    /// under way have ended (when the last clone of the client is dropped). Never
    /// waits for the network. (Not public: the connection's own client is shared, and
    /// closing it is the connection's `reset` or `close`.)
    pub(crate) fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        if let Some(task) = self.inner.heartbeat.lock().take() {
            task.abort();
        }
    }

    /// The error for a statement started after [`close`](Self::close).
    pub(crate) fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(Error::Closed {
                name: self.inner.ctx.name.to_string(),
            });
        }
        Ok(())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self.heartbeat.get_mut().take() {
            task.abort();
        }
        // Close the session on the server, in the background: the last user may be a
        // plain thread, and dropping must not wait for the network.
        let tokens = Arc::clone(&self.tokens.read());
        if tokens.generation == 0 {
            return;
        }
        let url = format!(
            "{}/session?delete=true&requestId={}",
            self.settings.base_url,
            Uuid::new_v4()
        );
        let request = self
            .http
            .post(url)
            .timeout(Duration::from_secs(5))
            .header("Accept", "application/snowflake")
            .header("Content-Type", "application/json")
            .header("Authorization", authorization(&tokens.session))
            .body("{}");
        conn_core::plugin::runtime::spawn_detached(async move {
            let _ = request.send().await;
        });
    }
}

/// The login request's path: where the session starts (database, schema, warehouse,
/// role) goes in its query string.
fn login_path(settings: &Settings) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in [
        ("databaseName", &settings.database),
        ("schemaName", &settings.schema),
        ("warehouse", &settings.warehouse),
        ("roleName", &settings.role),
    ] {
        if let Some(value) = value {
            query.append_pair(key, value);
        }
    }
    format!("/session/v1/login-request?{}", query.finish())
}

/// Which send of a request this is.
#[derive(Clone, Copy)]
struct Attempt {
    /// 0 for the first.
    number: u32,
    /// Whether an earlier send may have reached the server.
    reached: bool,
}

/// The `Authorization` header for `token`, marked sensitive (never in Debug output).
fn authorization(token: &Secret) -> reqwest::header::HeaderValue {
    let mut value =
        reqwest::header::HeaderValue::from_str(&format!("Snowflake Token=\"{}\"", token.expose()))
            .unwrap_or_else(|_| reqwest::header::HeaderValue::from_static(""));
    value.set_sensitive(true);
    value
}

/// Why a send failed: worth sending again, or not.
enum Failure {
    Retry(Error),
    Fatal(Error),
}
