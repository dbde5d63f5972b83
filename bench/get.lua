-- get.lua: authenticated GET (the URL is given on the wrk command line).
-- $BENCH_AUTH is the full Authorization header value, e.g. "Bearer sk_...".
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
wrk.method = "GET"
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
