-- log_batch.lua: POST runs/log-batch with POINTS metric points a request.
-- MODE=fresh: every request carries new steps (distinct rows);
-- MODE=resend: the same body over and over. RUN_ID comes from the env.
local run_id = os.getenv("RUN_ID")
local mode = os.getenv("MODE") or "fresh"
local points = tonumber(os.getenv("POINTS") or "1000")
local threads = {}
local counter = 0
local tid = 0
local fixed = nil

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local function body_for(base)
  local parts = {}
  for i = 0, points - 1 do
    local step = base + i
    parts[#parts + 1] = string.format('{"key":"m%d","value":%d.25,"timestamp":%d,"step":%d}',
      i % 10, i, 1700000000000 + step, step)
  end
  return '{"run_id":"' .. run_id .. '","metrics":[' .. table.concat(parts, ",") .. ']}'
end

function init(args)
  tid = tonumber(tid) or 0
  wrk.method = "POST"
  wrk.path = "/api/2.0/mlflow/runs/log-batch"
  wrk.headers["Content-Type"] = "application/json"
  if mode == "resend" then
    fixed = body_for(tid * 1000000000)
  end
end

function request()
  if fixed then
    return wrk.format(nil, nil, nil, fixed)
  end
  counter = counter + 1
  return wrk.format(nil, nil, nil, body_for(tid * 1000000000 + counter * points))
end
