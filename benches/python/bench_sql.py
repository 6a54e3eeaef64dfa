"""Side-by-side: SELECT * of a 1M-row, 8-column table into Arrow, one backend per run.

Backends: postgres, mysql (MySQL or MariaDB), sqlite. The table is the same on each: a
bigint, an int, a float, two texts (one NULL every 10th row), a timestamp, a boolean and
a decimal(12, 2). It is created once (PostgreSQL conn_bench.t1m, MySQL bench_1m, SQLite
bench_1m in a file under ~/.cache/conn-bench/) and reused.

Contenders, each in its own process (peak memory from wait4; CPU as each reports it):
  server     PostgreSQL only: the server's own cost, a binary COPY to the server's
             /dev/null timed by psql's \timing (nothing crosses the wire; needs a superuser
             or pg_write_server_files, skipped otherwise)
  floor/reference  the backend's own client, output thrown away: psql binary COPY (the
             floor: no client-side decoding), mysql --quick and sqlite3 (text output, a
             reference rather than a floor)
  conn       conn-sql into an Arrow Table (benches/src/bin/sql_select.rs, release build)
  connectorx connectorx into Arrow
  pandas     SQLAlchemy + pandas.read_sql, the path st.connection's query() runs
             (psycopg2, pymysql, sqlite3)

Usage: bench_sql.py BACKEND CONN_BINARY [RUNS]; URLs from CONN_TEST_POSTGRES_URL and
CONN_TEST_MYSQL_URL (defaults: the local test servers). Prints a table of best wall time
of RUNS, ratios to connectorx, pandas, the client floor and (PostgreSQL) the server-only
COPY, client CPU per query (the RUNS queries' own, as each contender reports it; a client
command-line tool's whole process), the local server's CPU per query (the mean over the
contender's process, its connecting and background workers such as PostgreSQL's
checkpointer included: it serves one query on one core, so a read takes about that long
whatever the client) and peak RSS.
"""
import os
import subprocess
import sys
import time
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS = 1_000_000


