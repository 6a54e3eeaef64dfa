"""A Snowflake-protocol peer for conn-snowflake's tests: fakesnow's server, wrapped.

    python snowpeer.py --port P        # serves http://127.0.0.1:P

fakesnow (https://github.com/tekumara/fakesnow) answers the REST protocol of the Snowflake
drivers from DuckDB: login, query-request, session delete, heartbeat. This wrapper sits in
front of its Starlette app and adds what real Snowflake does and fakesnow does not, each
switched on by the tests over HTTP (JSON POST to /conn-test/..., answers JSON):

* its own session and master tokens (mapped to fakesnow's), so they can expire (390112,
  390114) and be renewed through /session/token-request;
* 333334 "in progress" answers polled at /queries/<id>/result, queries that hang until
  aborted through /queries/v1/abort-request;
* results split into Arrow chunks served like S3 serves them (SSE-C headers or qrmk,
  optionally gzipped without Content-Encoding);
* injected HTTP failures of query-requests, key-pair (JWT) and password checks;
* records of everything the client sent, secrets included (the tests check them).

Controls (all reset by POST /conn-test/reset; sessions and their tokens survive a reset):
  POST /conn-test/control  {"name": value, ...}   several at once
  POST /conn-test/<name>   value                  one (an empty body means true)
names: timezone, session_validity, master_validity, pending_polls, hang, chunk_rows,
chunk_mode, gzip, chunk_delay_ms, chunk_delay_reverse, answer_delay_ms, fail_next, expire_sessions, expire_masters, register_key,
set_password (see apply_control). Records: GET /conn-test/<kind> for kind in RECORD_KINDS,
GET /conn-test/records for all of them. GET /conn-test/ping answers once the peer is up.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import hashlib
import json
import re
import logging
import secrets
import time
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any

import fakesnow.server as fs
import jwt
import pyarrow as pa
import uvicorn
from cryptography.hazmat.primitives import serialization
from fakesnow.arrow import to_ipc
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# fakesnow's own advice to itself, printed on every query: noise in the tests' stderr.
warnings.filterwarnings("ignore", message="Arrow output on a DB-API result")

STARTED = time.monotonic()
RECORD_KINDS = ("logins", "queries", "polls", "chunks", "aborts", "heartbeats", "token-requests", "deletes")
DEFAULT_CONTROLS: dict[str, Any] = {
    "timezone": "America/Los_Angeles",  # TIMEZONE parameter of logins and query answers
    "session_validity": 3600,  # validityInSeconds of session tokens (informative only)
    "master_validity": 14400,  # masterValidityInSeconds (informative only)
    "pending_polls": 0,  # K: next query answers 333334, then K-1 polls more 333334
    "hang": False,  # next query-request blocks until aborted (then 000604)
    "chunk_rows": 0,  # N > 0: Arrow results longer than N rows are chunked by N
    "chunk_mode": "headers",  # "headers" (chunkHeaders) or "qrmk"
    "gzip": False,  # chunks gzipped (no Content-Encoding header, as S3 serves them)
    "chunk_delay_ms": 0,  # each chunk GET waits this long, to make concurrency visible
    "chunk_delay_reverse": False,  # later chunks wait less (n-th of N: delay * (N - n) / N)
    "answer_delay_ms": 0,  # a query answer waits this long after the statement ran
    "fail_next": None,  # {"count", "status", "after_run"}: next query-requests fail
    "keys": {},  # USER -> public key PEM (register_key)
    "passwords": {},  # USER -> password (set_password); other users log in with anything
}


def now() -> float:
    """Seconds since the peer started: the clock of every record."""
    return round(time.monotonic() - STARTED, 6)


def answer(data: Any = None, code: str | None = None, message: str | None = None, status: int = 200) -> JSONResponse:
    """A Snowflake-style answer: success is true exactly when there is no code."""
    success = code is None or code in ("333334", "333333")
    return JSONResponse({"data": data, "code": code, "message": message, "success": success}, status_code=status)


def error(code: str, message: str, sql_state: str | None = None, status: int = 200) -> JSONResponse:
    """A failure answer, shaped like the ones Snowflake sends for SQL errors."""
    data = {"errorCode": code, "sqlState": sql_state} if sql_state else None
    return answer(data, code, message, status)


EXPIRED = lambda: error("390112", "Your session has expired. Please login again.")  # noqa: E731
CANCELED = lambda: error("000604", "SQL execution canceled", "57014")  # noqa: E731


@dataclass
class Session:
    """One login: our session token's view of a fakesnow session."""

    fs_token: str  # fakesnow's own token for the session
    master: str  # our master token that renews it
    session_id: int
    expired: bool = False


