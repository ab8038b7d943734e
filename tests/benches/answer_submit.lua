-- wrk script for benches/answer-submit.sh: each respondent opens a new
-- connection, loads the form (GET /r/{token}) and posts one complete answer
-- (POST /r/{token}, "Connection: close", so the next respondent connects anew).
-- Every respondent has a link token of their own, so every POST is a real,
-- accepted submit (never the cheaper "already answered").
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
local posting = false
local path, body

function init(args)
  for line in io.lines(args[1]) do
    lines[#lines + 1] = line
  end
  step = tonumber(args[2])
  index = id + 1
end

local post_headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Sec-Fetch-Site"] = "same-origin",
  ["Connection"] = "close",
}

function request()
  if posting then
    posting = false
    return wrk.format("POST", path, post_headers, body)
  end
  local line = lines[index] or lines[id + 1]
  index = index + step
  path, body = line:match("^(%S+) (.*)$")
  posting = true
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"non_2xx":%d,"socket_errors":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
