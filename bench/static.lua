-- static.lua: plain GET of nginx's static file, with the shared report.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