@dataclass
class Master:
    """A master token: renews the session tokens of one login until it expires."""

    fs_token: str
    session_id: int
    current: str  # the session token issued last
    expired: bool = False


@dataclass
class Pending:
    """A query answered 333334 (or hanging): its final answer and what is left to wait."""

    request_id: str | None
    answer: dict[str, Any] | None  # None while a hanging query has not finished
    polls_left: int
    canceled: bool = False
    event: asyncio.Event = field(default_factory=asyncio.Event)


class State:
    """Everything the peer remembers. Controls and records go on reset; sessions stay."""

    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}
        self.masters: dict[str, Master] = {}
        self.next_session_id = 1000
        self.reset()

    def reset(self) -> None:
        for hanging in getattr(self, "pending", {}).values():  # released, as if aborted
            hanging.canceled = True
            hanging.event.set()
        self.controls: dict[str, Any] = json.loads(json.dumps(DEFAULT_CONTROLS))
        self.records: dict[str, list[dict[str, Any]]] = {k: [] for k in RECORD_KINDS}
        self.pending: dict[str, Pending] = {}  # by queryId
        self.answers: dict[str, tuple[str, dict[str, Any]]] = {}  # requestId -> (sqlText, answer)
        self.chunks: dict[str, tuple[dict[str, str], list[bytes]]] = {}  # id -> (headers, bodies)


state = State()


def apply_control(name: str, value: Any) -> None:
    """Sets control `name`, or performs the action it names. Raises KeyError/ValueError."""
    c = state.controls
    if name == "expire_sessions":  # every current session token answers 390112 from now on
        for s in state.sessions.values():
            s.expired = True
    elif name == "expire_masters":  # every current master token is refused with 390114
        for m in state.masters.values():
            m.expired = True
    elif name == "register_key":  # {"user", "public_key_pem"}: the key JWT logins must use
        c["keys"][value["user"].upper()] = value["public_key_pem"]
    elif name == "set_password":  # {"user", "password"}: password logins must match it
        c["passwords"][value["user"].upper()] = value["password"]
    elif name == "fail_next":  # {"count", "status", "after_run": false}
        c["fail_next"] = {"count": int(value["count"]), "status": int(value.get("status", 503)),
                          "after_run": bool(value.get("after_run", False))}
    elif name == "chunk_mode" and value not in ("headers", "qrmk"):
        raise ValueError("chunk_mode must be 'headers' or 'qrmk'")
    elif name in DEFAULT_CONTROLS and name not in ("keys", "passwords"):
        c[name] = value
    else:
        raise KeyError(name)


# ---- talking to fakesnow ---------------------------------------------------------------


class LastFailure(logging.Filter):
    """Keeps the exception fakesnow logged last, to say why it failed (its own 500 answer
    names only the statement). A filter, not a handler: fakesnow's logger shares its
    handler list with uvicorn's, which uvicorn replaces at startup."""

    text = ""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            LastFailure.text = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        return True


logging.getLogger("fakesnow.server").addFilter(LastFailure())


def unsupported(cause: str) -> JSONResponse:
    """What fakesnow cannot run (an unsupported type, a bind it cannot convert): HTTP 200
    and code 261000 with the cause, where fakesnow answers HTTP 500, which drivers retry."""
    return error("261000", f"fakesnow cannot run this statement: {cause}", "XX000")


async def read_json(request: Request) -> Any:
    """The request's JSON body, gunzipped when the client compressed it."""
    body = await request.body()
    if request.headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    return json.loads(body) if body else None


