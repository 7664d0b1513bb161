"""serve_peer.py - the Python side of bench/serve: data, model and peer server.

Run with Debian's /usr/bin/python3 (python3-xgboost, python3-numpy,
python3-flask, gunicorn). Two uses:

  serve_peer.py train OUTDIR [ROWS [FEATURES [TREES [SEED [COUNT]]]]]
      Generates a deterministic binary task (defaults: 50,000 rows x 20
      numeric features, seed 7; the label is a noisy nonlinear function of
      the first 8 features), trains an xgboost GBDT on it (binary:logistic,
      TREES rounds, default 100, max_depth 6, eta 0.1, tree_method hist,
      2 threads), and does so COUNT times (default 1), model K on the data
      of seed SEED + K, so that the models differ. Writes into OUTDIR:
        model_K.json   the XGBoost JSON models (what `cairn model import` reads)
        body_1.json    an OIP V2 inference request with 1 row
        body_32.json   the same with 32 rows
      Each body is {"id": ..., "inputs": [{"name": "input-0", "datatype":
      "FP32", "shape": [n, FEATURES], "data": [...flat row-major...]}]}.
      Prints "key value" lines: rows, features, trees, models, train_s (the
      first model's training time).

  gunicorn ... 'serve_peer:create_app()'   (with BENCH_MODELS=OUTDIR)
      A Flask application serving those models over the same OIP V2 REST
      shape as cairn: POST /v2/models/<name>/infer answers
      {"model_name", "model_version", "id", "outputs": [
         {"name": "proba", "datatype": "FP64", "shape": [n, 1], "data": [...]},
         {"name": "predict", "datatype": "BYTES", "shape": [n], "data": ["0"|"1", ...]}]}
      with inputs decoded into a float32 numpy array and predicted with
      Booster.inplace_predict (the fastest xgboost path for small batches).
      Model "m" is model_0.json and "m_K" is model_K.json; every worker
      loads all of them at start. GET /v2/health/ready answers 200. Bad input
      answers 400 {"error": ...}, an unknown model 404.
"""
import json
import os
import sys
import time

import numpy as np


def make_data(rows, nf, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, nf)).astype(np.float32)
    z = (1.2 * X[:, 0] - 0.8 * X[:, 1] + 0.6 * X[:, 2] * X[:, 3]
         + np.sin(2.0 * X[:, 4]) + 0.5 * (X[:, 5] ** 2 - 1.0)
         + 0.7 * (X[:, 6] > 0) * X[:, 7]
         + 0.5 * rng.standard_normal(rows))
    y = (z > 0).astype(np.float32)
    return X, y


def body_for(X, ident):
    n, nf = X.shape
    data = [float("%.5g" % v) for v in X.reshape(-1).tolist()]
    return json.dumps({"id": ident, "inputs": [{"name": "input-0", "datatype": "FP32",
                                                "shape": [n, nf], "data": data}]},
                      separators=(",", ":"))


def train(argv):
    import xgboost as xgb
    out = argv[0]
    rows = int(argv[1]) if len(argv) > 1 else 50000
    nf = int(argv[2]) if len(argv) > 2 else 20
    trees = int(argv[3]) if len(argv) > 3 else 100
    seed = int(argv[4]) if len(argv) > 4 else 7
    count = int(argv[5]) if len(argv) > 5 else 1
    os.makedirs(out, exist_ok=True)
    names = ["f%d" % i for i in range(nf)]
    train_s = None
    for k in range(count):
        X, y = make_data(rows, nf, seed + k)
        t0 = time.perf_counter()
        dtrain = xgb.DMatrix(X, label=y, feature_names=names)
        params = dict(objective="binary:logistic", tree_method="hist", max_depth=6, eta=0.1,
                      nthread=2, seed=seed + k)
        booster = xgb.train(params, dtrain, num_boost_round=trees)
        if train_s is None:
            train_s = time.perf_counter() - t0
        booster.save_model(os.path.join(out, "model_%d.json" % k))
        if k == 0:  # reference rows: cairn builds model 0's profile.json from them
            with open(os.path.join(out, "ref_0.csv"), "w") as f:
                f.write(",".join(names) + "\n")
                for row in X[:5000]:
                    f.write(",".join("%.9g" % v for v in row) + "\n")
    # request rows from a fresh draw of the same distribution
    Xq, _ = make_data(64, nf, seed + 1000)
    with open(os.path.join(out, "body_1.json"), "w") as f:
        f.write(body_for(Xq[:1], "bench-1"))
    with open(os.path.join(out, "body_32.json"), "w") as f:
        f.write(body_for(Xq[:32], "bench-32"))
    print("rows %d" % rows)
    print("features %d" % nf)
    print("trees %d" % trees)
    print("models %d" % count)
    print("train_s %.3f" % train_s)


def create_app():
    """The gunicorn application factory: BENCH_MODELS names the model directory."""
    import xgboost as xgb
    from flask import Flask, Response, request

    d = os.environ["BENCH_MODELS"]
    boosters = {}
    k = 0
    while os.path.exists(os.path.join(d, "model_%d.json" % k)):
        b = xgb.Booster()
        b.load_model(os.path.join(d, "model_%d.json" % k))
        b.set_param({"nthread": 1})
        boosters["m" if k == 0 else "m_%d" % k] = b
        k += 1
    if not boosters:
        raise RuntimeError("no model_0.json in " + d)
    app = Flask("serve_peer")

    def answer(status, obj):
        return Response(json.dumps(obj, separators=(",", ":")), status=status,
                        mimetype="application/json")

    @app.get("/v2/health/ready")
    def ready():
        return Response(status=200)

    @app.post("/v2/models/<name>/infer")
    def infer(name):
        booster = boosters.get(name)
        if booster is None:
            return answer(404, {"error": "unknown model " + name})
        nf = booster.num_features()
        try:
            req = json.loads(request.get_data())
            inputs = req["inputs"]
            if len(inputs) != 1:
                raise ValueError("want one 2-D input tensor")
            t = inputs[0]
            if t.get("datatype") not in ("FP32", "FP64"):
                raise ValueError("datatype must be FP32 or FP64")
            shape = t["shape"]
            X = np.asarray(t["data"], dtype=np.float32).reshape(shape)
            if X.ndim != 2 or X.shape[1] != nf:
                raise ValueError("shape must be [batch, %d]" % nf)
        except (ValueError, KeyError, TypeError) as e:
            return answer(400, {"error": str(e)})
        proba = booster.inplace_predict(X).astype(np.float64)
        n = int(X.shape[0])
        out = {"model_name": name, "model_version": "1", "outputs": [
            {"name": "proba", "datatype": "FP64", "shape": [n, 1], "data": proba.tolist()},
            {"name": "predict", "datatype": "BYTES", "shape": [n],
             "data": ["1" if p >= 0.5 else "0" for p in proba.tolist()]}]}
        if "id" in req:
            out["id"] = req["id"]
        return answer(200, out)

    return app


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "train":
        train(sys.argv[2:])
    else:
        sys.stderr.write("usage: serve_peer.py train OUTDIR [ROWS [FEATURES [TREES [SEED [COUNT]]]]]\n")
        sys.exit(2)
