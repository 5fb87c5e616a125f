#!/usr/bin/env bash
# Early stopping against the full grid: one seeded 54-trial sim sweep
# (3 graders x 3 learning rates x 3 epoch counts x 2 seeds) run twice,
# each in a fresh rftd and store, as the full grid and with ASHA.  Prints
# the cost of each, the ASHA run's best trial, its rank in the full grid
# and how far its objective is from the grid's best.
#   bench/early_stopping.sh [RULE]   (asha, default, or median;
#                                     BUILD_DIR=build, SPEED=600)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
rule=${1:-asha}
speed=${SPEED:-600}
cmake --build "$build" --target rftd rftctl >/dev/null
base=$dir

# run NAME [EARLY_STOPPING_JSON]: the sweep in its own rftd; leaves the
# store at $base/NAME/rftd.db.
run() {
	dir=$base/$1
	mkdir -p "$dir"
	bench_dataset
	cp "$dir/train.jsonl" "$dir/valid.jsonl"
	bench_start_rftd "tick = 100
[backend \"sim\"]
type = sim
max_concurrent = 18
speed = $speed
failure_rate = 0"
	python3 - "$dir" "${2:-}" <<'PY'
import json, sys
d, early = sys.argv[1], sys.argv[2]
g = {"input": "{{sample.output_text}}", "reference": "{{item.answer}}"}
spec = {"name": "grid", "backend": "sim", "model": "o4-mini-2025-04-16",
        "training_file": d + "/train.jsonl",
        "validation_file": d + "/valid.jsonl",
        "max_concurrent": 18, "seeds": [1, 2],
        "hyperparameters": {"learning_rate_multiplier": [0.5, 1.2, 3.0],
                            "n_epochs": [2, 4, 6], "eval_interval": 3},
        "graders": {
            "exact": dict(g, type="string_check", name="exact",
                          operation="eq"),
            "fuzzy": dict(g, type="text_similarity", name="fuzzy",
                          evaluation_metric="fuzzy_match"),
            "judge": {"type": "score_model", "name": "judge",
                      "model": "o4-mini-2025-04-16",
                      "input": [{"role": "user", "content":
                                 "Grade {{sample.output_text}} against "
                                 "{{item.answer}} from 0 to 1."}]}},
        "objective": {"metric": "valid_reward_mean", "mode": "max"}}
if early:
    spec["early_stopping"] = json.loads(early)
json.dump(spec, open(d + "/spec.json", "w"))
PY
	"$build/ctl/rftctl" -s "$dir/control.sock" submit "$dir/spec.json" >/dev/null
	for _ in $(seq 6000); do
		state=$("$build/ctl/rftctl" -s "$dir/control.sock" --json sweep show 1 |
			python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
		[ "$state" = completed ] && break
		sleep 0.2
	done
	kill -TERM "$pid"
	wait "$pid" || true
	pid=
}

run full
case $rule in
asha) run early '{"rule": "asha", "grace_steps": 6, "reduction_factor": 3, "min_trials": 6}' ;;
*) run early "{\"rule\": \"$rule\", \"grace_steps\": 6, \"min_trials\": 6}" ;;
esac
dir=$base
python3 - "$base" "$rule" <<'PY'
import sqlite3, sys
base, rule = sys.argv[1:3]

def load(name):
    db = sqlite3.connect("file:%s/%s/rftd.db?mode=ro" % (base, name),
                         uri=True)
    cost = db.execute("SELECT sum(cost_usd) FROM jobs").fetchone()[0]
    trials = db.execute(
        "SELECT grader_name, hyperparameters, seed, objective, state"
        " FROM trials").fetchall()
    states = dict(db.execute(
        "SELECT state, count(*) FROM trials GROUP BY state").fetchall())
    if name == "early":
        for rung, n in db.execute(
                "SELECT coalesce(rung, -1), count(DISTINCT trial_id)"
                " FROM early_stops GROUP BY 1 ORDER BY 1"):
            print("  trials judged at %s: %d"
                  % ("rung %d" % rung if rung >= 0 else "their points", n))
        for rung, action, n, few in db.execute(
                "SELECT coalesce(rung, -1), action, count(*),"
                " sum(threshold IS NULL) FROM early_stops"
                " GROUP BY 1, 2 ORDER BY 1, 2"):
            print("  decisions at %s: %-8s %3d%s"
                  % ("rung %d" % rung if rung >= 0 else "its points",
                     action, n, " (%d with too few peers to judge)" % few
                     if few else ""))
    return cost, trials, states

full_cost, full, _ = load("full")
es_cost, es, states = load("early")
ranked = sorted(full, key=lambda t: -(t[3] if t[3] is not None else -1))
key = lambda t: (t[0], t[1], t[2])
best_es = max((t for t in es if t[4] == "succeeded"),
              key=lambda t: t[3])
rank = 1 + [key(t) for t in ranked].index(key(best_es))
grid_best = ranked[0][3]
print("full grid: 54 trials, cost sim$%.2f, best %s %s seed %d: %.4f"
      % (full_cost, ranked[0][0], ranked[0][1], ranked[0][2], grid_best))
print("%s: cost sim$%.2f (%.1f%% of the grid), trials %s"
      % (rule, es_cost, 100 * es_cost / full_cost,
         ", ".join("%s %d" % kv for kv in sorted(states.items()))))
print("%s best: %s %s seed %d: %.4f, rank %d of 54 in the grid, %.2f%% "
      "below the grid's best"
      % (rule, best_es[0], best_es[1], best_es[2], best_es[3], rank,
         100 * (grid_best - best_es[3]) / grid_best))
PY