async def call_fakesnow(handler: Any, request: Request, body: Any, fs_token: str | None) -> tuple[int, Any]:
    """Runs one of fakesnow's handlers on `request` with `body` (plain JSON) and fakesnow's
    own session token; returns its HTTP status and JSON answer."""
    drop = (b"authorization", b"content-encoding", b"content-length")
    headers = [(k, v) for k, v in request.scope["headers"] if k not in drop]
    if fs_token is not None:
        headers.append((b"authorization", f'Snowflake Token="{fs_token}"'.encode()))
    raw = json.dumps(body).encode() if body is not None else b""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    response = await handler(Request(dict(request.scope, headers=headers), receive))
    return response.status_code, json.loads(response.body) if response.body else None


def bearer(request: Request) -> str:
    """The token of an `Authorization: Snowflake Token="..."` header ("" when absent)."""
    auth = request.headers.get("authorization", "")
    prefix = 'Snowflake Token="'
    return auth[len(prefix):-1] if auth.startswith(prefix) and auth.endswith('"') else ""


def session_of(request: Request) -> tuple[Session | None, JSONResponse | None]:
    """The request's session, or the answer refusing it (unknown: 390104, expired: 390112)."""
    token = bearer(request)
    if not token:
        return None, error("390103", "Session token not found in the request data.", status=401)
    s = state.sessions.get(token)
    if s is None:
        return None, error("390104", "User must login again to access the service.", status=401)
    if s.expired:
        return None, EXPIRED()
    return s, None


# ---- login and tokens ------------------------------------------------------------------


def key_fingerprint(public_key: Any) -> str:
    """SHA256:<base64 of the sha256 of the key's DER SubjectPublicKeyInfo>, as Snowflake
    shows it (RSA_PUBLIC_KEY_FP) and the JWT issuer must name it."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode()


def check_jwt(data: dict[str, Any]) -> str | None:
    """Why the key-pair login in `data` must be refused, or None when its JWT is good."""
    account = str(data.get("ACCOUNT_NAME", "")).split(".")[0].upper()
    user = str(data.get("LOGIN_NAME", "")).upper()
    pem = state.controls["keys"].get(user)
    if pem is None:
        return f"no key registered for {user}"
    key = serialization.load_pem_public_key(pem.encode())
    try:
        claims = jwt.decode(str(data.get("TOKEN", "")), key, algorithms=["RS256"],  # type: ignore[arg-type]
                            options={"require": ["exp", "iss", "sub"]})
    except jwt.PyJWTError as e:
        return f"{type(e).__name__}: {e}"
    if claims["iss"] != f"{account}.{user}.{key_fingerprint(key)}":
        return f"iss {claims['iss']!r} is not {account}.{user}.{key_fingerprint(key)}"
    if claims["sub"] != f"{account}.{user}":
        return f"sub {claims['sub']!r} is not {account}.{user}"
    return None


def issue_session(fs_token: str, master: str, session_id: int) -> str:
    """A new session token of ours for fakesnow's session `fs_token`."""
    token = "ST-" + secrets.token_urlsafe(24)
    state.sessions[token] = Session(fs_token, master, session_id)
    return token


async def login(request: Request) -> JSONResponse:
    """POST /session/v1/login-request: checks JWT/password, lets fakesnow open the session,
    answers with our tokens and the fields fakesnow leaves out."""
    body = await read_json(request) or {}
    data = body.setdefault("data", {})
    record: dict[str, Any] = {"t": now(), "query": dict(request.query_params), "body": body}
    state.records["logins"].append(record)
    user = str(data.get("LOGIN_NAME", "")).upper()
    if str(data.get("AUTHENTICATOR", "")).upper() == "SNOWFLAKE_JWT":
        if why := check_jwt(data):
            record["refused"] = why
            return error("390144", "JWT token is invalid.")
    elif user in state.controls["passwords"] and data.get("PASSWORD") != state.controls["passwords"][user]:
        record["refused"] = "wrong password"
        return error("390100", "Incorrect username or password was specified.")
    # fakesnow reads SESSION_PARAMETERS unconditionally; Snowflake does not require it.
    # FAKESNOW_DB_PATH in it (":isolated:") gives the session a database of its own.
    data.setdefault("SESSION_PARAMETERS", {})
    status, fs_answer = await call_fakesnow(fs.login_request, request, body, None)
    if status != 200 or not fs_answer.get("success"):
        return JSONResponse(fs_answer, status_code=status)
    fs_data = fs_answer["data"]
    state.next_session_id += 1
    sid = state.next_session_id
    master = "MT-" + secrets.token_urlsafe(24)
    token = issue_session(fs_data["token"], master, sid)
    state.masters[master] = Master(fs_data["token"], sid, token)
    c = state.controls
    info = dict(fs_data.get("sessionInfo") or {})
    info.setdefault("warehouseName", request.query_params.get("warehouse"))
    info.setdefault("roleName", request.query_params.get("roleName"))
    params = [p for p in fs_data.get("parameters", []) if p["name"] != "TIMEZONE"]
    params.append({"name": "TIMEZONE", "value": c["timezone"]})
    record["session_id"] = sid
    return answer({**fs_data, "token": token, "masterToken": master, "validityInSeconds": c["session_validity"],
                   "masterValidityInSeconds": c["master_validity"], "sessionId": sid, "sessionInfo": info,
                   "parameters": params})


