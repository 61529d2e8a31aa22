dofile(os.getenv("BENCH_DIR") .. "/common.lua")
-- The framework floor: no authentication, no database.
wrk.headers["Authorization"] = nil
request = function()
  return wrk.format("GET", "/health")
end
