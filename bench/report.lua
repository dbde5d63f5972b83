-- report.lua: wrk done() callback shared by the bench scripts. Writes one
-- "key value" line per figure to the file named by $BENCH_REPORT (the bash
-- script parses it instead of wrk's human-readable summary).
-- Latencies are in microseconds; duration too.
function done(summary, latency, requests)
  local path = os.getenv("BENCH_REPORT")
  local f = path and io.open(path, "w") or io.stderr
  local e = summary.errors
  f:write(string.format("requests %d\n", summary.requests))
  f:write(string.format("duration_us %d\n", summary.duration))
  f:write(string.format("non2xx %d\n", e.status))
  f:write(string.format("err_connect %d\n", e.connect))
  f:write(string.format("err_read %d\n", e.read))
  f:write(string.format("err_write %d\n", e.write))
  f:write(string.format("err_timeout %d\n", e.timeout))
  f:write(string.format("p50_us %d\n", latency:percentile(50)))
  f:write(string.format("p99_us %d\n", latency:percentile(99)))
  f:write(string.format("max_us %d\n", latency.max))
  if f ~= io.stderr then f:close() end
end
