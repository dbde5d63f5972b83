-- sms_create.lua: POST /v1/messages with a new recipient and body each time.
-- $BENCH_AUTH: the Authorization header value; $BENCH_FROM: the tenant's number.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
local from = os.getenv("BENCH_FROM")
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"from":"%s","to":"+1555%07d","body":"bench message %d"}', from,
                             (n * 7919 + math.random(0, 999)) % 10000000, n)
  return wrk.format("POST", "/v1/messages", {["Content-Type"] = "application/json",
                    ["Authorization"] = os.getenv("BENCH_AUTH")}, body)
end
