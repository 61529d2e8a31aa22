dofile(os.getenv("BENCH_DIR") .. "/common.lua")
local statuses = { "pending", "in_progress", "completed" }
request = function()
  local body = '{"status":"' .. statuses[math.random(1, 3)] .. '"}'
  return wrk.format("PATCH", "/api/v1/tasks/" .. math.random(first_id, last_id), nil, body)
end
