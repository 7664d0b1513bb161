"""train_peer.py - the reference side of bench/train: xgboost and scikit-learn.

Run with Debian's /usr/bin/python3 (python3-xgboost, python3-sklearn,
python3-pandas). One measurement per process, mirroring the cairn programs
(bench/train_gbdt.c, predict_bench.c, csv_bench.c), so that the peak RSS
(resource.getrusage(RUSAGE_SELF).ru_maxrss, read before anything that is not
measured is imported) belongs to that measurement alone:

  train_peer.py gbdt DIR TASK POLICY LIB THREADS
      LIB xgboost: tree_method=hist, QuantileDMatrix (the hist method's own
      input, built inside the timed span as cairn's binning is), max_bin 256,
      eta 0.1, lambda 1, min_child_weight 1, 100 rounds; POLICY depthwise =
      max_depth 6, lossguide = max_leaves 31. LIB sklearn:
      HistGradientBoosting{Classifier,Regressor}(max_iter=100,
      max_leaf_nodes=31, learning_rate=0.1, l2_regularization=1,
      max_bins=255, early_stopping=False), lossguide only.
      Trains on DIR/TASK_train.rows.f32, predicts DIR/TASK_test; prints
      train_s, auc or rmse, peak_rss_kb, and base_rss_kb: the peak after the
      imports, before any data.
  train_peer.py predict DIR THREADS TRAIN_ROWS
      xgboost lossguide (31 leaves, 100 rounds) on the first TRAIN_ROWS rows,
      then Booster.inplace_predict rows/s at batch 1, 32, 1024, 100000 over
      the binary_test rows, as predict_bench.c.
  train_peer.py csv FILE
      pandas.read_csv(FILE) wall time, shape, missing count, peak RSS.
  train_peer.py logistic DIR ROWS COEF_OUT
      sklearn LogisticRegression(penalty='l2', C=1, solver='lbfgs') on the
      first ROWS rows of binary_train without its redundant columns (missing
      values set to 0), as train_gbdt.c; writes the
      intercept and coefficients to COEF_OUT, prints fit_s.
  train_peer.py real CSV THREADS
      the breast-cancer CSV, rows i % 4 == 3 as the test set; xgboost
      lossguide and sklearn HistGradientBoostingClassifier; prints their AUCs.

Output: "key value" lines on stdout, parsed by bench/train.
"""
import os
import resource
import sys
import time

import numpy as np


def peak_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def meta(d):
    m = {}
    with open(os.path.join(d, "meta.txt")) as f:
        for line in f:
            k, v = line.split()
            m[k] = int(v)
    return m


def load_rows(d, base, nf, n=None):
    X = np.fromfile(os.path.join(d, base + ".rows.f32"), dtype="<f4",
                    count=-1 if n is None else n * nf)
    return X.reshape(-1, nf)


def load_y(d, base, n=None):
    return np.fromfile(os.path.join(d, base + ".y.f64"), dtype="<f8",
                       count=-1 if n is None else n)


def xgb_params(binary, policy, threads):
    p = dict(tree_method="hist", max_bin=256, eta=0.1, reg_lambda=1.0,
             min_child_weight=1.0, nthread=threads,
             objective="binary:logistic" if binary else "reg:squarederror")
    if policy == "depthwise":
        p.update(grow_policy="depthwise", max_depth=6)
    else:
        p.update(grow_policy="lossguide", max_leaves=31, max_depth=0)
    return p


def auc(y, p):
    """ROC AUC by ranks with ties averaged (equal to sklearn's roc_auc_score)."""
    order = np.argsort(p, kind="mergesort")
    ps = p[order]
    ranks = np.empty(len(p))
    n = len(p)
    # average ranks over runs of equal scores
    bounds = np.flatnonzero(np.diff(ps)) + 1
    starts = np.concatenate(([0], bounds))
    ends = np.concatenate((bounds, [n]))
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    pos = y > 0.5
    npos = pos.sum()
    return (ranks[pos].sum() - npos * (npos + 1) / 2.0) / (npos * (n - npos))


def cmd_gbdt(d, task, policy, lib, threads):
    binary = task == "binary"
    if lib == "xgboost":
        import xgboost as xgb
    elif lib == "sklearn":
        from sklearn.ensemble import (HistGradientBoostingClassifier,
                                      HistGradientBoostingRegressor)
    else:
        sys.exit("train_peer: lib is xgboost or sklearn")
    base_kb = peak_kb()
    m = meta(d)
    nf = m["features"]
    X = load_rows(d, task + "_train", nf)
    y = load_y(d, task + "_train")
    data_kb = peak_kb()
    if lib == "xgboost":
        t0 = time.perf_counter()
        dtr = xgb.QuantileDMatrix(X, label=y, max_bin=256, nthread=threads)
        b = xgb.train(xgb_params(binary, policy, threads), dtr, 100)
        train_s = time.perf_counter() - t0
        del dtr, X, y
        Xt = load_rows(d, task + "_test", nf)
        t0 = time.perf_counter()
        p = b.inplace_predict(Xt)
        pred_s = time.perf_counter() - t0
    else:
        if policy != "lossguide":
            sys.exit("train_peer: sklearn runs lossguide only")
        cls = HistGradientBoostingClassifier if binary else HistGradientBoostingRegressor
        est = cls(max_iter=100, max_leaf_nodes=31, learning_rate=0.1,
                  l2_regularization=1.0, max_bins=255, early_stopping=False)
        t0 = time.perf_counter()
        est.fit(X, y)
        train_s = time.perf_counter() - t0
        del X, y
        Xt = load_rows(d, task + "_test", nf)
        t0 = time.perf_counter()
        p = est.predict_proba(Xt)[:, 1] if binary else est.predict(Xt)
        pred_s = time.perf_counter() - t0
    peak = peak_kb()
    yt = load_y(d, task + "_test")
    if binary:
        metric = ("auc", auc(yt, np.asarray(p, dtype=np.float64)))
    else:
        metric = ("rmse", float(np.sqrt(np.mean((yt - p) ** 2))))
    print("train_s %.4f" % train_s)
    print("%s %.6f" % metric)
    print("peak_rss_kb %d" % peak)
    print("data_rss_kb %d" % data_kb)
    print("base_rss_kb %d" % base_kb)
    print("test_predict_s %.4f" % pred_s)


