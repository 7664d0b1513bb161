/*
 * kmeans_test.c - k-means and the silhouette score against scikit-learn
 * (tests/fixtures/linear/blobs.json, made by tests/fixtures/gen_linear.py).
 *
 * Tolerances: inertia 1e-6 relative when started from sklearn's final
 * centroids (and centroids 1e-9), 1e-6 relative from our own k-means++ with
 * n_init = 10 (the blobs have one clear optimum), silhouette 1e-10 absolute.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <omp.h>

#include "cairn/linear.h"

struct blobs {
    json_t *doc;
    cairn_frame *x;
    double *centroids; /* sklearn's (k, d) */
    int32_t *labels;   /* sklearn's */
    double inertia;
    int k;
};

static double *rows_to_doubles(const json_t *rows, size_t *n, size_t *d)
{
    *n = json_array_size(rows);
    *d = json_array_size(json_array_get(rows, 0));
    double *v = malloc(sizeof(double) * *n * *d);
    for (size_t i = 0; i < *n; i++)
        for (size_t j = 0; j < *d; j++)
            v[i * *d + j] = json_number_value(json_array_get(json_array_get(rows, i), j));
    return v;
}

static int32_t *ints(const json_t *a)
{
    size_t n = json_array_size(a);
    int32_t *v = malloc(sizeof(int32_t) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        v[i] = (int32_t)json_integer_value(json_array_get(a, i));
    return v;
}

static int setup(void **state)
{
    const char *src = getenv("CAIRN_SOURCE_DIR");
    if (!src) src = CAIRN_SOURCE_DIR;
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/fixtures/linear/blobs.json", src);
    json_error_t err;
    struct blobs *b = calloc(1, sizeof(*b));
    b->doc = json_load_file(path, 0, &err);
    if (!b->doc) {
        fprintf(stderr, "cannot load %s: %s\n", path, err.text);
        free(b);
        return -1;
    }
    size_t n, d, kk, dd;
    double *x = rows_to_doubles(json_object_get(b->doc, "x"), &n, &d);
    cairn_frame_new(&b->x, n);
    double *col = malloc(sizeof(double) * n);
    for (size_t j = 0; j < d; j++) {
        for (size_t i = 0; i < n; i++)
            col[i] = x[i * d + j];
        char name[32];
        snprintf(name, sizeof(name), "f%zu", j);
        cairn_frame_add_f64(b->x, name, col);
    }
    free(col);
    free(x);
    json_t *km = json_object_get(b->doc, "kmeans");
    b->centroids = rows_to_doubles(json_object_get(km, "centroids"), &kk, &dd);
    b->k = (int)kk;
    b->labels = ints(json_object_get(km, "labels"));
    b->inertia = json_number_value(json_object_get(km, "inertia"));
    *state = b;
    return 0;
}

static int teardown(void **state)
{
    struct blobs *b = *state;
    cairn_frame_free(b->x);
    free(b->centroids);
    free(b->labels);
    json_decref(b->doc);
    free(b);
    return 0;
}

static void test_from_sklearn_centroids(void **state)
{
    struct blobs *b = *state;
    cairn_kmeans_opts o = CAIRN_KMEANS_OPTS_INIT;
    o.k = b->k;
    o.init = b->centroids;
    cairn_kmeans *m;
    assert_int_equal(cairn_kmeans_fit(&m, b->x, &o), 0);
    double rel = fabs(cairn_kmeans_inertia(m) - b->inertia) / b->inertia;
    printf("  from sklearn centroids: inertia %.10g vs %.10g (rel %.2g)\n", cairn_kmeans_inertia(m),
           b->inertia, rel);
    assert_true(rel <= 1e-6);
    int d = cairn_kmeans_nfeatures(m);
    for (int i = 0; i < b->k * d; i++)
        assert_true(fabs(cairn_kmeans_centroids(m)[i] - b->centroids[i]) <= 1e-9);
    int32_t *lab = malloc(sizeof(int32_t) * b->x->nrows);
    assert_int_equal(cairn_kmeans_predict(m, b->x, lab), 0);
    for (size_t i = 0; i < b->x->nrows; i++)
        assert_int_equal(lab[i], b->labels[i]);
    free(lab);
    cairn_kmeans_free(m);
}

/* Sum of squared distances of the rows to their predicted centroid. */
static double inertia_of(const cairn_kmeans *m, const cairn_frame *x)
{
    int32_t *lab = malloc(sizeof(int32_t) * x->nrows);
    assert_int_equal(cairn_kmeans_predict(m, x, lab), 0);
    int d = cairn_kmeans_nfeatures(m);
    double s = 0;
    for (size_t i = 0; i < x->nrows; i++)
        for (int j = 0; j < d; j++) {
            double t = x->cols[j].f64[i] - cairn_kmeans_centroids(m)[lab[i] * d + j];
            s += t * t;
        }
    free(lab);
    return s;
}

static void test_kmeanspp(void **state)
{
    struct blobs *b = *state;
    cairn_kmeans_opts o = CAIRN_KMEANS_OPTS_INIT;
    o.k = b->k;
    o.n_init = 10;
    o.seed = 42;
    cairn_kmeans *m, *m2;
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    assert_int_equal(cairn_kmeans_fit(&m, b->x, &o), 0);
    omp_set_num_threads(2);
    assert_int_equal(cairn_kmeans_fit(&m2, b->x, &o), 0);
    omp_set_num_threads(saved);
    double rel = fabs(cairn_kmeans_inertia(m) - b->inertia) / b->inertia;
    printf(
        "  own k-means++ (n_init 10): inertia %.10g vs sklearn %.10g (rel %.2g), %d iterations\n",
        cairn_kmeans_inertia(m), b->inertia, rel, cairn_kmeans_n_iter(m));
    assert_true(rel <= 1e-6);
    /* the reported inertia is that of the reported centroids */
    assert_true(fabs(inertia_of(m, b->x) - cairn_kmeans_inertia(m)) <= 1e-9 * b->inertia);
    /* same seed, any thread count: identical */
    assert_memory_equal(cairn_kmeans_centroids(m), cairn_kmeans_centroids(m2),
                        sizeof(double) * (size_t)b->k * (size_t)b->x->ncols);
    assert_true(cairn_kmeans_inertia(m) == cairn_kmeans_inertia(m2));
    cairn_kmeans_free(m2);

    /* a single restart never beats the best of ten with the same stream */
    o.n_init = 1;
    assert_int_equal(cairn_kmeans_fit(&m2, b->x, &o), 0);
    assert_true(cairn_kmeans_inertia(m2) >= cairn_kmeans_inertia(m));
    cairn_kmeans_free(m2);
    cairn_kmeans_free(m);
}

static void test_k_equals_n(void **state)
{
    double v[5] = {1, 2, 4, 8, 16};
    cairn_frame *x;
    cairn_frame_new(&x, 5);
    cairn_frame_add_f64(x, "v", v);
    cairn_kmeans_opts o = CAIRN_KMEANS_OPTS_INIT;
    o.k = 5;
    cairn_kmeans *m;
    assert_int_equal(cairn_kmeans_fit(&m, x, &o), 0);
    assert_true(cairn_kmeans_inertia(m) == 0.0);
    cairn_kmeans_free(m);
    o.k = 1;
    assert_int_equal(cairn_kmeans_fit(&m, x, &o), 0);
    assert_true(fabs(cairn_kmeans_centroids(m)[0] - 6.2) <= 1e-12);
    cairn_kmeans_free(m);
    cairn_frame_free(x);
}

static void test_silhouette(void **state)
{
    struct blobs *b = *state;
    json_t *s = json_object_get(b->doc, "silhouette");
    int32_t *lab = ints(json_object_get(s, "labels")),
            *other = ints(json_object_get(s, "other_labels"));
    double got, want = json_number_value(json_object_get(s, "score"));
    assert_int_equal(cairn_kmeans_silhouette(b->x, lab, 0, 0, &got), 0);
    printf("  silhouette %.15g vs sklearn %.15g\n", got, want);
    assert_true(fabs(got - want) <= 1e-10);
    want = json_number_value(json_object_get(s, "other_score"));
    assert_int_equal(cairn_kmeans_silhouette(b->x, other, 0, 0, &got), 0);
    printf("  silhouette (other labels) %.15g vs sklearn %.15g\n", got, want);
    assert_true(fabs(got - want) <= 1e-10);

    /* relabelling changes nothing */
    int32_t *shifted = malloc(sizeof(int32_t) * b->x->nrows);
    for (size_t i = 0; i < b->x->nrows; i++)
        shifted[i] = 100 - 3 * other[i];
    double got2;
    assert_int_equal(cairn_kmeans_silhouette(b->x, shifted, 0, 0, &got2), 0);
    assert_true(fabs(got2 - got) <= 1e-12);

    /* sampling: the whole set is exact; a subset is deterministic and near */
    double full, s1, s2;
    assert_int_equal(cairn_kmeans_silhouette(b->x, lab, b->x->nrows, 5, &full), 0);
    want = json_number_value(json_object_get(s, "score"));
    assert_true(fabs(full - want) <= 1e-10);
    assert_int_equal(cairn_kmeans_silhouette(b->x, lab, 150, 5, &s1), 0);
    assert_int_equal(cairn_kmeans_silhouette(b->x, lab, 150, 5, &s2), 0);
    assert_true(s1 == s2);
    assert_true(s1 != want && fabs(s1 - want) < 0.1);
    free(shifted);
    free(lab);
    free(other);
}

static void test_invalid(void **state)
{
    struct blobs *b = *state;
    cairn_kmeans_opts o = CAIRN_KMEANS_OPTS_INIT;
    cairn_kmeans *m = (cairn_kmeans *)1;
    o.k = (int)b->x->nrows + 1;
    assert_int_equal(cairn_kmeans_fit(&m, b->x, &o), CAIRN_EINVALID);
    assert_null(m);
    o.k = 0;
    assert_int_equal(cairn_kmeans_fit(&m, b->x, &o), CAIRN_EINVALID);
    o.k = 3;

    double one = 1.0;
    cairn_frame *x1;
    cairn_frame_new(&x1, 1);
    cairn_frame_add_f64(x1, "a", &one);
    o.k = 1;
    assert_int_equal(cairn_kmeans_fit(&m, x1, &o), CAIRN_EINVALID); /* n < 2 */
    cairn_frame_free(x1);

    double v[4] = {1, NAN, 3, 4};
    cairn_frame *xn;
    cairn_frame_new(&xn, 4);
    cairn_frame_add_f64(xn, "a", v);
    o.k = 2;
    assert_int_equal(cairn_kmeans_fit(&m, xn, &o), CAIRN_EINVALID);
    int32_t l4[4] = {0, 0, 1, 1};
    double sc;
    assert_int_equal(cairn_kmeans_silhouette(xn, l4, 0, 0, &sc), CAIRN_EINVALID);
    cairn_frame_free(xn);

    v[1] = 2;
    cairn_frame_new(&xn, 4);
    cairn_frame_add_f64(xn, "a", v);
    double bad_init[2] = {1, INFINITY};
    o.init = bad_init;
    assert_int_equal(cairn_kmeans_fit(&m, xn, &o), CAIRN_EINVALID);
    o.init = NULL;
    int32_t same[4] = {7, 7, 7, 7}, distinct[4] = {0, 1, 2, 3};
    assert_int_equal(cairn_kmeans_silhouette(xn, same, 0, 0, &sc), CAIRN_EINVALID);
    assert_int_equal(cairn_kmeans_silhouette(xn, distinct, 0, 0, &sc), CAIRN_EINVALID);
    assert_int_equal(cairn_kmeans_silhouette(xn, l4, 0, 0, &sc), 0);
    /* outer rows: a = 1, b = 2.5, s = 0.6; inner rows: a = 1, b = 1.5, s = 1/3 */
    assert_true(fabs(sc - 7.0 / 15.0) <= 1e-15);
    int32_t codes[4] = {0, 1, 0, 1};
    const char *dict[] = {"p", "q"};
    cairn_frame_add_cat(xn, "c", codes, dict, 2);
    assert_int_equal(cairn_kmeans_fit(&m, xn, &o), CAIRN_EINVALID);
    cairn_frame_free(xn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_sklearn_centroids),
        cmocka_unit_test(test_kmeanspp),
        cmocka_unit_test(test_k_equals_n),
        cmocka_unit_test(test_silhouette),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