async def token_request(request: Request) -> JSONResponse:
    """POST /session/token-request: renews a session token with the master token."""
    body = await read_json(request) or {}
    master_token = bearer(request)
    m = state.masters.get(master_token)
    record = {"t": now(), "body": body, "master_token": master_token, "known": m is not None,
              "old_matches": m is not None and body.get("oldSessionToken") == m.current}
    state.records["token-requests"].append(record)
    if m is None:
        return error("390113", "Master token not found.")
    if m.expired:
        return error("390114", "Authentication token has expired.  The user must authenticate again.")
    if str(body.get("requestType", "")).upper() != "RENEW":
        return error("390111", f"Unsupported requestType {body.get('requestType')!r}.")
    m.current = issue_session(m.fs_token, master_token, m.session_id)
    record["issued"] = m.current
    c = state.controls
    return answer({"sessionToken": m.current, "validityInSecondsST": c["session_validity"],
                   "masterToken": master_token, "validityInSecondsMT": c["master_validity"],
                   "masterValidityInSeconds": c["master_validity"], "sessionId": m.session_id})


async def session_endpoint(request: Request) -> JSONResponse:
    """POST /session?delete=true (close) and POST /session/heartbeat, passed to fakesnow."""
    deleting = request.url.path == "/session"
    state.records["deletes" if deleting else "heartbeats"].append(
        {"t": now(), "query": dict(request.query_params), "token": bearer(request)})
    s, refused = session_of(request)
    if s is None:
        return refused  # type: ignore[return-value]
    status, fs_answer = await call_fakesnow(fs.session, request, None, s.fs_token)
    if deleting and request.query_params.get("delete") and status == 200:
        for token in [t for t, x in state.sessions.items() if x.fs_token == s.fs_token]:
            del state.sessions[token]
        state.masters.pop(s.master, None)
    return JSONResponse(fs_answer, status_code=status)


# ---- queries ---------------------------------------------------------------------------


def chunked(data: dict[str, Any], base_url: str) -> None:
    """Moves all but the first chunk_rows rows of an Arrow answer into chunks served at
    /conn-test/chunk/<id>/<n>, and lists them in `data` the way Snowflake does."""
    c = state.controls
    n = int(c["chunk_rows"] or 0)
    if n <= 0 or data.get("queryResultFormat") != "arrow" or not data.get("rowsetBase64"):
        return
    table = pa.ipc.open_stream(base64.b64decode(data["rowsetBase64"])).read_all()
    if table.num_rows <= n:
        return
    data["rowsetBase64"] = base64.b64encode(to_ipc(table.slice(0, n))).decode()
    chunk_id = uuid.uuid4().hex
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    if c["chunk_mode"] == "qrmk":
        data["qrmk"] = key
        required = {"x-amz-server-side-encryption-customer-algorithm": "AES256",
                    "x-amz-server-side-encryption-customer-key": key}
    else:
        md5 = base64.b64encode(hashlib.md5(base64.b64decode(key)).digest()).decode()
        data["chunkHeaders"] = required = {"x-amz-server-side-encryption-customer-key": key,
                                           "x-amz-server-side-encryption-customer-key-md5": md5}
    bodies, listed = [], []
    for i, start in enumerate(range(n, table.num_rows, n)):
        part = table.slice(start, n)
        raw = to_ipc(part).to_pybytes()
        body = gzip.compress(raw) if c["gzip"] else raw
        bodies.append(body)
        listed.append({"url": f"{base_url}/conn-test/chunk/{chunk_id}/{i}", "rowCount": part.num_rows,
                       "uncompressedSize": len(raw), "compressedSize": len(body)})
    data["chunks"] = listed
    state.chunks[chunk_id] = (required, bodies)


