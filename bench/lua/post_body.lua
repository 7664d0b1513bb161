-- post_body.lua: POST the fixed JSON body BODY to BENCH_PATH (search queries, and
-- the nginx ceiling with a log-metric-sized body).
wrk.method = "POST"
wrk.path = os.getenv("BENCH_PATH") or "/"
wrk.body = os.getenv("BODY") or "{}"
wrk.headers["Content-Type"] = "application/json"
