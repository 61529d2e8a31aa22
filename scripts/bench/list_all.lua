dofile(os.getenv("BENCH_DIR") .. "/common.lua")
request = function()
  return wrk.format("GET", "/api/v1/tasks?per_page=20&page=" .. math.random(1, all_pages))
end