def finish(fs_answer: dict[str, Any], base_url: str) -> dict[str, Any]:
    """fakesnow's query answer made like Snowflake's: session TIMEZONE, `returned`, chunks."""
    data = fs_answer.get("data")
    if fs_answer.get("success") and isinstance(data, dict) and "rowtype" in data:
        params = [p for p in data.get("parameters", []) if p["name"] != "TIMEZONE"]
        data["parameters"] = params + [{"name": "TIMEZONE", "value": state.controls["timezone"]}]
        data.setdefault("returned", data.get("total"))
        chunked(data, base_url)
    return fs_answer


async def query_request(request: Request) -> JSONResponse:
    """POST /queries/v1/query-request: faults, replays, hangs and polls around fakesnow."""
    body = await read_json(request) or {}
    request_id = request.query_params.get("requestId")
    sql = body.get("sqlText")
    record: dict[str, Any] = {"t": now(), "requestId": request_id, "retry": request.query_params.get("retry"),
                              "query": dict(request.query_params), "sqlText": sql,
                              "bindings": body.get("bindings"), "ran": False}
    state.records["queries"].append(record)
    s, refused = session_of(request)
    if s is None:
        record["outcome"] = "refused"
        return refused  # type: ignore[return-value]
    fail = state.controls["fail_next"]
    if fail and fail["count"] > 0 and not fail["after_run"]:
        fail["count"] -= 1
        record["outcome"] = f"HTTP {fail['status']}"
        return JSONResponse({"message": "injected failure"}, status_code=fail["status"])
    resent = request.query_params.get("retry") == "true" or int(request.query_params.get("retryCount") or 0) > 0
    if resent and request_id in state.answers and state.answers[request_id][0] == sql:
        # a retry (marked as one) of a request that ran: Snowflake answers it without
        # running it again; an unmarked resend runs again, as a new statement would
        record["outcome"] = "replayed"
        return JSONResponse(state.answers[request_id][1])
    c = state.controls
    base_url = f"{request.url.scheme}://{request.url.netloc}"
    if c["hang"]:
        c["hang"] = False
        query_id = str(uuid.uuid4())
        pending = state.pending[query_id] = Pending(request_id, None, 0)
        record.update(outcome="hanging", queryId=query_id)
        try:
            await asyncio.wait_for(pending.event.wait(), timeout=600)
        except asyncio.TimeoutError:
            pass
        record["outcome"] = "canceled"
        return CANCELED()
    LastFailure.text = ""
    swap = SWAP.match(sql or "")
    try:
        # Snowflake runs a session's statements concurrently; a fakesnow session is one
        # DuckDB connection, which refuses (or mixes up) a second call: take turns.
        async with SESSION_LOCKS.setdefault(s.fs_token, asyncio.Lock()):
            if swap:
                status, fs_answer = await swap_tables(request, body, s.fs_token, swap.group(1), swap.group(2))
            else:
                status, fs_answer = await call_fakesnow(fs.query_request, request, body, s.fs_token)
    except Exception as e:  # noqa: BLE001 - fakesnow failed outside its own error handling
        status, fs_answer = 500, None
        LastFailure.text = f"{type(e).__name__}: {e}"
    record["ran"] = True
    if status == 500:
        record["outcome"] = f"fakesnow failed: {LastFailure.text}"
        return unsupported(LastFailure.text or "see the peer's stderr")
    if status != 200:
        record["outcome"] = f"fakesnow HTTP {status}"
        return JSONResponse(fs_answer, status_code=status)
    fs_answer = finish(fs_answer, base_url)
    state.answers[request_id or str(uuid.uuid4())] = (sql, fs_answer)
    if c["answer_delay_ms"]:
        await asyncio.sleep(c["answer_delay_ms"] / 1000)
    record["outcome"] = "ok" if fs_answer.get("success") else f"error {fs_answer.get('code')}"
    if fail and fail["count"] > 0 and fail["after_run"]:
        # it ran, but the answer is lost on the way back: the retry must not run it again
        fail["count"] -= 1
        record["outcome"] += f", then HTTP {fail['status']}"
        return JSONResponse({"message": "injected failure"}, status_code=fail["status"])
    if c["pending_polls"] > 0:
        polls, c["pending_polls"] = int(c["pending_polls"]), 0
        query_id = (fs_answer.get("data") or {}).get("queryId") or str(uuid.uuid4())
        state.pending[query_id] = Pending(request_id, fs_answer, polls - 1)
        record["outcome"] += ", pending"
        return in_progress(query_id)
    return JSONResponse(fs_answer)


