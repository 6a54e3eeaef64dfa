"""Side-by-side: cache hits in Streamlit 1.67 (bare mode) against conn's criterion figures.

Measures st.connection(...) for a cached connection and conn.query(...) for a cached
result at 1k and 1M rows (3 columns: id, name, value, in SQLite), then reads conn's
figures from criterion's output (target/criterion) and prints both with ratios.

Usage: bench_caches.py CRITERION_DIR WORK_DIR
"""
import json
import logging
import os
import sqlite3
import sys
import time
import warnings

CRITERION, WORK = sys.argv[1], sys.argv[2]
os.makedirs(WORK, exist_ok=True)
os.chdir(WORK)
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

DB = os.path.join(WORK, "caches.db")
if not os.path.exists(DB):
    with sqlite3.connect(DB) as db:
        for name, rows in (("t1k", 1_000), ("t1m", 1_000_000)):
            db.execute(f"CREATE TABLE {name} (id INTEGER, name TEXT, value REAL)")
            db.executemany(
                f"INSERT INTO {name} VALUES (?, ?, ?)",
                ((i, f"name {i}", i * 0.5) for i in range(rows)),
            )

import streamlit as st  # noqa: E402  (after the data is ready: import is slow)

URL = f"sqlite:///{DB}"


def per_call(fn, number):
    fn()
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


connection_hit = per_call(lambda: st.connection("bench", type="sql", url=URL), 2000)
conn = st.connection("bench", type="sql", url=URL)
query_1k = per_call(lambda: conn.query("SELECT * FROM t1k"), 200)
query_1m = per_call(lambda: conn.query("SELECT * FROM t1m"), 5)


def criterion(*parts):
    path = os.path.join(CRITERION, *parts, "new", "estimates.json")
    with open(path) as f:
        return json.load(f)["mean"]["point_estimate"] / 1e9


rows = [
    ("connection cache hit, 1 thread", connection_hit, criterion("connection_cache_hit", "typed_1_thread")),
    ("connection cache hit, 8 threads (per hit per thread)", None, criterion("connection_cache_hit", "typed_8_threads")),
    ("query result cache hit, 1k rows", query_1k, criterion("result_cache_hit", "query_blocking", "1000")),
    ("query result cache hit, 1M rows", query_1m, criterion("result_cache_hit", "query_blocking", "1000000")),
]


def show(seconds):
    if seconds is None:
        return "-"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    if seconds >= 1e-6:
        return f"{seconds * 1e6:.2f} us"
    return f"{seconds * 1e9:.0f} ns"


print(f"{'cache hit':52} {'streamlit 1.67':>15} {'conn':>12} {'speed-up':>10}")
for name, python, rust in rows:
    ratio = f"{python / rust:,.0f}x" if python else "-"
    print(f"{name:52} {show(python):>15} {show(rust):>12} {ratio:>10}")