def cmd_predict(d, threads, train_rows):
    import xgboost as xgb
    m = meta(d)
    nf = m["features"]
    n = min(train_rows, m["rows"])
    X = load_rows(d, "binary_train", nf, n)
    y = load_y(d, "binary_train", n)
    dtr = xgb.QuantileDMatrix(X, label=y, max_bin=256, nthread=threads)
    b = xgb.train(xgb_params(True, "lossguide", threads), dtr, 100)
    del dtr, X, y
    nte = min(m["test_rows"], 100000)
    T = np.ascontiguousarray(load_rows(d, "binary_test", nf, nte))
    print("trees %d" % len(b.get_dump()))
    print("train_rows %d" % n)
    print("test_rows %d" % nte)
    min_s = 1.0
    for batch in (1, 32, 1024, 100000):
        bs = min(batch, nte)
        nb = nte // bs
        views = [T[k * bs:(k + 1) * bs] for k in range(nb)]
        b.inplace_predict(views[0])  # warm-up
        done = 0
        t0 = time.perf_counter()
        while True:
            for v in views:
                b.inplace_predict(v)
                done += bs
                if batch == 1 and done % 4096 == 0 and time.perf_counter() - t0 >= min_s:
                    break
            el = time.perf_counter() - t0
            if el >= min_s:
                break
        print("b%d_rows_s %.1f" % (batch, done / el))
        print("b%d_size %d" % (batch, bs))
        if batch == 1:
            print("b1_us_per_row %.4f" % (el / done * 1e6))


def cmd_csv(path):
    import pandas as pd
    t0 = time.perf_counter()
    df = pd.read_csv(path)
    read_s = time.perf_counter() - t0
    peak = peak_kb()
    print("read_s %.4f" % read_s)
    print("rows %d\ncols %d" % df.shape)
    print("missing %d" % int(df.isna().sum().sum()))
    print("peak_rss_kb %d" % peak)


def cmd_logistic(d, rows, coef_out):
    from sklearn.linear_model import LogisticRegression
    m = meta(d)
    nf = m["features"]
    n = min(rows, m["rows"])
    with open(os.path.join(d, "binary_columns.txt")) as f:
        keep = [j for j, line in enumerate(f) if line.split()[1] != "redundant"]
    X = np.nan_to_num(load_rows(d, "binary_train", nf, n)[:, keep], nan=0.0)
    y = load_y(d, "binary_train", n).astype(np.int32)
    est = LogisticRegression(penalty="l2", C=1.0, solver="lbfgs",
                             max_iter=1000)
    t0 = time.perf_counter()
    est.fit(X, y)
    fit_s = time.perf_counter() - t0
    with open(coef_out, "w") as f:
        f.write("%.12g\n" % est.intercept_[0])
        for w in est.coef_[0]:
            f.write("%.12g\n" % w)
    print("fit_s %.4f" % fit_s)
    print("n_iter %d" % est.n_iter_[0])
    print("peak_rss_kb %d" % peak_kb())


def cmd_real(path, threads):
    import pandas as pd
    import xgboost as xgb
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    a = pd.read_csv(path, skiprows=1, header=None).to_numpy(dtype=np.float64)
    X, y = a[:, :-1], a[:, -1]
    te = np.arange(len(y)) % 4 == 3
    d = xgb.DMatrix(X[~te], label=y[~te], nthread=threads)
    b = xgb.train(xgb_params(True, "lossguide", threads), d, 100)
    print("xgboost_auc %.6f" % roc_auc_score(y[te], b.inplace_predict(X[te])))
    est = HistGradientBoostingClassifier(max_iter=100, max_leaf_nodes=31, learning_rate=0.1,
                                         l2_regularization=1.0, max_bins=255,
                                         early_stopping=False)
    est.fit(X[~te], y[~te])
    print("sklearn_auc %.6f" % roc_auc_score(y[te], est.predict_proba(X[te])[:, 1]))
    print("rows %d\ntest_rows %d" % ((~te).sum(), te.sum()))


def main(argv):
    if len(argv) == 7 and argv[1] == "gbdt":
        cmd_gbdt(argv[2], argv[3], argv[4], argv[5], int(argv[6]))
    elif len(argv) == 5 and argv[1] == "predict":
        cmd_predict(argv[2], int(argv[3]), int(argv[4]))
    elif len(argv) == 3 and argv[1] == "csv":
        cmd_csv(argv[2])
    elif len(argv) == 5 and argv[1] == "logistic":
        cmd_logistic(argv[2], int(argv[3]), argv[4])
    elif len(argv) == 4 and argv[1] == "real":
        cmd_real(argv[2], int(argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
