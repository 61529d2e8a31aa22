dofile(os.getenv("BENCH_DIR") .. "/common.lua")
-- `GET /search` over 100,000 tasks, 10,000 users and 10,000 products (scripts/bench/bulk-seed.sh):
-- a word of the seeded vocabulary (each in 5 % of the tasks and products), a task's number
-- (one task), a surname (about 100 users), and a word nobody wrote.
local words = {"kettle", "invoice", "garden", "laptop", "report", "insurance", "printer", "meeting",
               "bicycle", "warranty", "roof", "budget", "camera", "holiday", "heater", "dentist"}
request = function()
  local pick = math.random(1, 10)
  local q
  if pick <= 6 then
    q = words[math.random(1, #words)]
  elseif pick <= 8 then
    q = "task%20" .. math.random(1, 100000) .. "%20about"
  elseif pick == 9 then
    q = "smith" .. math.random(10, 96)
  else
    q = "zqxj"
  end
  return wrk.format("GET", "/api/v1/search?q=" .. q)
end
