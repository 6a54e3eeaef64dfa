/*
 * The least a MariaDB/MySQL client can do with `SELECT * FROM bench_1m`: libmariadb's
 * prepared statement (the binary protocol, as conn-sql and connectorx read it), every
 * row fetched into fixed buffers and nothing else; or `text`, the text protocol
 * (mysql_use_result), rows fetched and their lengths summed. Prints the best wall time
 * of RUNS reads; the server's CPU per read is the other half of the floor (see
 * benches/README.md).
 *
 * Build (needs Debian's libmariadb-dev):
 *   gcc -O2 -o /tmp/mariadb_floor benches/c/mariadb_floor.c $(mariadb_config --cflags --libs)
 * Run: /tmp/mariadb_floor binary|text [RUNS]   (root@127.0.0.1:3306, database test)
 */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(MYSQL *m) {
    fprintf(stderr, "%s\n", mysql_error(m));
    exit(1);
}

/* The text protocol: rows as strings, as `mysql --quick` reads them. */
static long text(MYSQL *m, const char *query) {
    if (mysql_real_query(m, query, strlen(query))) die(m);
    MYSQL_RES *result = mysql_use_result(m);
    unsigned columns = mysql_num_fields(result);
    long rows = 0;
    unsigned long bytes = 0;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(result))) {
        unsigned long *lengths = mysql_fetch_lengths(result);
        for (unsigned i = 0; i < columns; i++) bytes += lengths[i];
        rows++;
    }
    mysql_free_result(result);
    return bytes > 0 ? rows : -1;
}

/* The binary protocol: a prepared statement, each row into fixed buffers. */
static long binary(MYSQL *m, const char *query) {
    MYSQL_STMT *stmt = mysql_stmt_init(m);
    if (mysql_stmt_prepare(stmt, query, strlen(query)) || mysql_stmt_execute(stmt)) die(m);
    long long id;
    int small;
    double ratio;
    char name[64], price[64], note[64];
    MYSQL_TIME at;
    signed char flag;
    my_bool is_null[8];
    unsigned long length[8];
    enum enum_field_types types[8] = {MYSQL_TYPE_LONGLONG, MYSQL_TYPE_LONG,   MYSQL_TYPE_DOUBLE,
                                      MYSQL_TYPE_STRING,   MYSQL_TYPE_DATETIME, MYSQL_TYPE_TINY,
                                      MYSQL_TYPE_STRING,   MYSQL_TYPE_STRING};
    void *buffers[8] = {&id, &small, &ratio, name, &at, &flag, price, note};
    unsigned long sizes[8] = {8, 4, 8, 64, sizeof at, 1, 64, 64};
    MYSQL_BIND bind[8];
    memset(bind, 0, sizeof bind);
    for (int i = 0; i < 8; i++) {
        bind[i].buffer_type = types[i];
        bind[i].buffer = buffers[i];
        bind[i].buffer_length = sizes[i];
        bind[i].is_null = &is_null[i];
        bind[i].length = &length[i];
    }
    if (mysql_stmt_bind_result(stmt, bind)) die(m);
    long rows = 0;
    int status;
    while ((status = mysql_stmt_fetch(stmt)) == 0) rows++;
    if (status != MYSQL_NO_DATA) {
        fprintf(stderr, "fetch: %s\n", mysql_stmt_error(stmt));
        exit(1);
    }
    mysql_stmt_close(stmt);
    return rows;
}

int main(int argc, char **argv) {
    if (argc < 2 || (strcmp(argv[1], "binary") && strcmp(argv[1], "text"))) {
        fprintf(stderr, "usage: %s binary|text [RUNS]\n", argv[0]);
        return 2;
    }
    MYSQL *m = mysql_init(NULL);
    if (!mysql_real_connect(m, "127.0.0.1", "root", "", "test", 3306, NULL, 0)) die(m);
    const char *query = "SELECT * FROM bench_1m";
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    double best = 1e9;
    long rows = 0;
    for (int i = 0; i < runs; i++) {
        double start = now();
        rows = strcmp(argv[1], "text") ? binary(m, query) : text(m, query);
        double took = now() - start;
        if (took < best) best = took;
    }
    printf("%s rows=%ld best=%.3f s\n", argv[1], rows, best);
    mysql_close(m);
    return 0;
}
