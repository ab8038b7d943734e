-- wrk script for benches/answer-submit.sh: every request posts one complete
-- answer form to /r/{token}, each with a link token of its own, so every
-- request is a real, accepted submit (never the cheaper "already answered").
--
-- Arguments: <file of "path body" lines> <number of wrk threads>.
-- Thread n takes lines n+1, n+1+threads, …; when its share runs out it repeats
-- its first line, which the server refuses (409) and `done` reports as non-2xx,
-- so an exhausted pool shows up in the result instead of hiding in it.

local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local lines = {}
local index = 1
local step = 1

function init(args)
  for line in io.lines(args[1]) do
    lines[#lines + 1] = line
  end
  step = tonumber(args[2])
  index = id + 1
end

local headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Sec-Fetch-Site"] = "same-origin",
}

function request()
  local line = lines[index] or lines[id + 1]
  index = index + step
  local path, body = line:match("^(%S+) (.*)$")
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"non_2xx":%d,"socket_errors":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
