dofile(os.getenv("BENCH_DIR") .. "/common.lua")
-- The public quick search (no token needed; the header is harmless): a term from the demo catalogue.
local terms = {"wireless", "pixel", "coffee", "drill", "monitor", "sony", "bosch", "air", "phone", "mixer"}
request = function()
  return wrk.format("GET", "/api/v1/products/search?q=" .. terms[math.random(1, #terms)])
end
