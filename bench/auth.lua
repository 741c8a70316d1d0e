-- wrk script of bench/run.py: Basic-auth requests rotating over many hosts, and a count of the
-- answer words, so a run that measured errors (500, dnserr, a wrong word) cannot pass unnoticed.
--
-- wrk ... -s bench/auth.lua URL -- REQUESTS_FILE MODE EXPECTED RUN_ID
--   REQUESTS_FILE  one request per line: "<Authorization value or empty>\t<path with query>"
--   MODE           "static": send the lines as they are, round robin;
--                  "good": append &myip=10.RUN_ID.x.y, a new address on every request, so every
--                  update really changes the host (RUN_ID keeps addresses apart between runs)
--   EXPECTED       the first word every answer must start with (good, nochg, badauth, ...)

local made = 0
local threads = {}

function setup(thread)
  made = made + 1
  thread:set("tid", made)
  table.insert(threads, thread)
end

local entries = {}
local mode, expected, run_id
local counter = 0
local host_offset = 0
expected_count = 0
other_count = 0
other_sample = ""

function init(args)
  mode, expected, run_id = args[2], args[3], tonumber(args[4])
  for line in io.lines(args[1]) do
    local auth, path = line:match("^(.-)\t(.*)$")
    table.insert(entries, { auth = auth, path = path })
  end
  -- Each thread starts in another block of addresses, and at another host: a multiple of
  -- 16000 alone would be host 0 for every thread (16000 % 64 == 0), and two threads walking
  -- the same hosts in step would send concurrent updates of one host, which real routers
  -- (one per host) do not.
  counter = (tid - 1) * 16000
  host_offset = (tid - 1) * 29
end

function request()
  local entry = entries[(counter + host_offset) % #entries + 1]
  local path = entry.path
  if mode == "good" then
    local k = counter % 64000
    path = path .. "&myip=10." .. run_id .. "." .. math.floor(k / 256) .. "." .. (k % 256)
  end
  counter = counter + 1
  local headers = {}
  if entry.auth ~= "" then
    headers["Authorization"] = entry.auth
  end
  return wrk.format("GET", path, headers)
end

function response(status, headers, body)
  local word = body and body:match("^%a+") or ""
  if word == expected then
    expected_count = expected_count + 1
  else
    other_count = other_count + 1
    if other_sample == "" then
      other_sample = status .. " " .. (body or ""):sub(1, 60):gsub("%s+", " ")
    end
  end
end

function done(summary, latency, requests)
  local good, bad, sample = 0, 0, ""
  for _, thread in ipairs(threads) do
    good = good + thread:get("expected_count")
    bad = bad + thread:get("other_count")
    if sample == "" then
      sample = thread:get("other_sample")
    end
  end
  io.write(string.format("WORDS expected=%d other=%d sample=%s\n", good, bad, sample))
end
