"""connectorx into Arrow. Usage: sql_connectorx.py URL SQL RUNS (URL in connectorx's form);
prints the best time in seconds, the rows, and the CPU seconds of the RUNS queries."""
import sys
import time

import connectorx as cx

url, sql, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
cx.read_sql(url, "SELECT 1", return_type="arrow")
best, rows = float("inf"), 0
cpu = time.process_time()
for _ in range(runs):
    start = time.perf_counter()
    table = cx.read_sql(url, sql, return_type="arrow")
    best = min(best, time.perf_counter() - start)
    rows = table.num_rows
    del table
print(f"{best:.6f} {rows} {time.process_time() - cpu:.6f}")
