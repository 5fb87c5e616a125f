-- 0002_views: views for the questions users ask of their history.
-- Documented with examples in docs/schema.md.

-- The trials of each sweep with their hyperparameters as columns.  `score`
-- is the objective signed so that higher is better whatever the mode:
--   SELECT * FROM leaderboard WHERE sweep_id = 1 ORDER BY score DESC;
CREATE VIEW leaderboard AS
SELECT l.sweep_id,
       s.name AS sweep,
       t.id AS trial_id,
       t.grader_name AS grader,
       t.seed,
       json_extract(t.hyperparameters, '$.learning_rate_multiplier')
           AS learning_rate_multiplier,
       json_extract(t.hyperparameters, '$.n_epochs') AS n_epochs,
       json_extract(t.hyperparameters, '$.batch_size') AS batch_size,
       json_extract(t.hyperparameters, '$.reasoning_effort')
           AS reasoning_effort,
       json_extract(t.hyperparameters, '$.compute_multiplier')
           AS compute_multiplier,
       json_extract(t.hyperparameters, '$.eval_interval') AS eval_interval,
       json_extract(t.hyperparameters, '$.eval_samples') AS eval_samples,
       t.state,
       s.objective_metric AS metric,
       t.objective,
       CASE s.objective_mode WHEN 'min' THEN -t.objective
            ELSE t.objective END AS score,
       t.best_step,
       t.attempts AS jobs,
       (SELECT sum(j.cost_usd) FROM jobs j WHERE j.trial_id = t.id)
           AS cost_usd,
       (SELECT sum(j.billed_seconds) FROM jobs j WHERE j.trial_id = t.id)
           / 3600.0 AS training_hours
FROM sweep_trials l
JOIN trials t ON t.id = l.trial_id
JOIN sweeps s ON s.id = l.sweep_id;

-- Every metric point of every job, with the trial and sweep it belongs
-- to: the reward curves.
CREATE VIEW reward_curves AS
SELECT t.sweep_id,
       j.trial_id,
       j.id AS job_id,
       j.attempt,
       m.name AS metric,
       m.step,
       m.value
FROM metrics m
JOIN jobs j ON j.id = m.job_id
JOIN trials t ON t.id = j.trial_id;

-- Money spent per sweep: accrued and settled amounts from the ledger,
-- split by how they were known.
CREATE VIEW spend_by_sweep AS
SELECT s.id AS sweep_id,
       s.name AS sweep,
       round(coalesce(sum(l.amount_usd), 0), 6) AS spent_usd,
       round(coalesce(sum(CASE WHEN l.quality = 'provider'
                               THEN l.amount_usd END), 0), 6)
           AS provider_usd,
       round(coalesce(sum(CASE WHEN l.quality = 'estimated'
                               THEN l.amount_usd END), 0), 6)
           AS estimated_usd
FROM sweeps s
LEFT JOIN trials t ON t.sweep_id = s.id
LEFT JOIN jobs j ON j.trial_id = t.id
LEFT JOIN ledger l ON l.job_id = j.id AND l.kind IN ('accrue', 'settle')
GROUP BY s.id;

-- Money spent per UTC day, from the ledger.
CREATE VIEW spend_by_day AS
SELECT date(at, 'unixepoch') AS day,
       round(sum(amount_usd), 6) AS spent_usd,
       count(DISTINCT job_id) AS jobs
FROM ledger
WHERE kind IN ('accrue', 'settle') AND scope = 'global'
GROUP BY day;

-- Grader variants compared within each sweep.
CREATE VIEW grader_comparison AS
SELECT l.sweep_id,
       t.grader_name AS grader,
       g.type AS grader_type,
       count(*) AS trials,
       sum(t.state = 'succeeded') AS succeeded,
       CASE s.objective_mode WHEN 'min' THEN min(t.objective)
            ELSE max(t.objective) END AS best_objective,
       avg(t.objective) AS mean_objective
FROM sweep_trials l
JOIN trials t ON t.id = l.trial_id
JOIN sweeps s ON s.id = l.sweep_id
JOIN graders g ON g.sha256 = t.grader_sha256
GROUP BY l.sweep_id, t.grader_name;

-- How the objective moves with each value of each hyperparameter.
CREATE VIEW hyperparameter_sensitivity AS
SELECT l.sweep_id,
       h.key AS hyperparameter,
       h.value,
       count(*) AS trials,
       avg(t.objective) AS mean_objective,
       CASE s.objective_mode WHEN 'min' THEN min(t.objective)
            ELSE max(t.objective) END AS best_objective
FROM sweep_trials l
JOIN trials t ON t.id = l.trial_id
JOIN sweeps s ON s.id = l.sweep_id
JOIN json_each(t.hyperparameters) h
GROUP BY l.sweep_id, h.key, h.value;
