"""Prints what fakesnow (through snowpeer.py) answers, in raw HTTP: the facts of FAKESNOW.md.

    ~/.cache/conn-deps/venv/bin/python crates/conn-snowflake/tests/peer/probe.py [--port P] [--json]

Without --port it starts snowpeer.py on a free port. For each statement it prints the
rowtype and the raw Arrow type of every column with its values, or the whole JSON answer
(DML, errors; all answers with --json). A dev aid, not part of CI.
"""

from __future__ import annotations

import argparse
import base64
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pyarrow as pa

BASE = ""
FULL = False


def post(path: str, body: object, token: str | None = None) -> tuple[int, object]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f'Snowflake Token="{token}"'
    req = urllib.request.Request(BASE + path, data=json.dumps(body).encode(), method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def login(session_parameters: dict | None = None) -> str:
    body = {"data": {"ACCOUNT_NAME": "acct", "LOGIN_NAME": "probe", "PASSWORD": "pw",
                     "SESSION_PARAMETERS": session_parameters or {}}}
    _, answer = post("/session/v1/login-request?databaseName=DB1&schemaName=S1", body)
    return answer["data"]["token"]  # type: ignore[index]


def show(token: str, sql: str, bindings: dict | None = None) -> None:
    """Runs `sql` and prints its answer compactly."""
    body: dict = {"sqlText": sql, "asyncExec": False, "sequenceId": 1}
    if bindings:
        body["bindings"] = bindings
    status, answer = post(f"/queries/v1/query-request?requestId={uuid.uuid4()}", body, token)
    print(f"\n== {sql}" + (f"\n   bindings {json.dumps(bindings)}" if bindings else ""))
    data = answer.get("data") if isinstance(answer, dict) else None
    if not (isinstance(data, dict) and data.get("queryResultFormat") == "arrow" and data.get("rowsetBase64")) or FULL:
        if isinstance(data, dict) and data.get("rowsetBase64") and not FULL:
            data["rowsetBase64"] = "..."
        print(f"   HTTP {status} {json.dumps(answer)}")
        if not (isinstance(data, dict) and data.get("rowsetBase64")):
            return
    table = pa.ipc.open_stream(base64.b64decode(answer["data"]["rowsetBase64"])).read_all()  # type: ignore[index]
    for rt, f, col in zip(answer["data"]["rowtype"], table.schema, table.columns):  # type: ignore[index]
        shape = f"{rt['type']}(p={rt['precision']},s={rt['scale']},len={rt['length']})"
        print(f"   {rt['name']}: {shape} -> arrow {f.type}; values {col.to_pylist()!r}"
              + ("" if col.null_count == 0 else f"; arrow nulls {col.null_count}"))


PROBES: list[tuple[str, dict | None]] = [
    # numbers
    ("select 1::number(10,2) a, 2::number(38,0) b, 3::number(18,0) c, 1.5::number(38,10) e, 7::int h, "
     "1::number(4,0) i, 12345678901234567::number(38,0) j, 1.25::decimal(20,2) k, 5::number(9,0) l", None),
    ("select null::number(10,2) a, null::number(38,0) b, null::int c, null::number(38,10) d", None),
    ("select 123456789012345678901234567890::number(38,0) big", None),
    ("select sum(x) s, count(*) n, avg(x) a from (select 1 x union all select 2)", None),
    # float, text, boolean, date
    ("select 1.5::float f, null::float nf, 'abc'::varchar v, 'x'::varchar(10) v10, null::varchar nv, "
     "true b, null::boolean nb, null n", None),
    ("select '2024-01-02'::date d, null::date nd, '1969-12-31'::date neg", None),
    # time
    ("select '12:34:56.123456789'::time t, '12:34:56'::time(0) t0, '12:34:56.123'::time(3) t3, "
     "'12:34:56.123456789'::time(9) t9, null::time nt", None),
    # timestamps
    ("select '2024-01-02 03:04:05.123456789'::timestamp_ntz n, '2024-01-02 03:04:05'::timestamp_ntz(0) n0, "
     "'2024-01-02 03:04:05.123'::timestamp_ntz(3) n3, '2024-01-02 03:04:05.123456789'::timestamp_ntz(9) n9, "
     "null::timestamp_ntz nn, '1969-12-31 23:59:59.5'::timestamp_ntz neg", None),
    ("select '2024-01-02 03:04:05.123456789'::timestamp_ltz l, '2024-01-02 03:04:05'::timestamp_ltz(0) l0, "
     "'2024-01-02 03:04:05.123'::timestamp_ltz(3) l3, null::timestamp_ltz nl", None),
    ("select '2024-01-02 03:04:05.123456789 +02:00'::timestamp_tz z, "
     "'2024-01-02 03:04:05 -05:00'::timestamp_tz(0) z0, '2024-01-02 03:04:05.123 +00:00'::timestamp_tz(3) z3, "
     "null::timestamp_tz nz, current_timestamp() now", None),
    # binary and sst-structured
    ("select to_binary('616263', 'HEX') b, null::binary nb", None),
    ("select parse_json('{\"a\": 1, \"b\": [1, 2]}') v, parse_json('[1,\"x\"]') va, parse_json('7') vn", None),
    ("select object_construct('k', 1) o", None),
    ("select array_construct(1, 2, 3) a", None),
    ("select {'k': 1}::object o", None),
    ("select [1, 2]::array a", None),
    ("select null::variant nv", None),
    ("select null::object no", None),
    ("select null::array na", None),
    ("create or replace table sst (v variant, o object, a array)", None),
    ("insert into sst select parse_json('{\"a\": 1}'), object_construct('k', 1), array_construct(1, 2)", None),
    ("insert into sst values (null, null, null)", None),
    ("select * from sst", None),
    # DDL and DML
    ("create or replace table t (id int, name varchar, amount number(10,2), ts timestamp_ntz)", None),
    ("insert into t values (1, 'a', 1.5, '2024-01-01 00:00:00'), (2, 'b', null, null)", None),
    ("update t set name = 'z' where id >= 1", None),
    ("delete from t where id = 2", None),
    ("merge into t using (select 1 id) s on t.id = s.id when matched then update set name = 'm'", None),
    ("select * from t where false", None),
    ("select id, name from t order by id", None),
    # binds
    ("insert into t (id, name) values (?, ?)",
     {"1": {"type": "FIXED", "value": ["10", "11", "12"]}, "2": {"type": "TEXT", "value": ["x", None, "z"]}}),
    ("select :1 a, :2 b", {"1": {"type": "FIXED", "value": "5"}, "2": {"type": "TEXT", "value": "five"}}),
    ("select ? fx, ? r, ? tx, ? b, ? d, ? tm, ? ts, ? bin",
     {"1": {"type": "FIXED", "value": "12"}, "2": {"type": "REAL", "value": "1.25"},
      "3": {"type": "TEXT", "value": "hi"}, "4": {"type": "BOOLEAN", "value": "true"},
      "5": {"type": "DATE", "value": "1704153600000"}, "6": {"type": "TIME", "value": "45296123456789"},
      "7": {"type": "TIMESTAMP_NTZ", "value": "1704164645123456789"}, "8": {"type": "BINARY", "value": "616263"}}),
    ("select ? fx", {"1": {"type": "FIXED", "value": "1.5"}}),
    ("select ? tz", {"1": {"type": "TIMESTAMP_TZ", "value": "1704164645123456789 1560"}}),
    ("select ? ltz", {"1": {"type": "TIMESTAMP_LTZ", "value": "1704164645123456789"}}),
    ("select * from t order by id", None),
    ("create or replace table binds (r float, ntz timestamp_ntz, tz timestamp_tz, tm time, d date, n number(10,2))", None),
    ("insert into binds values (?, ?, ?, ?, ?, ?)",
     {"1": {"type": "REAL", "value": "1.25"}, "2": {"type": "TIMESTAMP_NTZ", "value": "1704164645123456789"},
      "3": {"type": "TIMESTAMP_TZ", "value": "1704164645123456789 1560"}, "4": {"type": "TIME", "value": "45296123456789"},
      "5": {"type": "DATE", "value": "-86400000"}, "6": {"type": "TEXT", "value": "12.34"}}),
    ("select * from binds", None),
    ("insert into t (id, name) values (:1, :2)",
     {"1": {"type": "FIXED", "value": ["20", "21"]}, "2": {"type": "TEXT", "value": ["u", "v"]}}),
    ("select count(*) n from t where id >= :lo", {"lo": {"type": "FIXED", "value": "20"}}),
    ("select count(*) n from t where name = :1", {"1": {"type": "TEXT", "value": "x"}}),
    ("select ? n", {"1": {"type": "TEXT", "value": None}}),
    # transactions, temp tables, rename, swap
    ("begin", None),
    ("insert into t (id) values (100)", None),
    ("rollback", None),
    ("select count(*) n from t where id = 100", None),
    ("begin transaction", None),
    ("insert into t (id) values (101)", None),
    ("commit", None),
    ("select count(*) n from t where id = 101", None),
    ("create temporary table tmp1 (a int)", None),
    ("create or replace temporary table tmp1 (a int, b int)", None),
    ("create table t2 (x int)", None),
    ("alter table t2 rename to t3", None),
    ("select * from t3", None),
    ("create table t4 (y varchar)", None),
    ("alter table t3 swap with t4", None),
    ("create or replace table t3 as select 1 z", None),
    ("select * from t3", None),
    # errors
    ("select * from no_such_table", None),
    ("select 1 from", None),
    ("select 1/0", None),
    ("insert into t (id) values ('not a number')", None),
]


def main() -> None:
    global BASE, FULL
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    FULL = args.json
    peer, port = None, args.port
    if port is None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        script = Path(__file__).with_name("snowpeer.py")
        peer = subprocess.Popen([sys.executable, str(script), "--port", str(port)], stderr=subprocess.DEVNULL)
    BASE = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{BASE}/conn-test/ping")
                break
            except OSError:
                time.sleep(0.05)
        token = login({"FAKESNOW_DB_PATH": ":isolated:"})
        for sql, bindings in PROBES:
            show(token, sql, bindings)
    finally:
        if peer is not None:
            peer.terminate()
            peer.wait()


if __name__ == "__main__":
    main()