# One lock per fakesnow session (by fakesnow's token): its statements take turns.
SESSION_LOCKS: dict[str, asyncio.Lock] = {}

# Snowflake's `ALTER TABLE a SWAP WITH b` (one statement that exchanges two tables), which
# fakesnow cannot parse: emulated with three renames (b -> tmp, a -> b, tmp -> a). Not
# atomic as Snowflake's is, which no test relies on; a missing `b` fails the first rename
# with 002003, as Snowflake fails the swap.
SWAP = re.compile(r"^\s*ALTER\s+TABLE\s+(\S+)\s+SWAP\s+WITH\s+(\S+?)\s*;?\s*$", re.IGNORECASE)


async def swap_tables(request: Request, body: Any, fs_token: str | None, a: str, b: str) -> tuple[int, Any]:
    """Runs the three renames of a SWAP WITH through fakesnow; the first failure is the answer."""
    tmp = b[:-1] + '_SWAP_TMP"' if b.endswith('"') else b + "_SWAP_TMP"
    short = lambda name: name.rsplit(".", 1)[-1]  # noqa: E731 - RENAME TO keeps the schema
    answer: tuple[int, Any] = (200, None)
    for sql in (f"ALTER TABLE {b} RENAME TO {short(tmp)}", f"ALTER TABLE {a} RENAME TO {short(b)}",
                f"ALTER TABLE {tmp} RENAME TO {short(a)}"):
        answer = await call_fakesnow(fs.query_request, request, dict(body, sqlText=sql, bindings=None), fs_token)
        if answer[0] != 200 or not (answer[1] or {}).get("success"):
            return answer
    return answer


def in_progress(query_id: str) -> JSONResponse:
    """The 333334 answer: the query goes on, its result is at getResultUrl."""
    return answer({"queryId": query_id, "getResultUrl": f"/queries/{query_id}/result",
                   "queryAbortsAfterSecs": 300, "progressDesc": None}, "333334",
                  "Asynchronous execution in progress. Use provided query id to perform query monitoring "
                  "and management.")


async def query_result(request: Request) -> JSONResponse:
    """GET /queries/<queryId>/result: 333334 while polls are left, then the answer."""
    query_id = request.path_params["query_id"]
    pending = state.pending.get(query_id)
    record: dict[str, Any] = {"t": now(), "queryId": query_id, "known": pending is not None}
    state.records["polls"].append(record)
    s, refused = session_of(request)
    if s is None:
        record["outcome"] = "refused"
        return refused  # type: ignore[return-value]
    if pending is None:
        record["outcome"] = "unknown"
        return error("000709", f"Statement {query_id} not found", "02000")
    if pending.canceled:
        record["outcome"] = "canceled"
        return CANCELED()
    if pending.polls_left > 0 or pending.answer is None:
        pending.polls_left -= 1
        record["outcome"] = "333334"
        return in_progress(query_id)
    record["outcome"] = "result"
    return JSONResponse(pending.answer)


async def abort_request(request: Request) -> JSONResponse:
    """POST /queries/v1/abort-request: cancels the hanging or pending query it names."""
    body = await read_json(request) or {}
    matched = [p for p in state.pending.values() if p.request_id and p.request_id == body.get("requestId")]
    state.records["aborts"].append({"t": now(), "body": body, "matched": bool(matched)})
    s, refused = session_of(request)
    if s is None:
        return refused  # type: ignore[return-value]
    for p in matched:
        p.canceled = True
        p.event.set()
    return answer()


