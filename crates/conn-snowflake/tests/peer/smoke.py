"""Smoke test of snowpeer.py through the official Python connector (a dev aid, not CI).

    scripts/setup-python    # the venv with fakesnow and the connector
    ~/.cache/conn-deps/venv/bin/python crates/conn-snowflake/tests/peer/smoke.py [--port P]

Without --port it starts snowpeer.py on a free port itself and stops it at the end. It
proves that what the peer adds is what the connector expects: chunked Arrow results (SSE-C
headers and qrmk, gzipped or not) read back whole and in order, a 403 for a chunk GET
without the keys, session renewal after 390112, a fresh login needed after 390114, 333334
polling, a hanging query aborted by the connector's timeout, retried 503s, key-pair logins.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import snowflake.connector
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

BASE = ""


def control(path: str, body: object = None) -> object:
    """POSTs JSON to the peer's /conn-test/<path>."""
    data = json.dumps(body).encode() if body is not None else b""
    req = urllib.request.Request(f"{BASE}/conn-test/{path}", data=data, method="POST")
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def records(kind: str) -> list:
    with urllib.request.urlopen(f"{BASE}/conn-test/{kind}") as r:
        return json.loads(r.read())


def connect(**kw: object) -> snowflake.connector.SnowflakeConnection:
    port = int(BASE.rsplit(":", 1)[1])
    args = dict(host="127.0.0.1", port=port, protocol="http", account="acct.eu-west-1", user="smoke",
                password="secret", database="db1", schema="s1", paramstyle="qmark")
    args.update(kw)
    return snowflake.connector.connect(**args)


def check(ok: bool, what: str) -> None:
    if not ok:
        raise AssertionError(what)
    print(f"ok: {what}")


def chunks(conn: snowflake.connector.SnowflakeConnection) -> None:
    for mode, gz in (("headers", True), ("qrmk", False), ("qrmk", True), ("headers", False)):
        control("reset")
        control("control", {"chunk_rows": 1000, "chunk_mode": mode, "gzip": gz})
        rows = conn.cursor().execute(
            "select seq4() as i, 'row ' || seq4() as s from table(generator(rowcount => 5500)) order by i"
        ).fetchall()
        check(rows == [(i, f"row {i}") for i in range(5500)], f"5500 rows in order from chunks ({mode}, gzip={gz})")
        got = records("chunks")
        check(sorted(c["n"] for c in got) == [0, 1, 2, 3, 4] and all(c["status"] == 200 for c in got),
              "the connector fetched the 5 chunks with the right headers")
    # the connector's chunk URLs are ours; without the SSE-C headers S3 (and the peer) refuse them
    control("reset")
    control("chunk_rows", 10)
    cur = conn.cursor()
    cur.execute("select seq4() as i from table(generator(rowcount => 25))")
    url = cur._result_set.batches[1]._remote_chunk_info.url  # noqa: SLF001
    try:
        urllib.request.urlopen(url)
        check(False, "a chunk GET without the keys is refused")
    except urllib.error.HTTPError as e:
        check(e.code == 403, "a chunk GET without the keys is refused (403)")
    check(len(cur.fetchall()) == 25, "and with them the result reads whole")


def tokens(conn: snowflake.connector.SnowflakeConnection) -> None:
    control("reset")
    control("expire_sessions")
    check(conn.cursor().execute("select 42").fetchone() == (42,), "a query after 390112 runs on a renewed token")
    renewals = records("token-requests")
    check(len(renewals) == 1 and renewals[0]["old_matches"] and "issued" in renewals[0],
          "one token-request, naming the old session token, issued a new one")
    outcomes = [q["outcome"] for q in records("queries")]
    check(outcomes == ["refused", "ok"], f"the query was refused, then ran: {outcomes}")
    control("expire_sessions")
    control("expire_masters")
    try:
        conn.cursor().execute("select 1")
        check(False, "an expired master token forces a new login")
    except snowflake.connector.errors.ProgrammingError as e:
        check(e.errno == 390114, f"an expired master token forces a new login ({e.errno})")


def polls(conn: snowflake.connector.SnowflakeConnection) -> None:
    control("reset")
    control("pending_polls", 3)
    rows = conn.cursor().execute("select seq4() as i from table(generator(rowcount => 3))").fetchall()
    check(rows == [(0,), (1,), (2,)], "a query answered 333334 is polled to its result")
    check([p["outcome"] for p in records("polls")] == ["333334", "333334", "result"], "two more 333334, then it")


def hang(conn: snowflake.connector.SnowflakeConnection) -> None:
    control("reset")
    control("hang")
    start = time.monotonic()
    try:
        conn.cursor().execute("select 1", timeout=2)
        check(False, "a hanging query is aborted")
    except snowflake.connector.errors.ProgrammingError as e:
        check(e.errno == 604, f"a hanging query ends in 000604 once aborted ({e.errno})")
    aborts = records("aborts")
    check(len(aborts) == 1 and aborts[0]["matched"], "the connector's abort-request named it")
    check(time.monotonic() - start < 10, "and it did not wait for the peer's own limit")


def faults(conn: snowflake.connector.SnowflakeConnection) -> None:
    control("reset")
    control("fail_next", {"count": 2, "status": 503})
    check(conn.cursor().execute("select 7").fetchone() == (7,), "a query survives two 503s")
    attempts = records("queries")
    check(len(attempts) == 3 and len({a["requestId"] for a in attempts}) == 1, "three attempts, one requestId")
    check([a["ran"] for a in attempts] == [False, False, True], "only the last one ran")
    control("reset")
    conn.cursor().execute("create or replace table once (a int)")
    control("fail_next", {"count": 1, "status": 503, "after_run": True})
    conn.cursor().execute("insert into once values (1)")
    check(conn.cursor().execute("select count(*) from once").fetchone() == (1,),
          "an insert whose answer was lost is replayed, not run twice")


def key_pair() -> None:
    control("reset")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    control("register_key", {"user": "keyuser", "public_key_pem": pem.decode()})
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    conn = connect(user="keyuser", password=None, authenticator="SNOWFLAKE_JWT", private_key=der)
    check(conn.cursor().execute("select 1").fetchone() == (1,), "a key-pair login with the registered key works")
    conn.close()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    try:
        connect(user="keyuser", password=None, authenticator="SNOWFLAKE_JWT", private_key=other)
        check(False, "a key-pair login with another key is refused")
    except snowflake.connector.errors.DatabaseError as e:
        check(e.errno == 390144, f"a key-pair login with another key is refused ({e.errno})")
    check("bad signature" in records("logins")[-1].get("refused", "").lower()
          or "signature" in records("logins")[-1].get("refused", "").lower(), "and the peer says why")


def main() -> None:
    global BASE
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    peer = None
    port = args.port
    if port is None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        script = Path(__file__).with_name("snowpeer.py")
        peer = subprocess.Popen([sys.executable, str(script), "--port", str(port)])
    BASE = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{BASE}/conn-test/ping")
                break
            except OSError:
                time.sleep(0.05)
        conn = connect()
        login = records("logins")[-1]["body"]["data"]
        check(login["PASSWORD"] == "secret" and login["LOGIN_NAME"] == "smoke", "the login was recorded, secret too")
        chunks(conn)
        polls(conn)
        hang(conn)
        faults(conn)
        tokens(conn)
        key_pair()
        print("smoke: all passed")
    finally:
        if peer is not None:
            peer.terminate()
            peer.wait()


if __name__ == "__main__":
    main()
