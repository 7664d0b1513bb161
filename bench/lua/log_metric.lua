-- log_metric.lua: POST runs/log-metric, each request a distinct step and
-- timestamp (so every request is a real insert). RUN_ID comes from the env.
local run_id = os.getenv("RUN_ID")
local threads = {}
local counter = 0
local tid = 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  tid = tonumber(tid) or 0
  wrk.method = "POST"
  wrk.path = "/api/2.0/mlflow/runs/log-metric"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local step = tid * 100000000 + counter
  local body = string.format('{"run_id":"%s","key":"bench","value":%d.5,"timestamp":%d,"step":%d}',
    run_id, counter % 1000, 1700000000000 + step, step)
  return wrk.format(nil, nil, nil, body)
end
