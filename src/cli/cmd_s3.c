/*
 * cmd_s3.c - `cairn s3 cp|ls|rm`: copy files to and from S3-compatible
 * object storage, list and delete objects, through the client in
 * include/cairn/s3.h (SigV4, multipart uploads, retries).
 *
 * The endpoint comes from --endpoint, else AWS_ENDPOINT_URL_S3 /
 * AWS_ENDPOINT_URL, else AWS; credentials from the AWS_* environment.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cairn/core.h"
#include "cairn/s3.h"
#include "cli.h"

int cmd_s3_run(int argc, char **argv, cairn_config *cfg);
void cmd_s3_help(void);

void cmd_s3_help(void)
{
    printf("usage: cairn s3 cp SRC DST [options]     SRC/DST: a local path or s3://bucket/key\n"
           "       cairn s3 ls s3://bucket[/prefix] [--recursive] [options]\n"
           "       cairn s3 rm s3://bucket/key [options]\n\n"
           "Copies files to or from S3-compatible object storage (multipart above\n"
           "64 MiB or $CAIRN_S3_MULTIPART_BYTES), lists and deletes objects.\n"
           "Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN.\n\n"
           "  --endpoint URL   http(s)://host:port of the server (default\n"
           "                   $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else AWS S3)\n"
           "  --region NAME    default $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1\n"
           "  --virtual-host   bucket.host/key addressing instead of host/bucket/key\n"
           "  --retries N      retries of a failed request (default 4)\n"
           "  --recursive      ls: every key under the prefix, not one level\n");
}

struct s3_args {
    const char *endpoint;
    const char *region;
    int virtual_host;
    int retries;
    int recursive;
    const char *pos[3];
    int npos;
};

static int open_client(const struct s3_args *a, const char *bucket, cairn_s3 **out)
{
    cairn_s3_opts o = CAIRN_S3_OPTS_INIT;
    o.endpoint = a->endpoint;
    o.region = a->region;
    o.bucket = bucket;
    if (a->virtual_host) o.path_style = 0;
    if (a->retries >= 0) o.max_retries = a->retries ? a->retries : -1;
    return cairn_s3_new(out, &o);
}

static int print_obj(const cairn_s3_object *obj, void *payload)
{
    (void)payload;
    if (obj->is_prefix) {
        printf("%30s PRE %s\n", "", obj->key);
        return 0;
    }
    char when[32] = "";
    time_t t = (time_t)(obj->mtime_ms / 1000);
    struct tm tm;
    if (obj->mtime_ms && gmtime_r(&t, &tm)) strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
    printf("%19s %10llu %s\n", when, (unsigned long long)obj->size, obj->key);
    return 0;
}

/* `cp`: exactly one side is s3://. A DST ending in '/' (or a local
 * directory) takes the source's base name. */
static int do_cp(const struct s3_args *a)
{
    const char *src = a->pos[1], *dst = a->pos[2];
    int up = cairn_str_startswith(dst, "s3://"), down = cairn_str_startswith(src, "s3://");
    if (up == down) return cli_usage_error("s3 cp: exactly one of SRC and DST must be s3://bucket/key");
    char *bucket = NULL, *key = NULL;
    if (cairn_s3_parse_url(up ? dst : src, &bucket, &key) < 0) return cli_fail();
    cairn_buf target = CAIRN_BUF_INIT(0);
    const char *local = up ? src : dst;
    const char *base = strrchr(up ? src : key, '/');
    base = base ? base + 1 : (up ? src : key);
    int rc;
    if (up) {
        cairn_buf_printf(&target, "%s%s", key, !*key || key[strlen(key) - 1] == '/' ? base : "");
    } else {
        struct stat st;
        int isdir = stat(local, &st) == 0 && S_ISDIR(st.st_mode);
        size_t n = strlen(local);
        cairn_buf_puts(&target, local);
        if (isdir || (n && local[n - 1] == '/'))
            cairn_buf_printf(&target, "%s%s", n && local[n - 1] == '/' ? "" : "/", base);
    }
    cairn_s3 *s3 = NULL;
    if (!*base) {
        rc = cli_usage_error("s3 cp: '%s' names no object", up ? src : src);
    } else if ((rc = open_client(a, bucket, &s3)) < 0) {
        rc = cli_fail();
    } else {
        rc = up ? cairn_s3_put_file(s3, target.ptr, local) : cairn_s3_get_file(s3, key, target.ptr);
        if (rc < 0) {
            rc = cli_fail();
        } else {
            if (up) printf("upload: %s to s3://%s/%s\n", local, bucket, target.ptr);
            else printf("download: %s to %s\n", src, target.ptr);
            rc = 0;
        }
    }
    cairn_s3_free(s3);
    cairn_buf_free(&target);
    cairn_free(bucket);
    cairn_free(key);
    return rc;
}

static int do_ls_rm(const struct s3_args *a, int is_rm)
{
    char *bucket = NULL, *key = NULL;
    if (cairn_s3_parse_url(a->pos[1], &bucket, &key) < 0) return cli_fail();
    cairn_s3 *s3 = NULL;
    int rc = open_client(a, bucket, &s3);
    if (rc == 0 && is_rm) {
        if (!*key) rc = cairn_error_set(CAIRN_EINVALID, CAIRN_SUBSYS_CLI, "s3 rm needs s3://bucket/key");
        if (rc == 0) rc = cairn_s3_delete(s3, key);
        if (rc == 0) printf("delete: %s\n", a->pos[1]);
    } else if (rc == 0) {
        rc = cairn_s3_list(s3, key, a->recursive ? NULL : "/", print_obj, NULL);
    }
    cairn_s3_free(s3);
    cairn_free(bucket);
    cairn_free(key);
    return rc < 0 ? cli_fail() : 0;
}

int cmd_s3_run(int argc, char **argv, cairn_config *cfg)
{
    (void)cfg;
    struct s3_args a = {.retries = -1};
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (cli_is_help(s)) {
            cmd_s3_help();
            return 0;
        }
        int has_val = i + 1 < argc;
        if (!strcmp(s, "--endpoint") && has_val) {
            a.endpoint = argv[++i];
        } else if (!strcmp(s, "--region") && has_val) {
            a.region = argv[++i];
        } else if (!strcmp(s, "--retries") && has_val) {
            int64_t n;
            if (cairn_parse_i64(argv[++i], &n) < 0 || n < 0 || n > 100)
                return cli_usage_error("s3: --retries must be 0..100");
            a.retries = (int)n;
        } else if (!strcmp(s, "--virtual-host")) {
            a.virtual_host = 1;
        } else if (!strcmp(s, "--recursive") || !strcmp(s, "-r")) {
            a.recursive = 1;
        } else if (s[0] == '-' && s[1]) {
            return cli_usage_error("s3: unknown option '%s' (see cairn s3 --help)", s);
        } else if (a.npos < 3) {
            a.pos[a.npos++] = s;
        } else {
            return cli_usage_error("s3: too many arguments");
        }
    }
    if (a.npos == 0) return cli_usage_error("s3: missing subcommand: cp, ls or rm");
    if (!strcmp(a.pos[0], "cp")) {
        if (a.npos != 3) return cli_usage_error("s3 cp: needs SRC and DST");
        return do_cp(&a);
    }
    if (!strcmp(a.pos[0], "ls") || !strcmp(a.pos[0], "rm")) {
        if (a.npos != 2) return cli_usage_error("s3 %s: needs one s3:// url", a.pos[0]);
        return do_ls_rm(&a, a.pos[0][0] == 'r');
    }
    return cli_usage_error("s3: unknown subcommand '%s': cp, ls or rm", a.pos[0]);
}
