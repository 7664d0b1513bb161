-- infer_body.lua: POST the fixed body in the file BODY_FILE to BENCH_PATH
-- (OIP V2 inference, /v2/models/m/infer by default), with the JSON content
-- type. COUNT_VERSIONS=1 also counts the X-Model-Version header of every
-- answer, per thread, and prints "versions V=N ..." at the end (the hot-swap
-- run uses it to show that the answering version moved).
local path = os.getenv("BENCH_PATH") or "/v2/models/m/infer"
local file = assert(os.getenv("BODY_FILE"), "BODY_FILE is not set")
local f = assert(io.open(file, "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.path = path
wrk.body = body
wrk.headers["Content-Type"] = "application/json"

if os.getenv("COUNT_VERSIONS") == "1" then
  local threads = {}
  function setup(thread)
    table.insert(threads, thread)
  end

  seen = {}
  function response(status, headers, rbody)
    local v = headers["X-Model-Version"] or headers["x-model-version"] or "none"
    seen[v] = (seen[v] or 0) + 1
  end

  function done(summary, latency, requests)
    local total = {}
    for _, t in ipairs(threads) do
      local s = t:get("seen")
      for k, n in pairs(s) do total[k] = (total[k] or 0) + n end
    end
    local keys = {}
    for k in pairs(total) do keys[#keys + 1] = k end
    table.sort(keys)
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = k .. "=" .. total[k] end
    io.write("versions " .. table.concat(parts, " ") .. "\n")
  end
end
