dofile(os.getenv("BENCH_DIR") .. "/common.lua")
-- Sign-in (bcrypt at BCRYPT_COST=4 in the benchmark): each request checks the password, stores a
-- new refresh-token family and its audit entry in one transaction, and signs an access token.
wrk.headers["Authorization"] = nil
request = function()
  local body = '{"email":"bench1@example.com","password":"bench-password"}'
  return wrk.format("POST", "/api/v1/auth/login", nil, body)
end
