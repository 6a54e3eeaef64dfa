#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/ (committed; run again only to change them).

Text seeds come from the docs (secrets files, URLs, statements); the COPY seeds are
binary COPY outputs captured once from PostgreSQL (fuzz/seeds/copy/*.bin, see
capture-copy.sh); structured targets get a few byte strings their generators expand. Inputs that once
crashed a target are kept beside them as regression-* (not written here).
"""
import glob, os, re, json

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
repo = os.path.dirname(root)
corpus = os.path.join(root, 'corpus')


def write(target, name, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


# secrets_toml: every TOML block of the docs, the quick start's file, interpolation.
docs = sorted(glob.glob(os.path.join(repo, 'docs', '*.md'))) + [os.path.join(repo, 'README.md')]
blocks = []
for path in docs:
    for m in re.finditer(r'```toml\n(.*?)```', open(path).read(), re.S):
        blocks.append(m.group(1))
for i, b in enumerate(blocks):
    write('secrets_toml', f'docs-{i}.toml', b)
write('secrets_toml', 'quickstart.toml', open(os.path.join(repo, 'examples/quickstart/.streamlit/secrets.toml')).read())
write('secrets_toml', 'interpolation.toml', '''[connections.db]
url = "postgresql://${USER}:${PASSWORD}@${HOST:-localhost}/db"
literal = "$${NOT_EXPANDED} and $5"
missing = "${NOPE}"
default = "${EMPTY:-fallback}"
password = "Zx9Q-pw"
numbers = [0xff, -1_000, 1e3, -inf, nan]
when = 1979-05-27T07:32:00Z
[connections.db.nested]
deep = { a = "${USER}", b = ["x", "${DOLLAR}"] }
''')
write('secrets_toml', 'broken.toml', '[connections.db]\nurl = "x"\nport 5432\n')

# sql_url: [connections.<name>] sections: URLs from docs/sql.md and the tests, parts.
urls = [
    'postgresql+psycopg2://user:pw@host:5432/db', 'postgresql://ada@db/analytics',
    'mysql+pymysql://u:p@h/db?charset=utf8mb4', 'mariadb://u@h/db', 'sqlite:///pets.db',
    'sqlite:////absolute.db', 'sqlite://', 'sqlite:///relative.db?mode=ro',
    'postgres://ada%20lovelace:p%40ss%2Fw%23rd%3F%3A%25@localhost:5432/my%20db?sslmode=disable',
    'postgresq://h/db', 'redshift+psycopg2://u:Zx9Q-secret@h:5439/dev', 'mysql://root@127.0.0.1:3306/test',
]
for i, u in enumerate(urls):
    write('sql_url', f'url-{i}.toml', f'url = {json.dumps(u)}\n')
write('sql_url', 'parts-pg.toml', '''dialect = "postgresql"
host = "localhost"
port = 5432
database = "analytics"
username = "ada"
password = "p@ss/w#rd?"
query = { sslmode = "disable" }
[create_engine_kwargs]
pool_size = 5
max_overflow = 10
pool_timeout = 30
pool_recycle = 3600
pool_pre_ping = true
connect_args = { application_name = "conn" }
''')
write('sql_url', 'parts-mysql.toml', 'dialect = "mysql"\nusername = "root"\nhost = "::1"\nport = 3306\ndatabase = "my db"\npassword = "Zx9Q-secret"\n')
write('sql_url', 'parts-sqlite.toml', 'dialect = "sqlite"\ndatabase = "pets.db"\n')
write('sql_url', 'parts-missing.toml', 'dialect = "postgresql"\npassword = "Zx9Q-secret"\n')
write('sql_url', 'unknown-key.toml', 'url = "postgresql://u@h/db"\ncreate_engine_kwargs = { pool_sise = 5 }\n')

# named_params: mode 1 (any statement) with statements of the docs and tests; mode 0
# (built from tokens) with a few byte strings.
statements = [
    "SELECT * FROM pet WHERE name = :name AND age > :min_age",
    "SELECT :a::int, ':not_a_param', \"col:x\" FROM t WHERE id = :id -- :comment\n AND x = :a",
    "SELECT $$ :inside $$, $tag$ :x $tag$, E'it\\'s :x' FROM t WHERE y = :y",
    "SELECT `a:b`, '#' FROM t # :mysql comment\nWHERE z = :z /* :block /* nested */ */",
    "INSERT INTO t VALUES (:a, :b, :a); SELECT \\:escaped",
    "SELECT 'unterminated :x",
    "SELECT ? , :a",
]
for i, s in enumerate(statements):
    write('named_params', f'any-{i}.sql', b'\x01' + s.encode())
