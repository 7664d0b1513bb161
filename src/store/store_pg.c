/*
 * store_pg.c - the PostgreSQL backend (libpq).
 *
 * Key idea: the shared SQL uses `?` placeholders; they are rewritten to
 * $1..$n here and sent with PQexecParams as text parameters. Integers and
 * doubles are typed (int8, float8) so PostgreSQL resolves operators the way
 * SQLite's dynamic typing would; text is sent as type "unknown" so the
 * server infers it from context (a text column, a LIKE, lower()). Result
 * columns come back typed by their column type OID. Per-call scratch memory
 * (rewritten SQL, parameter strings) lives in buffers owned by the
 * connection, so steady-state calls do not allocate. SQLSTATEs are
 * translated to cairn codes here and nowhere else.
 */
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* type OIDs from pg_type.dat (stable across versions) */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_OID 26
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

#define STACK_PARAMS 16
#define STACK_COLS 32

struct pg_conn {
    PGconn *pg;
    cairn_buf sql;    /* rewritten statement */
    cairn_buf params; /* NUL-separated parameter strings */
};

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Trims libpq's trailing newline(s) into a one-line message. */
static void one_line(const char *in, char *out, size_t n)
{
    snprintf(out, n, "%s", in ? in : "");
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\r') {
            *p = '\0';
            break;
        }
}

/* Translates a failed result (or a lost connection) into a cairn code. */
static int map_error(struct pg_conn *c, PGresult *res)
{
    char msg[200];
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    one_line(primary ? primary : PQerrorMessage(c->pg), msg, sizeof(msg));
    int code = CAIRN_ERROR;
    if (PQstatus(c->pg) == CONNECTION_BAD || !state)
        code = CAIRN_EIO;
    else if (strcmp(state, "23505") == 0)
        code = CAIRN_EEXISTS;
    else if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
             strcmp(state, "55P03") == 0 || strcmp(state, "55006") == 0)
        code = CAIRN_EBUSY;
    else if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
             strncmp(state, "53", 2) == 0 || strncmp(state, "58", 2) == 0)
        code = CAIRN_EIO;
    else if (strncmp(state, "42", 2) == 0 || strncmp(state, "22", 2) == 0 ||
             strncmp(state, "23", 2) == 0 || strncmp(state, "25", 2) == 0 ||
             strncmp(state, "0A", 2) == 0)
        code = CAIRN_EINVALID;
    else if (strcmp(state, "XX001") == 0 || strcmp(state, "XX002") == 0)
        code = CAIRN_ECORRUPT;
    return cairn_error_set(code, CAIRN_SUBSYS_STORE, "postgres: %s%s%s", msg,
                           state ? " sqlstate=" : "", state ? state : "");
}

/* Writes a double the way PostgreSQL's float8 input reads it back exactly. */
static int format_real(cairn_buf *b, double d)
{
    if (isnan(d)) return cairn_buf_put(b, "NaN", 4);
    if (isinf(d))
        return d > 0 ? cairn_buf_put(b, "Infinity", 9) : cairn_buf_put(b, "-Infinity", 10);
    int rc = cairn_buf_printf(b, "%.17g", d);
    return rc < 0 ? rc : cairn_buf_putc(b, '\0');
}

/* Fills types/offsets for the parameters into c->params; pointers are fixed
 * up after all strings are appended (the buffer may move while growing). */
static int build_params(struct pg_conn *c, const cairn_value *params, int n, Oid *types,
                        size_t *offs)
{
    cairn_buf_reset(&c->params);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const cairn_value *v = &params[i];
        offs[i] = c->params.len;
        switch (v->type) {
        case CAIRN_V_NULL:
            types[i] = 0;
            offs[i] = (size_t)-1;
            break;
        case CAIRN_V_INT:
            types[i] = OID_INT8;
            rc = cairn_buf_printf(&c->params, "%lld", (long long)v->u.i);
            if (rc == 0) rc = cairn_buf_putc(&c->params, '\0');
            break;
        case CAIRN_V_REAL:
            types[i] = OID_FLOAT8;
            rc = format_real(&c->params, v->u.d);
            break;
        case CAIRN_V_TEXT:
            types[i] = 0;
            if (v->u.s.len && memchr(v->u.s.ptr, '\0', v->u.s.len))
                return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_STORE,
                                       "text parameter %d contains a NUL byte", i + 1);
            if (v->u.s.len) rc = cairn_buf_put(&c->params, v->u.s.ptr, v->u.s.len);
            if (rc == 0) rc = cairn_buf_putc(&c->params, '\0');
            break;
        default:
            return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_STORE,
                                   "bad value type %d for parameter %d", (int)v->type, i + 1);
        }
    }
    return rc;
}

static cairn_vtype vtype_of(Oid t)
{
    switch (t) {
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID:
    case OID_BOOL:
        return CAIRN_V_INT;
    case OID_FLOAT4:
    case OID_FLOAT8:
    case OID_NUMERIC:
        return CAIRN_V_REAL;
    default:
        return CAIRN_V_TEXT;
    }
}

/* Converts one field; strtod reads "NaN", "Infinity" and "-Infinity". */
static cairn_value field(PGresult *res, int row, int col, cairn_vtype t)
{
    if (PQgetisnull(res, row, col)) return CAIRN_VNULL;
    const char *s = PQgetvalue(res, row, col);
    switch (t) {
    case CAIRN_V_INT:
        if (s[0] == 't' && s[1] == '\0') return CAIRN_VINT(1); /* bool */
        if (s[0] == 'f' && s[1] == '\0') return CAIRN_VINT(0);
        return CAIRN_VINT(strtoll(s, NULL, 10));
    case CAIRN_V_REAL:
        return CAIRN_VREAL(strtod(s, NULL));
    default:
        return CAIRN_VTEXTN(s, (size_t)PQgetlength(res, row, col));
    }
}

