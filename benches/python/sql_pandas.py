"""The original's path: SQLAlchemy + pandas.read_sql (what st.connection's query runs).

Usage: sql_pandas.py URL SQL RUNS (URL in SQLAlchemy's form, driver named); prints the best
time in seconds, the rows, and the CPU seconds of the RUNS queries."""
import sys
import time

import pandas as pd
import sqlalchemy

url, sql, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
engine = sqlalchemy.create_engine(url)
with engine.connect() as conn:
    conn.execute(sqlalchemy.text("SELECT 1"))
best, rows = float("inf"), 0
cpu = time.process_time()
for _ in range(runs):
    start = time.perf_counter()
    with engine.connect() as conn:
        frame = pd.read_sql(sqlalchemy.text(sql), conn)
    best = min(best, time.perf_counter() - start)
    rows = len(frame)
    del frame
print(f"{best:.6f} {rows} {time.process_time() - cpu:.6f}")