class Postgres:
    name = "PostgreSQL"
    server_processes = {"postgres"}  # the postmaster and its backends
    table = "conn_bench.t1m"

    def __init__(self):
        self.url = os.environ.get("CONN_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
        rest = self.url.split("://", 1)[1]
        self.conn_url = "postgresql://" + rest
        self.cx_url = "postgresql://" + rest
        self.sa_url = "postgresql+psycopg2://" + rest

    def psql(self):
        parts = urlsplit(self.url)
        return ["psql", "-X", "-q", "-h", parts.hostname, "-p", str(parts.port or 5432),
                "-U", parts.username, "-d", parts.path.lstrip("/")]

    def setup(self):
        sql = f"""
CREATE SCHEMA IF NOT EXISTS conn_bench;
CREATE TABLE IF NOT EXISTS {self.table} AS
SELECT g::bigint AS id,
       (g % 100000)::integer AS small,
       g * 1.5::float8 AS ratio,
       'name ' || g AS name,
       timestamp '2024-01-01' + g * interval '1 second' AS at,
       (g % 2 = 0) AS flag,
       (g % 1000000 / 100.0)::numeric(12, 2) AS price,
       CASE WHEN g % 10 = 0 THEN NULL ELSE 'note ' || g END AS note
FROM generate_series(1, {ROWS}) g;
ANALYZE {self.table};
"""
        subprocess.run(self.psql() + ["-c", sql], check=True, capture_output=True)

    def server_only(self, query, runs):
        """Best of RUNS server-side binary COPYs of `query` to the server's /dev/null, in
        seconds (psql's \\timing: the statement's round trip, nothing else crosses the
        wire); None when the server refuses (not a superuser)."""
        copy = f"COPY ({query}) TO '/dev/null' (FORMAT binary)"
        command = self.psql() + ["-c", "\\timing on"]
        for _ in range(runs):
            command += ["-c", copy]
        proc = subprocess.run(command, capture_output=True, text=True)
        times = [float(line.split()[1]) / 1000 for line in proc.stdout.splitlines()
                 if line.startswith("Time:")]
        if proc.returncode != 0 or len(times) != runs:
            print(f"server-only COPY skipped: {proc.stderr.strip()}", file=sys.stderr)
            return None
        return min(times)

    def floor(self, query):
        return ("psql binary COPY (floor)",
                self.psql() + ["-c", f"\\copy ({query}) TO '/dev/null' WITH (FORMAT binary)"])


class MySql:
    name = "MariaDB/MySQL"
    server_processes = {"mariadbd", "mysqld"}
    table = "bench_1m"

    def __init__(self):
        self.url = os.environ.get("CONN_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
        rest = self.url.split("://", 1)[1]
        self.conn_url = "mysql://" + rest
        self.cx_url = "mysql://" + rest
        self.sa_url = "mysql+pymysql://" + rest

    def connect(self):
        import pymysql

        parts = urlsplit(self.url)
        return pymysql.connect(host=parts.hostname, port=parts.port or 3306, user=parts.username,
                               password=parts.password or "", database=parts.path.lstrip("/"),
                               autocommit=True)

    def setup(self):
        db = self.connect()
        with db.cursor() as cur:
            cur.execute(f"""CREATE TABLE IF NOT EXISTS {self.table} (
                id BIGINT NOT NULL PRIMARY KEY, small INT NOT NULL, ratio DOUBLE NOT NULL,
                name VARCHAR(32) NOT NULL, at DATETIME NOT NULL, flag BOOLEAN NOT NULL,
                price DECIMAL(12, 2) NOT NULL, note VARCHAR(32) NULL)""")
            cur.execute(f"SELECT COUNT(*) FROM {self.table}")
            if cur.fetchone()[0] != ROWS:
                cur.execute(f"TRUNCATE TABLE {self.table}")
                # MariaDB's sequence engine; MySQL has no seq_1_to_N, so a recursive CTE there.
                cur.execute("SELECT VERSION()")
                if "MariaDB" in cur.fetchone()[0]:
                    source = f"(SELECT seq AS g FROM seq_1_to_{ROWS}) s"
                else:
                    cur.execute(f"SET SESSION cte_max_recursion_depth = {ROWS + 1}")
                    source = (f"(WITH RECURSIVE r(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM r "
                              f"WHERE g < {ROWS}) SELECT g FROM r) s")
                cur.execute(f"""INSERT INTO {self.table}
                    SELECT g, g % 100000, g * 1.5, CONCAT('name ', g),
                           TIMESTAMP '2024-01-01 00:00:00' + INTERVAL g SECOND, g % 2 = 0,
                           (g % 1000000) / 100.0,
                           CASE WHEN g % 10 = 0 THEN NULL ELSE CONCAT('note ', g) END
                    FROM {source}""")
                cur.execute(f"ANALYZE TABLE {self.table}")
        db.close()

    def floor(self, query):
        parts = urlsplit(self.url)
        command = ["mysql", "--quick", "-N", "-B", "-h", parts.hostname, "-P", str(parts.port or 3306),
                   "-u", parts.username, parts.path.lstrip("/"), "-e", query]
        if parts.password:
            command.insert(1, f"-p{parts.password}")
        return ("mysql --quick to /dev/null (text)", command)


class Sqlite:
    name = "SQLite"
    server_processes = set()  # in the client's process
    table = "bench_1m"

    def __init__(self):
        folder = os.path.expanduser("~/.cache/conn-bench")
        os.makedirs(folder, exist_ok=True)
        self.path = os.path.join(folder, "bench_1m.sqlite")
        self.conn_url = "sqlite:///" + self.path  # SQLAlchemy form: four slashes, absolute
        self.cx_url = "sqlite://" + self.path
        self.sa_url = "sqlite:///" + self.path

    def setup(self):
        import sqlite3

        if os.path.exists(self.path):
            return
        tmp = self.path + ".tmp"
        if os.path.exists(tmp):
            os.remove(tmp)
        db = sqlite3.connect(tmp)
        db.executescript(f"""
CREATE TABLE {self.table} (
    id INTEGER PRIMARY KEY, small INTEGER NOT NULL, ratio REAL NOT NULL, name TEXT NOT NULL,
    at DATETIME NOT NULL, flag BOOLEAN NOT NULL, price DECIMAL(12, 2) NOT NULL, note TEXT);
WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < {ROWS})
INSERT INTO {self.table}
SELECT x, x % 100000, x * 1.5, 'name ' || x,
       datetime('2024-01-01', '+' || x || ' seconds'), x % 2 = 0, (x % 1000000) / 100.0,
       CASE WHEN x % 10 = 0 THEN NULL ELSE 'note ' || x END
FROM g;
""")
        db.commit()
        db.close()
        os.replace(tmp, self.path)

    def floor(self, query):
        return ("sqlite3 CLI to /dev/null (text)", ["sqlite3", self.path, query])


BACKENDS = {"postgres": Postgres, "mysql": MySql, "sqlite": Sqlite}


def server_cpu(processes):
    """CPU seconds the local server's processes (by name) have used so far (user and
    system, with their reaped children: a PostgreSQL backend's time moves to the
    postmaster when it exits); None when none runs on this machine (a remote server,
    or SQLite, which has none)."""
    ticks, found = 0, False
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # exited meanwhile
        if stat[stat.index("(") + 1:stat.rindex(")")] not in processes:
            continue
        # After the command: state, ppid, ... utime stime cutime cstime are fields 14-17.
        fields = stat[stat.rindex(")") + 2:].split()
        ticks += sum(int(x) for x in fields[11:15])
        found = True
    return ticks / os.sysconf("SC_CLK_TCK") if found else None


def server_cpu_of(backend, action):
    """Runs `action()`; returns its result and the backend's local server's CPU seconds
    meanwhile (None without one). Waits a moment after it for PostgreSQL's backend to
    exit and be reaped, so its time is counted."""
    before = server_cpu(backend.server_processes)
    result = action()
    time.sleep(0.3)
    after = server_cpu(backend.server_processes)
    return result, (after - before if before is not None and after is not None else None)


def run(command, keep_output):
    """Runs a process; returns (stdout, wall, cpu seconds, peak RSS in MiB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE if keep_output else subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    out = proc.stdout.read() if keep_output else ""
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{command[0]} failed: {err}")
    return out, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def bench(backend, conn_binary, runs):
    backend.setup()
    query = f"SELECT * FROM {backend.table}"
    results = []
    server = backend.server_only(query, runs) if hasattr(backend, "server_only") else None
    # The backend's own client: one process per run, best of RUNS.
    label, command = backend.floor(query)
    best = None
    server_total = 0.0
    for _ in range(runs):
        (_, wall, cpu, rss), server_cpu_used = server_cpu_of(backend, lambda: run(command, keep_output=False))
        server_total = None if server_total is None or server_cpu_used is None else server_total + server_cpu_used
        if best is None or wall < best[0]:
            best = (wall, cpu, rss)
    results.append((label, *best, server_total / runs if server_total is not None else None))
    py = sys.executable
    for name, command in [
        ("conn (conn-sql -> Arrow)", [conn_binary, backend.conn_url, query, str(runs)]),
        ("connectorx -> Arrow", [py, os.path.join(HERE, "sql_connectorx.py"), backend.cx_url, query, str(runs)]),
        ("SQLAlchemy + pandas.read_sql (original)",
         [py, os.path.join(HERE, "sql_pandas.py"), backend.sa_url, query, str(runs)]),
    ]:
        (out, _, _, rss), server_cpu_used = server_cpu_of(backend, lambda: run(command, keep_output=True))
        seconds, rows, cpu = out.split()
        assert int(rows) == ROWS, (name, rows)
        # The contender's CPU over its RUNS queries (as it reports it: no interpreter
        # start or imports), and the server's while the process ran (its connecting and
        # a warm-up SELECT 1 included), per query.
        results.append((name, float(seconds), float(cpu) / runs, rss,
                        server_cpu_used / runs if server_cpu_used is not None else None))
    floor, cx, pandas = results[0][1], results[2][1], results[3][1]
    print(f"{backend.name}: SELECT * of a 1M-row, 8-column table ({runs} runs, best wall time)")
    print(f"{'contender':44} {'wall s':>8} {'x cx':>6} {'x pandas':>8} {'x client':>8} "
          + (f"{'x server':>8} " if server else "")
          + f"{'CPU s/query':>12} {'server CPU s/q':>14} {'peak RSS MiB':>13}")
    if server:
        label = "server-only COPY to /dev/null (psql \\timing)"
        print(f"{label:44} {server:8.3f} "
              f"{server / cx:6.2f} {server / pandas:8.2f} {server / floor:8.2f} {1:8.2f} "
              f"{'-':>12} {'-':>14} {'-':>13}")
    for name, wall, cpu, rss, server_cpu_used in results:
        served = f"{server_cpu_used:14.3f}" if server_cpu_used is not None else f"{'-':>14}"
        print(f"{name:44} {wall:8.3f} {wall / cx:6.2f} {wall / pandas:8.2f} {wall / floor:8.2f} "
              + (f"{wall / server:8.2f} " if server else "")
              + f"{cpu:12.3f} {served} {rss:13.0f}")
    print(flush=True)


def main():
    which, conn_binary = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    names = list(BACKENDS) if which == "all" else [which]
    for name in names:
        if name not in BACKENDS:
            raise SystemExit(f"unknown backend {name!r}; expected one of {', '.join(BACKENDS)} or all")
        bench(BACKENDS[name](), conn_binary, runs)


main()
