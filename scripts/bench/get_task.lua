dofile(os.getenv("BENCH_DIR") .. "/common.lua")
request = function()
  return wrk.format("GET", "/api/v1/tasks/" .. math.random(first_id, last_id))
end
