-- 0004_early_stopping: trials that an early-stopping rule stopped, and
-- every decision the rules made.

-- A trial may now end 'stopped': a rule judged it not worth finishing.
-- It counts as done, is never retried, and keeps its metrics and cost.
-- SQLite cannot change a CHECK in place, so the table is built again
-- (with foreign keys off for this migration; they are checked before it
-- commits).  Views keep naming `trials` and follow the new table.
PRAGMA legacy_alter_table = ON;

CREATE TABLE trials_new (
	id              INTEGER PRIMARY KEY,
	trial_sha256    TEXT NOT NULL UNIQUE,
	sweep_id        INTEGER NOT NULL REFERENCES sweeps (id),  -- first owner
	grader_name     TEXT NOT NULL,         -- its key in the spec's graders
	grader_sha256   TEXT NOT NULL REFERENCES graders (sha256),
	hyperparameters TEXT NOT NULL,         -- resolved values (JSON object)
	seed            INTEGER,
	state           TEXT NOT NULL DEFAULT 'pending'
	                CHECK (state IN ('pending', 'running', 'paused',
	                                 'succeeded', 'failed', 'cancelled',
	                                 'stopped')),
	pending_reason  TEXT,                  -- why a pending trial waits
	attempts        INTEGER NOT NULL DEFAULT 0,  -- jobs created so far
	not_before      REAL,                  -- a retry waits until then
	objective       REAL,                  -- best objective value seen
	best_step       INTEGER,
	created_at      REAL NOT NULL,
	updated_at      REAL NOT NULL,
	-- What early stopping holds against it: 'held' (paused until the
	-- rule is sure, or resumed if it turns out good enough) or 'stopped'
	-- (the rule is sure; its job is cancelled).  NULL: nothing.
	early_stop      TEXT CHECK (early_stop IS NULL OR
	                            early_stop IN ('held', 'stopped')),
	early_step      INTEGER                -- the step it was judged at
);
INSERT INTO trials_new (id, trial_sha256, sweep_id, grader_name,
                        grader_sha256, hyperparameters, seed, state,
                        pending_reason, attempts, not_before, objective,
                        best_step, created_at, updated_at)
SELECT id, trial_sha256, sweep_id, grader_name, grader_sha256,
       hyperparameters, seed, state, pending_reason, attempts, not_before,
       objective, best_step, created_at, updated_at
FROM trials;
DROP TABLE trials;
ALTER TABLE trials_new RENAME TO trials;
CREATE INDEX trials_by_objective ON trials (sweep_id, objective);
CREATE INDEX trials_pending ON trials (sweep_id) WHERE state = 'pending';

PRAGMA legacy_alter_table = OFF;

-- The rule of a sweep, as validated (JSON: rule, metric, mode,
-- grace_steps, reduction_factor, min_trials); NULL: none.
ALTER TABLE sweeps ADD COLUMN early_stopping TEXT;

-- Every decision of an early-stopping rule: the trial, the step it was
-- judged at, its value there, what that was compared with, and how many
-- other trials had a value to compare.  `action` is what followed:
--   continue  good enough (or too few peers to judge: threshold NULL)
--   pause     not good enough for now; paused until the rule is sure
--   stop      not good enough, and nothing to come can change that
--   resume    a paused trial turned out good enough after all
CREATE TABLE early_stops (
	id        INTEGER PRIMARY KEY,
	at        REAL NOT NULL,
	sweep_id  INTEGER NOT NULL REFERENCES sweeps (id),
	trial_id  INTEGER NOT NULL REFERENCES trials (id),
	job_id    INTEGER REFERENCES jobs (id),
	rule      TEXT NOT NULL CHECK (rule IN ('median', 'asha')),
	metric    TEXT NOT NULL,
	step      INTEGER NOT NULL,
	rung      INTEGER,                     -- asha: the rung's index
	value     REAL NOT NULL,
	threshold REAL,
	peers     INTEGER NOT NULL,
	action    TEXT NOT NULL
	          CHECK (action IN ('continue', 'pause', 'stop', 'resume')),
	UNIQUE (trial_id, step, action)
);
CREATE INDEX early_stops_by_sweep ON early_stops (sweep_id, trial_id);

-- The decisions with their sweep and job, newest last:
--   SELECT * FROM early_stopping WHERE sweep_id = 3 AND action = 'stop';
CREATE VIEW early_stopping AS
SELECT e.sweep_id,
       s.name AS sweep,
       e.trial_id,
       e.job_id,
       datetime(e.at, 'unixepoch') AS at,
       e.rule,
       e.metric,
       e.step,
       e.rung,
       e.value,
       e.threshold,
       e.peers,
       e.action
FROM early_stops e
JOIN sweeps s ON s.id = e.sweep_id
ORDER BY e.id;
