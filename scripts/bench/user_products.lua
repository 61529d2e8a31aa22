dofile(os.getenv("BENCH_DIR") .. "/common.lua")
-- The demo user's own collection (BENCH_TOKEN is that user's token for this scenario).
request = function()
  return wrk.format("GET", "/api/v1/user-products")
end
