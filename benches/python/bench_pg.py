"""Side-by-side: SELECT * of a 1M-row, 8-column PostgreSQL table, in one run.

Contenders, each in its own process (its CPU time and peak memory come from wait4):
  psql      binary COPY to /dev/null: the floor (no client-side decoding at all)
  conn      conn-sql into an Arrow Table (benches/src/bin/pg_select.rs, release build)
  connectorx  connectorx into Arrow
  pandas    SQLAlchemy + pandas.read_sql, the path st.connection's query() runs

Usage: bench_pg.py URL CONN_BINARY [RUNS]. Prints a table of best wall time, ratio to the
floor, client CPU and peak RSS.
"""
import os
import subprocess
import sys
import time

URL, CONN_BINARY = sys.argv[1], sys.argv[2]
RUNS = int(sys.argv[3]) if len(sys.argv) > 3 else 5
HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = "conn_bench"
TABLE = f"{SCHEMA}.t1m"
QUERY = f"SELECT * FROM {TABLE}"

SETUP = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {TABLE} AS
SELECT g::bigint AS id,
       (g % 100000)::integer AS small,
       g * 1.5::float8 AS ratio,
       'name ' || g AS name,
       timestamp '2024-01-01' + g * interval '1 second' AS at,
       (g % 2 = 0) AS flag,
       (g % 1000000 / 100.0)::numeric(12, 2) AS price,
       CASE WHEN g % 10 = 0 THEN NULL ELSE 'note ' || g END AS note
FROM generate_series(1, 1000000) g;
ANALYZE {TABLE};
"""


def psql_args():
    # postgres://user@host:port/db
    rest = URL.split("://", 1)[1]
    user_host, db = rest.rsplit("/", 1)
    user, hostport = user_host.split("@", 1)
    host, port = hostport.split(":", 1) if ":" in hostport else (hostport, "5432")
    return ["psql", "-X", "-q", "-h", host, "-p", port, "-U", user.split(":")[0], "-d", db]


def run(command):
    """Runs a process; returns (stdout, wall, cpu seconds, peak RSS in MiB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{command[0]} failed: {err}")
    return out, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main():
    subprocess.run(psql_args() + ["-c", SETUP], check=True, capture_output=True)
    results = []
    # The floor: one psql process per run, best of RUNS.
    best = None
    for _ in range(RUNS):
        _, wall, cpu, rss = run(psql_args() + ["-c", f"\\copy ({QUERY}) TO '/dev/null' WITH (FORMAT binary)"])
        if best is None or wall < best[0]:
            best = (wall, cpu, rss)
    results.append(("psql binary COPY (floor)", *best))
    py = sys.executable
    for name, command in [
        ("conn (conn-sql -> Arrow)", [CONN_BINARY, URL, QUERY, str(RUNS)]),
        ("connectorx -> Arrow", [py, os.path.join(HERE, "pg_connectorx.py"), URL, QUERY, str(RUNS)]),
        ("SQLAlchemy + pandas.read_sql (original)", [py, os.path.join(HERE, "pg_pandas.py"), URL, QUERY, str(RUNS)]),
    ]:
        out, _, cpu, rss = run(command)
        seconds, rows = out.split()
        assert int(rows) == 1_000_000, (name, rows)
        # CPU of the whole process over RUNS+1 queries; report it per query.
        results.append((name, float(seconds), cpu / (RUNS + 1), rss))
    floor = results[0][1]
    print(f"SELECT * of a 1M-row, 8-column table ({RUNS} runs, best wall time)")
    print(f"{'contender':44} {'wall s':>8} {'x floor':>8} {'CPU s/query':>12} {'peak RSS MiB':>13}")
    for name, wall, cpu, rss in results:
        print(f"{name:44} {wall:8.3f} {wall / floor:8.2f} {cpu:12.3f} {rss:13.0f}")


main()
