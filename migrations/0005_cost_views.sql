-- 0005_cost_views: what each trial cost, what it returned per dollar, and
-- the model to use, next to its objective.

-- The leaderboard gains, after its columns of 0002:
--   reward_per_usd  the objective per dollar spent on the trial: for a
--                   `max` objective, objective / cost_usd; for a `min`
--                   one, 1 / (objective x cost_usd), so that for either
--                   mode higher is better and it halves when the cost
--                   doubles.  NULL when the cost is 0 or unknown, or
--                   (`min`) when the objective is not above 0.
--   model           the trial's model, ready to use: the fine_tuned_model
--                   of its newest succeeded job, else the model of its
--                   checkpoint at best_step, else of its latest checkpoint
--   model_source    'fine_tuned_model' or 'checkpoint' (NULL: no model)
--   simulated       1 when the sweep runs on a simulated backend: its
--                   dollars are simulated
--   SELECT * FROM leaderboard WHERE sweep_id = 1
--   ORDER BY reward_per_usd IS NULL, reward_per_usd DESC;
DROP VIEW leaderboard;
CREATE VIEW leaderboard AS
SELECT sweep_id, sweep, trial_id, grader, seed, learning_rate_multiplier,
       n_epochs, batch_size, reasoning_effort, compute_multiplier,
       eval_interval, eval_samples, state, metric, objective, score,
       best_step, jobs, cost_usd, training_hours,
       CASE WHEN cost_usd > 0 AND objective IS NOT NULL THEN
            CASE mode WHEN 'min' THEN
                 CASE WHEN objective > 0 THEN 1.0 / (objective * cost_usd)
                 END
            ELSE objective / cost_usd END
       END AS reward_per_usd,
       coalesce(fine_tuned_model, checkpoint_model) AS model,
       CASE WHEN fine_tuned_model IS NOT NULL THEN 'fine_tuned_model'
            WHEN checkpoint_model IS NOT NULL THEN 'checkpoint'
       END AS model_source,
       simulated
FROM (
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
       s.objective_mode AS mode,
       t.objective,
       CASE s.objective_mode WHEN 'min' THEN -t.objective
            ELSE t.objective END AS score,
       t.best_step,
       t.attempts AS jobs,
       (SELECT sum(j.cost_usd) FROM jobs j WHERE j.trial_id = t.id)
           AS cost_usd,
       (SELECT sum(j.billed_seconds) FROM jobs j WHERE j.trial_id = t.id)
           / 3600.0 AS training_hours,
       (SELECT j.fine_tuned_model FROM jobs j WHERE j.trial_id = t.id
        AND j.state = 'succeeded' AND j.fine_tuned_model IS NOT NULL
        ORDER BY j.attempt DESC LIMIT 1) AS fine_tuned_model,
       coalesce((SELECT c.model FROM jobs j
                 JOIN checkpoints c ON c.job_id = j.id
                 WHERE j.trial_id = t.id AND c.step = t.best_step
                 AND c.model IS NOT NULL ORDER BY j.attempt DESC LIMIT 1),
                (SELECT c.model FROM jobs j
                 JOIN checkpoints c ON c.job_id = j.id
                 WHERE j.trial_id = t.id AND c.model IS NOT NULL
                 ORDER BY j.attempt DESC, c.step DESC LIMIT 1))
           AS checkpoint_model,
       s.simulated
FROM sweep_trials l
JOIN trials t ON t.id = l.trial_id
JOIN sweeps s ON s.id = l.sweep_id
);