static int emit_rows(PGresult *res, cairn_row_cb cb, void *payload)
{
    int ncols = PQnfields(res), nrows = PQntuples(res), rc = 0;
    cairn_value stack_cols[STACK_COLS];
    cairn_vtype stack_types[STACK_COLS];
    cairn_value *cols = stack_cols;
    cairn_vtype *types = stack_types;
    if (ncols > STACK_COLS) {
        cols = cairn_malloc(sizeof(*cols) * (size_t)ncols);
        types = cairn_malloc(sizeof(*types) * (size_t)ncols);
    }
    for (int j = 0; j < ncols; j++)
        types[j] = vtype_of(PQftype(res, j));
    for (int i = 0; i < nrows && rc == 0; i++) {
        for (int j = 0; j < ncols; j++)
            cols[j] = field(res, i, j, types[j]);
        rc = cb(cols, ncols, payload);
    }
    if (cols != stack_cols) {
        cairn_free(cols);
        cairn_free(types);
    }
    return rc;
}

static int pg_exec(void *conn, const char *sql, const cairn_value *params, int nparams,
                   cairn_row_cb cb, void *payload, int64_t *changes_out)
{
    struct pg_conn *c = conn;
    int count = 0, rc;
    cairn_buf_reset(&c->sql);
    if ((rc = cairn_store__rewrite_placeholders(sql, &c->sql, &count)) < 0) return rc;
    if (count != nparams)
        return cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_STORE,
                               "statement has %d parameters, %d given", count, nparams);
    Oid stack_types[STACK_PARAMS];
    size_t stack_offs[STACK_PARAMS];
    const char *stack_vals[STACK_PARAMS];
    Oid *types = stack_types;
    size_t *offs = stack_offs;
    const char **vals = stack_vals;
    if (nparams > STACK_PARAMS) {
        types = cairn_malloc(sizeof(*types) * (size_t)nparams);
        offs = cairn_malloc(sizeof(*offs) * (size_t)nparams);
        vals = cairn_malloc(sizeof(*vals) * (size_t)nparams);
    }
    PGresult *res = NULL;
    if ((rc = build_params(c, params, nparams, types, offs)) < 0) goto done;
    for (int i = 0; i < nparams; i++)
        vals[i] = offs[i] == (size_t)-1 ? NULL : c->params.ptr + offs[i];
    res = PQexecParams(c->pg, cairn_buf_cstr(&c->sql), nparams, types, vals, NULL, NULL, 0);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (changes_out) {
            const char *t = PQcmdTuples(res);
            *changes_out = t && *t ? strtoll(t, NULL, 10) : 0;
        }
        if (st == PGRES_TUPLES_OK && cb) rc = emit_rows(res, cb, payload);
    } else {
        rc = map_error(c, res);
    }
done:
    PQclear(res);
    if (types != stack_types) {
        cairn_free(types);
        cairn_free(offs);
        cairn_free(vals);
    }
    return rc;
}

static int pg_exec_script(void *conn, const char *sql)
{
    struct pg_conn *c = conn;
    PGresult *res = PQexec(c->pg, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int rc = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? 0 : map_error(c, res);
    PQclear(res);
    return rc;
}

static void pg_disconnect(void *conn)
{
    struct pg_conn *c = conn;
    if (!c) return;
    PQfinish(c->pg);
    cairn_buf_free(&c->sql);
    cairn_buf_free(&c->params);
    cairn_free(c);
}

static int pg_connect(struct cairn_store *s, int writer, void **out)
{
    (void)writer;
    struct pg_conn *c = cairn_calloc(1, sizeof(*c));
    c->sql = (cairn_buf)CAIRN_BUF_INIT(0);
    c->params = (cairn_buf)CAIRN_BUF_INIT(0);
    c->pg = PQconnectdb(s->target);
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
        char msg[200];
        one_line(c->pg ? PQerrorMessage(c->pg) : "out of memory", msg, sizeof(msg));
        pg_disconnect(c);
        return cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_STORE, "postgres: cannot connect: %s", msg);
    }
    PQsetNoticeProcessor(c->pg, ignore_notice, NULL);
    /* predictable text for floats and strings whatever the server's defaults */
    int rc = pg_exec_script(c, "SET extra_float_digits = 3; SET standard_conforming_strings = on; "
                               "SET client_encoding = 'UTF8'");
    if (rc < 0) {
        pg_disconnect(c);
        return rc;
    }
    *out = c;
    return 0;
}

static int pg_broken(void *conn)
{
    struct pg_conn *c = conn;
    return PQstatus(c->pg) != CONNECTION_OK;
}

static int pg_reset(void *conn)
{
    struct pg_conn *c = conn;
    PQreset(c->pg);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        char msg[200];
        one_line(PQerrorMessage(c->pg), msg, sizeof(msg));
        return cairn_error_set(CAIRN_EIO, CAIRN_SUBSYS_STORE, "postgres: cannot reconnect: %s",
                               msg);
    }
    PQsetNoticeProcessor(c->pg, ignore_notice, NULL);
    return pg_exec_script(c, "SET extra_float_digits = 3; SET standard_conforming_strings = on; "
                             "SET client_encoding = 'UTF8'");
}

const struct cairn_store_backend cairn_store__pg_backend = {
    CAIRN_STORE_POSTGRES, "postgres", "BEGIN",  pg_connect, pg_disconnect, pg_exec,
    pg_exec_script,       pg_broken,  pg_reset,
};
