-- Drives one benchmark figure. Configured through the environment:
--   BENCH_BODIES  file with one request body per line (cycled; "__N__" becomes a counter)
--                 empty or unset: requests have no body
--   BENCH_METHOD  GET or POST (default POST)
--   BENCH_PATH    request path (default /graphql/)
--   BENCH_TOKEN   API token sent as "Authorization: Bearer ..." (optional)
-- Counts non-200 answers and GraphQL errors (top-level or in a mutation payload) per
-- thread, and prints one machine-readable line from done().

local bodies = {}
local path = os.getenv("BENCH_BODIES")
if path and path ~= "" then
  for line in io.lines(path) do
    if line ~= "" then bodies[#bodies + 1] = line end
  end
end
local method = os.getenv("BENCH_METHOD") or "POST"
local url_path = os.getenv("BENCH_PATH") or "/graphql/"
local token = os.getenv("BENCH_TOKEN")

local threads = {}

function setup(thread)
  thread:set("thread_no", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter = thread_no * 100000000
  position = thread_no * 7
  bad_status = 0
  graphql_errors = 0
  checked = 0
  sample = ""
  headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }
  if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
end

function request()
  counter = counter + 1
  if #bodies == 0 then
    return wrk.format(method, url_path, headers, nil)
  end
  position = position + 1
  local body = bodies[(position % #bodies) + 1]
  body = string.gsub(body, "__N__", tostring(counter))
  return wrk.format(method, url_path, headers, body)
end

function response(status, headers, body)
  checked = checked + 1
  if status ~= 200 then
    bad_status = bad_status + 1
    if sample == "" then sample = status .. " " .. string.sub(body or "", 1, 400) end
  elseif body and string.find(body, '"errors":%s*%[%s*{') then
    graphql_errors = graphql_errors + 1
    if sample == "" then sample = status .. " " .. string.sub(body, 1, 400) end
  end
end

function done(summary, latency, requests)
  local bad, gql, seen, first = 0, 0, 0, ""
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("bad_status")
    gql = gql + thread:get("graphql_errors")
    seen = seen + thread:get("checked")
    local s = thread:get("sample")
    if first == "" and s and s ~= "" then first = s end
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d bytes=%d p50_us=%d p90_us=%d p99_us=%d " ..
    "max_us=%d mean_us=%.1f stdev_us=%.1f connect_errors=%d read_errors=%d " ..
    "write_errors=%d status_errors=%d timeouts=%d bad_status=%d graphql_errors=%d checked=%d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, latency.stdev,
    e.connect, e.read, e.write, e.status, e.timeout, bad, gql, seen))
  io.write("BENCH_SAMPLE " .. string.gsub(first, "\n", " ") .. "\n")
end
