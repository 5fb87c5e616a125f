#!/usr/bin/env bash
# How many HTTP requests the openai backend makes: JOBS jobs running at
# once on the fake API (tests/fakes/openai_fake.py), polled every
# POLL seconds.  Prints requests per running job per poll interval, by
# kind, and rftd's CPU use; then fails half the jobs at the fake and
# counts the requests that still name them (target: none).
#   bench/api_efficiency.sh [JOBS] [POLL] [STEP]
#   (defaults 1000 jobs, 5 s polls, 60 s training steps; BUILD_DIR=build)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
jobs=${1:-1000}
poll=${2:-5}
step=${3:-60}
# Poll intervals measured: enough to span two training steps.
windows=${WINDOWS:-$(( (2 * step + poll - 1) / poll + 1 ))}
cmake --build "$build" --target rftd rftctl >/dev/null

key=sk-bench-0123456789
printf '%s\n' "$key" >"$dir/api.key"
python3 tests/fakes/openai_fake.py --api-key "$key" --port-file "$dir/port" \
	--parent-pid $$ --lifetime 3600 --options "{\"validate_secs\": 0.5,
	\"queue_secs\": 0.5, \"step_secs\": $step, \"steps\": 10000}" \
	>"$dir/fake.log" 2>&1 &
fake=$!
trap 'kill $fake 2>/dev/null || true; bench_cleanup' EXIT
for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
api="http://127.0.0.1:$(cat "$dir/port")"

bench_dataset
bench_start_rftd "[backend \"api\"]
type = openai
base_url = $api/v1
api_key_file = $dir/api.key
max_concurrent = $jobs
poll_interval = $poll"
ctl() { "$build/ctl/rftctl" -s "$dir/control.sock" "$@"; }
bench_spec efficiency api o4-mini-2025-04-16 "$jobs"
ctl submit "$dir/spec.json" >/dev/null
count() {
	ctl sql "SELECT count(*) FROM jobs WHERE state = '$1'" --format csv |
		tail -n 1 | tr -d '\r'
}
for _ in $(seq 1200); do [ "$(count running)" -ge "$jobs" ] && break; sleep 0.1; done
echo "running jobs: $(count running) of $jobs; poll_interval $poll s; steps of $step s"
sleep "$poll" # past the first polls, which read every job's events

python3 - "$api" "$pid" "$jobs" "$poll" "$windows" "$build" "$dir" <<'PY'
import json, os, sqlite3, sys, time, urllib.request
api, pid, jobs, poll, windows = sys.argv[1], int(sys.argv[2]), \
    int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
d = sys.argv[7]
hz = os.sysconf("SC_CLK_TCK")

def get(path):
    return json.load(urllib.request.urlopen(api + path))

def last_seq():
    entries = get("/_fake/requests?since=0")
    return entries[-1]["seq"] if entries else 0

def cpu():
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / hz

def kind(e):
    p = e["path"]
    if p.endswith("/events"): return "events"
    if p.endswith("/checkpoints"): return "checkpoints"
    if p.endswith("/fine_tuning/jobs") and e["method"] == "GET": return "list"
    if "/fine_tuning/jobs/" in p: return "job"
    return "other"

seq, c0, t0 = last_seq(), cpu(), time.monotonic()
time.sleep(poll * windows)
entries = get("/_fake/requests?since=%d" % seq)
c1, t1 = cpu(), time.monotonic()
polls = (t1 - t0) / poll

def by_kind(entries, n, polls):
    kinds = {}
    for e in entries:
        kinds[kind(e)] = kinds.get(kind(e), 0) + 1
    for k in sorted(kinds):
        print("  %-12s %.3f" % (k, kinds[k] / n / polls))

print("window: %.1f s = %.1f poll intervals, %d requests" %
      (t1 - t0, polls, len(entries)))
print("requests per running job per poll interval: %.3f (target <= 1.0)" %
      (len(entries) / jobs / polls))
by_kind(entries, jobs, polls)
print("rftd CPU: %.1f%% of one core (%.2f s in %.1f s)" %
      (100 * (c1 - c0) / (t1 - t0), c1 - c0, t1 - t0))

# Half the jobs end at the provider; rftd notices, then leaves them alone.
db = sqlite3.connect("file:%s/rftd.db?mode=ro" % d, uri=True, timeout=10)
ids = [r[0] for r in db.execute(
    "SELECT remote_id FROM jobs WHERE state = 'running' LIMIT ?",
    (jobs // 2,))]
for i in ids:
    urllib.request.urlopen(urllib.request.Request(
        api + "/_fake/jobs/%s/fail" % i, data=b"{}", method="POST"))
deadline = time.monotonic() + 10 * poll + 30
while time.monotonic() < deadline:
    n = db.execute("SELECT count(*) FROM jobs WHERE state = 'failed'"
                   ).fetchone()[0]
    if n >= len(ids):
        break
    time.sleep(0.5)
print("failed at the fake: %d; seen failed by rftd: %d" % (len(ids), n))
time.sleep(poll)
seq = last_seq()
time.sleep(poll * windows)
entries = get("/_fake/requests?since=%d" % seq)
ended = set(ids)
touching = [e for e in entries
            if any(part in ended for part in e["path"].split("/"))]
live = jobs - len(ids)
print("after: %d requests, per live job per poll interval: %.3f; requests "
      "naming ended jobs: %d (target 0)" %
      (len(entries), len(entries) / max(1, live) / windows, len(touching)))
by_kind(entries, max(1, live), windows)
PY
