-- Shared by every scenario: the bearer token and task-id range come from the environment that
-- bench.sh sets, and done() prints one machine-readable line of figures.
token = os.getenv("BENCH_TOKEN")
first_id = tonumber(os.getenv("BENCH_FIRST_ID"))
last_id = tonumber(os.getenv("BENCH_LAST_ID"))
pages = tonumber(os.getenv("BENCH_PAGES"))
all_pages = tonumber(os.getenv("BENCH_ALL_PAGES"))
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "application/json"

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init(args)
  math.randomseed(seed)
end

function done(summary, latency, requests)
  local non2xx = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    "RESULT requests=%d rps=%.0f p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f non2xx=%d bytes=%.0f\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, non2xx,
    summary.bytes / math.max(summary.requests, 1)))
end
