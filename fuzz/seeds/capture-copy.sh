#!/usr/bin/env bash
# Captures binary COPY outputs from the local PostgreSQL into fuzz/seeds/copy/ (run
# once; the files are committed). A file's name lists its columns' type OIDs.
set -euo pipefail
cd "$(dirname "$0")/copy"
q() { psql -h 127.0.0.1 -U postgres test -qc "\\copy ($2) to '$PWD/$1.bin' with (format binary)"; }
q scalars-23-20-701-25-16 "select i, i::int8 * 1000000007, i / 7.0::float8, 'row ' || i, i % 2 = 0 from generate_series(1, 5) i union all select null, null, null, null, null"
q numeric-1700-1700 "select v, -v from (values (0::numeric), (1.5), (123456789012345678901234567890.0123), (1e-30), ('NaN')) t(v)"
q temporal-1082-1114-1184-1083-1186 "select date '2024-02-29', timestamp '2000-01-01 00:00:00.000001', timestamptz '1999-12-31 23:59:59+02', time '12:34:56.789', interval '1 year 2 mons 3 days 04:05:06.7' union all select 'infinity', '-infinity', null, null, null"
q misc-17-2950-114-3802 "select '\\x00ff'::bytea, '123e4567-e89b-12d3-a456-426614174000'::uuid, '{\"a\": [1, 2]}'::json, '{\"b\": null}'::jsonb"
q arrays-1007-1009-1231 "select array[1, null, 3], array['a', 'b c'], array[1.5, null]::numeric[] union all select '{}', null, '{}'"
q empty-21-700 "select 1::int2, 1::float4 where false"
