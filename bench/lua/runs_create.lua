-- runs_create.lua: POST runs/create into experiment EXP_ID.
local exp_id = os.getenv("EXP_ID")
local counter = 0

function init(args)
  wrk.method = "POST"
  wrk.path = "/api/2.0/mlflow/runs/create"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local body = string.format('{"experiment_id":"%s","start_time":%d,"tags":[{"key":"bench","value":"%d"}]}',
    exp_id, 1700000000000 + counter, counter)
  return wrk.format(nil, nil, nil, body)
end
