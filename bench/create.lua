-- create.lua: a create that writes a row: POST /v1/api-keys {"name":"bench"}.
-- No Idempotency-Key, so every request inserts a new API key.
-- $BENCH_AUTH is the full Authorization header value (an admin-role API key).
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
wrk.method = "POST"
wrk.body = '{"name":"bench"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
