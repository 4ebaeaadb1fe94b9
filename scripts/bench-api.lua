-- wrk script for prodcat's API: the same request as the FastAPI anchor's
-- ../shared/bench/serve/post.lua (same JSON body), sent to /v1/predict with
-- the credentials scripts/bench-api.sh creates for the run
-- (PRODCAT_BENCH_AUTH is base64 of user:password).
local auth = os.getenv("PRODCAT_BENCH_AUTH")
if auth == nil or auth == "" then
  error("PRODCAT_BENCH_AUTH is not set: run scripts/bench-api.sh")
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Basic " .. auth
wrk.body = '{"designation": "Grand Stylet Ergonomique Bleu Gamepad Nintendo Wii U - Speedlink Pilot Style", "description": "PILOT STYLE Touch Pen de marque Speedlink est 1 stylet ergonomique pour GamePad Nintendo Wii U."}'
