# Sourced by the benchmark scripts: a build, a temporary directory, and an
# rftd started in it, stopped and removed when the script exits.
build=${BUILD_DIR:-$PWD/build}
dir=$(mktemp -d "${TMPDIR:-/tmp}/rftd-bench.XXXXXX")
pid=

bench_cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		wait "$pid" || true
	fi
	# BENCH_LOG=FILE keeps the daemon's log.
	[ -z "${BENCH_LOG:-}" ] || cp "$dir/rftd.log" "$BENCH_LOG" 2>/dev/null || true
	rm -rf "$dir"
}
trap bench_cleanup EXIT

# bench_start_rftd [MORE CONFIG]: writes $dir/rftd.conf (socket, database,
# warnings only, then MORE, which may continue [daemon]) and starts rftd.
bench_start_rftd() {
	printf '[daemon]\nsocket = %s/control.sock\ndatabase = %s/rftd.db\nlog_level = warning\n%s\n' \
		"$dir" "$dir" "${1:-}" >"$dir/rftd.conf"
	"$build/daemon/rftd" -f -c "$dir/rftd.conf" 2>"$dir/rftd.log" &
	pid=$!
	for _ in $(seq 200); do
		"$build/ctl/rftctl" -s "$dir/control.sock" ping >/dev/null 2>&1 &&
			return 0
		sleep 0.05
	done
	echo "rftd did not start:" >&2
	cat "$dir/rftd.log" >&2
	return 1
}

bench_dataset() {
	echo '{"messages":[{"role":"user","content":"2+2?"}],"answer":"4"}' \
		>"$dir/train.jsonl"
}

# bench_spec NAME BACKEND MODEL JOBS [JSON]: writes $dir/spec.json, a
# sweep of JOBS trials (one per seed) all allowed to run at once, with
# the fields of the JSON object added.
bench_spec() {
	python3 - "$dir" "$@" <<'PY'
import json, sys
d, name, backend, model, n = sys.argv[1:6]
spec = {"name": name, "backend": backend, "model": model,
        "training_file": d + "/train.jsonl", "max_concurrent": int(n),
        "max_job_hours": 10, "seeds": list(range(int(n))),
        "graders": {"g": {"type": "string_check", "name": "g",
                          "input": "{{sample.output_text}}",
                          "reference": "{{item.answer}}",
                          "operation": "eq"}}}
spec.update(json.loads(sys.argv[6]) if len(sys.argv) > 6 else {})
json.dump(spec, open(d + "/spec.json", "w"))
PY
}

# bench_stop_rftd: stops the rftd of bench_start_rftd and removes its
# store, so that the next bench_start_rftd begins afresh.
bench_stop_rftd() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		wait "$pid" || true
	fi
	pid=
	rm -f "$dir"/rftd.db "$dir"/rftd.db-wal "$dir"/rftd.db-shm
}

# bench_long_spec NAME N: bench_spec for N long sim jobs (950 steps each)
# that run at once: at most 1,000 seeds, times as many learning rates as
# it takes.
bench_long_spec() {
	bench_spec "$1" sim o4-mini-2025-04-16 "$2" "$(python3 -c '
import json, math, sys
n = int(sys.argv[1]); k = math.ceil(n / 1000)
print(json.dumps({"seeds": list(range(n // k)), "hyperparameters": {
    "n_epochs": 50, "learning_rate_multiplier": [1 + i / 100 for i in range(k)]}}))' "$2")"
}

# query SQL: one value from the store, read directly (WAL: no lock on rftd).
query() {
	python3 - "$dir/rftd.db" "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True, timeout=30)
print(db.execute(sys.argv[2]).fetchone()[0])
PY
}