for i, b in enumerate([bytes(range(0, 64)), bytes([2, 0, 0, 3, 3, 1, 4, 5, 2, 2, 7, 3, 8, 9, 2, 1, 10, 4, 11, 2] * 3), bytes([i * 37 % 256 for i in range(120)])]):
    write('named_params', f'built-{i}.bin', b'\x00' + b)

# pg_copy: captured COPY outputs (mode 0: ncols, type indexes, chunk, batch, stream).
TYPES = [(16, -1), (20, -1), (21, -1), (23, -1), (26, -1), (700, -1), (701, -1), (1700, -1),
         (1700, (10 << 16 | 2) + 4), (1700, (38 << 16) + 4), (1700, (50 << 16 | 10) + 4), (25, -1),
         (114, -1), (3802, -1), (17, -1), (2950, -1), (1082, -1), (1083, -1), (1114, -1),
         (1184, -1), (1186, -1), (1007, -1), (1016, -1), (1009, -1), (1231, -1), (1115, -1),
         (2951, -1), (1000, -1)]
for path in sorted(glob.glob(os.path.join(here, 'copy', '*.bin'))):
    name = os.path.basename(path)[:-4]
    oids = [int(x) for x in name.split('-')[1:]]
    index = [TYPES.index((o, -1)) for o in oids]
    stream = open(path, 'rb').read()
    for chunk in (0, 7):
        write('pg_copy', f'{name}-chunk{chunk}.bin', bytes([0, len(oids) - 1] + index + [chunk, 3]) + stream)
for i, b in enumerate([bytes(range(1, 90)), bytes([3, 0, 1, 2, 3, 9, 2, 5] + list(range(200, 256)) * 3), bytes([7, 7, 5, 6, 9, 0, 3, 4] + [i * 53 % 256 for i in range(300)])]):
    write('pg_copy', f'roundtrip-{i}.bin', b'\x01' + b)

# files_text: mode 0 CSV and 1 JSON lines files; 2 and 3 generated cells.
csvs = {
    'pets.csv': 'name,age,born,weight\nbarbara,3,2021-04-01,4.5\njoe,11,2014-12-24,\n"smith, jr",,2020-01-01,3\n',
    'mixed.csv': 'a,b,c\n1,2024-01-02,1.5\n2,2024-01-02 10:30:00,2\n9007199254740993,x,\n',
    'quoted.csv': 'x;y\n"a ""b""";"line\nbreak"\n;\n',
    'tabs.csv': 'k\tv\n1\ttrue\n2\tFALSE\n',
}
for name, text in csvs.items():
    write('files_text', name, bytes([0x00 if ';' not in text else 0x20]) + text.encode())
jsonls = {
    'pets.jsonl': '{"name": "barbara", "age": 3, "tags": ["cat"]}\n{"name": "joe", "age": 11.5}\n',
    'late.jsonl': '{"a": 1}\n{"a": 2}\n{"a": "three"}\n{"a": null, "b": {"c": true}}\n',
    'big.jsonl': '{"n": 9007199254740993}\n{"n": 1e400}\n',
}
for name, text in jsonls.items():
    write('files_text', name, b'\x01' + text.encode())
for i, b in enumerate([bytes(range(0, 80)), bytes([3, 9, 1] + list(range(30, 130))), bytes([2, 11, 0] + [i * 29 % 256 for i in range(200)])]):
    write('files_text', f'cells-csv-{i}.bin', b'\x02' + b)
    write('files_text', f'cells-jsonl-{i}.bin', b'\x03' + b)

# files_parquet: generated files (modes 1, 2); mode 0 takes the Parquet files in
# seeds/parquet/, which the target writes from its mode 2 seeds when run as
# `CONN_FUZZ_PARQUET_SEEDS=fuzz/seeds/parquet <files_parquet binary> fuzz/corpus/files_parquet/written-*`.
for i, b in enumerate([bytes(range(0, 120)), bytes([3, 20, 0x4a] + list(range(9)) + [i * 31 % 256 for i in range(400)]), bytes([1, 39, 0xff, 8] + [i * 7 % 256 for i in range(300)])]):
    write('files_parquet', f'written-{i}.bin', b'\x02' + b)
    write('files_parquet', f'edited-{i}.bin', b'\x01' + b)
for path in sorted(glob.glob(os.path.join(here, 'parquet', '*.parquet'))):
    write('files_parquet', os.path.basename(path), b'\x00' + open(path, 'rb').read())

# secrets_env: arbitrary-derived input; a few byte strings.
for i, b in enumerate([b'\x00' * 8, bytes(range(0, 100)), b'\x01pets_db\x00\x03URL\x00sqlite:///x\x01CREATE_ENGINE_KWARGS__POOL_SIZE\x005', bytes([1] + [i * 13 % 256 for i in range(200)])]):
    write('secrets_env', f'seed-{i}.bin', b)
