dofile(os.getenv("BENCH_DIR") .. "/common.lua")
request = function()
  local body = '{"title":"bench task","description":"created under load","priority":"high","tags":["bench","load"]}'
  return wrk.format("POST", "/api/v1/tasks", nil, body)
end