async def monitoring(request: Request) -> JSONResponse:
    """GET /monitoring/queries/<id>: fakesnow's, behind our tokens."""
    s, refused = session_of(request)
    if s is None:
        return refused  # type: ignore[return-value]
    headers = [(k, v) for k, v in request.scope["headers"] if k != b"authorization"]
    headers.append((b"authorization", f'Snowflake Token="{s.fs_token}"'.encode()))
    response = fs.monitoring_query(Request(dict(request.scope, headers=headers)))
    return response


async def chunk(request: Request) -> Response:
    """GET /conn-test/chunk/<id>/<n>: one chunk, as S3 serves it (403 without the keys)."""
    chunk_id, n = request.path_params["chunk_id"], int(request.path_params["n"])
    record: dict[str, Any] = {"id": chunk_id, "n": n, "start": now()}
    state.records["chunks"].append(record)
    required, bodies = state.chunks.get(chunk_id, ({}, []))
    if not 0 <= n < len(bodies):
        record.update(end=now(), status=404)
        return Response("NoSuchKey", status_code=404)
    if any(request.headers.get(k) != v for k, v in required.items()):
        record.update(end=now(), status=403)
        return Response("AccessDenied: wrong or missing SSE-C headers", status_code=403)
    delay = state.controls["chunk_delay_ms"] / 1000
    if state.controls["chunk_delay_reverse"]:
        # Later chunks come back sooner: a client that does not keep the order shows it.
        delay = delay * (len(bodies) - n) / len(bodies)
    await asyncio.sleep(delay)
    record.update(end=now(), status=200)
    return Response(bodies[n], media_type="binary/octet-stream")


# ---- the tests' side -------------------------------------------------------------------


async def control(request: Request) -> JSONResponse:
    """POST /conn-test/control {name: value, ...}, POST /conn-test/<name> value, POST
    /conn-test/reset: sets controls; answers the controls now in force."""
    name = request.path_params.get("name", "control")
    try:
        value = await read_json(request)
        if name == "reset":
            state.reset()
        elif name == "control":
            for key, v in (value or {}).items():
                apply_control(key, v)
        else:
            apply_control(name, True if value is None else value)
    except (KeyError, ValueError, TypeError, AttributeError) as e:
        return JSONResponse({"ok": False, "error": f"bad control {name}: {type(e).__name__} {e}"}, status_code=400)
    return JSONResponse({"ok": True, "controls": state.controls})


async def records(request: Request) -> JSONResponse:
    """GET /conn-test/<kind> (one of RECORD_KINDS), /conn-test/records (all), /conn-test/ping."""
    kind = request.path_params.get("kind", "records")
    if kind == "ping":
        return JSONResponse({"ok": True})
    if kind == "records":
        return JSONResponse(state.records)
    if kind not in state.records:
        return JSONResponse({"ok": False, "error": f"no records named {kind}"}, status_code=404)
    return JSONResponse(state.records[kind])


app = Starlette(routes=[
    Route("/session/v1/login-request", login, methods=["POST"]),
    Route("/session/token-request", token_request, methods=["POST"]),
    Route("/session", session_endpoint, methods=["POST"]),
    Route("/session/heartbeat", session_endpoint, methods=["POST"]),
    Route("/queries/v1/query-request", query_request, methods=["POST"]),
    Route("/queries/v1/abort-request", abort_request, methods=["POST"]),
    Route("/queries/{query_id}/result", query_result, methods=["GET"]),
    Route("/monitoring/queries/{sfqid}", monitoring, methods=["GET"]),
    Route("/fs_bucket/{path:path}", fs.bucket_upload, methods=["PUT"]),
    Route("/conn-test/chunk/{chunk_id}/{n:int}", chunk, methods=["GET"]),
    Route("/conn-test/control", control, methods=["POST"]),
    Route("/conn-test/{name}", control, methods=["POST"]),
    Route("/conn-test/records", records, methods=["GET"]),
    Route("/conn-test/{kind}", records, methods=["GET"]),
])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
