#!/usr/bin/python3
"""bench/drift's peer: the same drift statistics with SciPy/numpy (Debian).

    drift_peer.py run ROWS OUT.tsv        statistics per feature, timed
    drift_peer.py compare SCIPY.tsv CAIRN_EXACT.tsv CAIRN_SKETCH.tsv TIMES

The data comes from the generator of bench/drift_main.c, reproduced bit for
bit (splitmix64 -> uniforms -> Irwin-Hall(4) normals). Timings cover the
statistics only, not generating the data:
  numeric (100): scipy.stats.ks_2samp(ref, cur) (method auto: asymptotic
    here), scipy.stats.wasserstein_distance, PSI on np.quantile(ref,
    linspace(0, 1, 11)) edges (numpy: searchsorted + bincount, empty shares
    set to 1e-4), scipy.spatial.distance.jensenshannon on the same bins;
  categorical (10): counts (np.bincount), scipy.stats.chisquare(cur,
    ref * n_cur / n_ref), jensenshannon, PSI.
"""
import resource
import sys
import time

import numpy as np
from scipy import stats
from scipy.spatial import distance

NUM, CAT, K, NBINS = 100, 10, 20, 10
M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def splitmix(x):
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def unif(k):
    return (splitmix(k) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def gen_num(f, side, rows):
    mu, sd = f * 0.5, 1.0 + f % 4
    shift, sc = (f % 5) * 0.05, 1.0 + (f % 3) * 0.1
    base = np.uint64((side * 256 + f) << 40)
    k = (base + np.arange(rows, dtype=np.uint64)) * np.uint64(4)
    g = (((unif(k) + unif(k + np.uint64(1))) + unif(k + np.uint64(2))) + unif(k + np.uint64(3)) - 2.0) * 1.7320508075688772
    return mu + sd * (g * sc + shift) if side else mu + sd * g


def gen_cat(f, side, rows):
    base = np.uint64((side * 256 + 128 + f) << 40)
    u = unif(base + np.arange(rows, dtype=np.uint64))
    return ((u if (side and f % 2) else u * u) * K).astype(np.int64)


def psi_reference(r, c, eps=1e-4):
    r = np.asarray(r, dtype=np.float64) / np.sum(r)
    c = np.asarray(c, dtype=np.float64) / np.sum(c)
    r = np.where(r == 0, eps, r)
    c = np.where(c == 0, eps, c)
    return float(np.sum((c - r) * np.log(c / r)))


def run(rows, out):
    np.seterr(over="ignore")
    t_stats = 0.0
    res = []
    for f in range(NUM):
        a, b = gen_num(f, 0, rows), gen_num(f, 1, rows)
        t0 = time.perf_counter()
        ks = stats.ks_2samp(a, b)
        w = stats.wasserstein_distance(a, b)
        edges = np.unique(np.quantile(a, np.linspace(0, 1, NBINS + 1)))
        k = len(edges) - 1
        rc = np.bincount(np.clip(np.searchsorted(edges, a, "right") - 1, 0, k - 1), minlength=k)
        cc = np.bincount(np.clip(np.searchsorted(edges, b, "right") - 1, 0, k - 1), minlength=k)
        psi = psi_reference(rc, cc)
        js = distance.jensenshannon(rc, cc)
        t_stats += time.perf_counter() - t0
        res.append("num\t%d\t%.17g\t%.17g\t%.17g\t%.17g\t%.17g" % (f, ks.statistic, ks.pvalue, w, psi, js))
    for f in range(CAT):
        a, b = gen_cat(f, 0, rows), gen_cat(f, 1, rows)
        t0 = time.perf_counter()
        rc = np.bincount(a, minlength=K).astype(np.float64)
        cc = np.bincount(b, minlength=K).astype(np.float64)
        keep = (rc > 0) | (cc > 0)
        rc, cc = rc[keep], cc[keep]
        chi = stats.chisquare(cc, rc * (cc.sum() / rc.sum()))
        js = distance.jensenshannon(rc, cc)
        psi = psi_reference(rc, cc)
        t_stats += time.perf_counter() - t0
        res.append("cat\t%d\t%.17g\t%.17g\t%.17g\t%.17g" % (f, chi.statistic, chi.pvalue, js, psi))
    with open(out, "w") as fh:
        fh.write("\n".join(res) + "\n")
    print("scipy\tstats_s\t%.3f" % t_stats)
    print("scipy\tpeak_rss_mb\t%.1f" % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0))


def load(path):
    d = {}
    for line in open(path):
        p = line.split("\t")
        d[(p[0], int(p[1]))] = [float(x) for x in p[2:]]
    return d


def compare(scipy_tsv, exact_tsv, sketch_tsv, times):
    t = {}
    for line in open(times):
        p = line.split("\t")
        if len(p) == 3:
            t[(p[0], p[1])] = p[2].strip()
    s, e, k = load(scipy_tsv), load(exact_tsv), load(sketch_tsv)
    names = {"num": ["ks", "ks_p", "wasserstein", "psi", "js"], "cat": ["chi2", "chi2_p", "js", "psi"]}

    def maxdiff(d, kind, i, rel=False):
        m = 0.0
        for key, v in s.items():
            if key[0] != kind:
                continue
            a, b = v[i], d[key][i]
            if np.isinf(a) and a == b:
                continue
            x = abs(a - b)
            if rel:
                x = x / abs(a) if a != 0 else x
            m = max(m, x)
        return m

    print("%-22s %14s %14s" % ("statistic", "max|diff| exact", "max|diff| sketch"))
    for kind in ("num", "cat"):
        for i, n in enumerate(names[kind]):
            print("%-22s %14.3g %14.3g" % (kind + ":" + n, maxdiff(e, kind, i), maxdiff(k, kind, i)))
    sp = float(t[("scipy", "stats_s")])
    print()
    print("%-34s %10s %10s %12s" % ("figure", "seconds", "vs scipy", "peak RSS MB"))
    print("%-34s %10.2f %10s %12s" % ("scipy/numpy (1 core)", sp, "1.0x", t[("scipy", "peak_rss_mb")]))
    for mode, label in (("exact", "cairn exact (full columns)"), ("sketch", "cairn sketches (streamed)")):
        cs = float(t[(mode, "stats_s")])
        print("%-34s %10.2f %9.1fx %12s" % (label + " %s thr" % t[(mode, "threads")], cs,
                                           sp / cs if cs > 0 else float("inf"), t[(mode, "peak_rss_mb")]))
    for key in (("hot", "add_ns_per_value"), ("hot", "row20_ns"), ("hot", "serialized_bytes")):
        if key in t:
            print("%-34s %10s" % ("sketch " + key[1], t[key]))


if __name__ == "__main__":
    if sys.argv[1] == "run":
        run(int(sys.argv[2]), sys.argv[3])
    else:
        compare(*sys.argv[2:6])
