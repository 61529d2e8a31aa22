dofile(os.getenv("BENCH_DIR") .. "/common.lua")
-- A large page (100 tasks); BENCH_ENCODING, when set, is sent as Accept-Encoding.
local encoding = os.getenv("BENCH_ENCODING")
if encoding ~= nil and encoding ~= "" then wrk.headers["Accept-Encoding"] = encoding end
request = function()
  return wrk.format("GET", "/api/v1/tasks?per_page=100&page=" .. math.random(1, 10))
end
