-- 0001_init: the first schema of rftd's store.
--
-- Times are Unix seconds (REAL, UTC): datetime(created_at, 'unixepoch')
-- renders them.  Money is in US dollars (REAL).  JSON columns hold text
-- that json_extract() reads.  States are lower-case words, checked here so
-- that no code path can store a state the daemon does not know.

-- Marks the file as an rftd store ("RFTD"), so that rftd refuses to
-- migrate some other program's database.
PRAGMA application_id = 1380340804;

-- A sweep: one submitted spec, expanded into trials.
CREATE TABLE sweeps (
	id             INTEGER PRIMARY KEY,
	name           TEXT NOT NULL,
	backend        TEXT NOT NULL,
	model          TEXT NOT NULL,
	spec           TEXT NOT NULL,          -- the spec as submitted (JSON)
	spec_sha256    TEXT NOT NULL,          -- of the canonical spec
	state          TEXT NOT NULL DEFAULT 'running'
	               CHECK (state IN ('running', 'paused', 'cancelled',
	                                'completed')),
	priority       INTEGER NOT NULL DEFAULT 0,
	max_concurrent INTEGER CHECK (max_concurrent IS NULL OR max_concurrent > 0),
	max_job_hours  REAL CHECK (max_job_hours IS NULL OR max_job_hours > 0),
	retries        INTEGER NOT NULL DEFAULT 0 CHECK (retries >= 0),
	budget_usd     REAL CHECK (budget_usd IS NULL OR budget_usd >= 0),
	objective_metric TEXT,
	objective_mode TEXT CHECK (objective_mode IS NULL OR
	                           objective_mode IN ('max', 'min')),
	created_at     REAL NOT NULL,
	updated_at     REAL NOT NULL,
	simulated      INTEGER NOT NULL DEFAULT 0 CHECK (simulated IN (0, 1)),
	finished_at    REAL
);
CREATE INDEX sweeps_by_state ON sweeps (state, priority DESC, created_at);

-- Grader variants, stored once however many trials use them (a python
-- grader's source may be 256 KiB).
CREATE TABLE graders (
	sha256 TEXT PRIMARY KEY,               -- of the canonical grader JSON
	type   TEXT NOT NULL,                  -- string_check, python, multi, ...
	spec   TEXT NOT NULL                   -- the grader object (JSON)
) WITHOUT ROWID;

-- A trial: one point of a sweep's search space.  Its identity is the
-- SHA-256 of the canonical JSON of backend, model, dataset hashes, grader,
-- hyperparameters and seed, so the same trial is never stored twice.
CREATE TABLE trials (
	id              INTEGER PRIMARY KEY,
	trial_sha256    TEXT NOT NULL UNIQUE,
	sweep_id        INTEGER NOT NULL REFERENCES sweeps (id),  -- first owner
	grader_name     TEXT NOT NULL,         -- its key in the spec's graders
	grader_sha256   TEXT NOT NULL REFERENCES graders (sha256),
	hyperparameters TEXT NOT NULL,         -- resolved values (JSON object)
	seed            INTEGER,
	state           TEXT NOT NULL DEFAULT 'pending'
	                CHECK (state IN ('pending', 'running', 'paused',
	                                 'succeeded', 'failed', 'cancelled')),
	pending_reason  TEXT,                  -- why a pending trial waits
	attempts        INTEGER NOT NULL DEFAULT 0,  -- jobs created so far
	not_before      REAL,                  -- a retry waits until then
	objective       REAL,                  -- best objective value seen
	best_step       INTEGER,
	created_at      REAL NOT NULL,
	updated_at      REAL NOT NULL
);
-- The leaderboard reads a sweep's best trials through this index.
CREATE INDEX trials_by_objective ON trials (sweep_id, objective);
-- The scheduler finds what still waits through this one.
CREATE INDEX trials_pending ON trials (sweep_id) WHERE state = 'pending';

-- Membership of trials in sweeps, in expansion order.  A trial reused by a
-- later sweep appears once per sweep here.
CREATE TABLE sweep_trials (
	sweep_id  INTEGER NOT NULL REFERENCES sweeps (id),
	ordinal   INTEGER NOT NULL,            -- 0-based expansion order
	trial_id  INTEGER NOT NULL REFERENCES trials (id),
	reused    INTEGER NOT NULL DEFAULT 0 CHECK (reused IN (0, 1)),
	PRIMARY KEY (sweep_id, ordinal)
) WITHOUT ROWID;
CREATE INDEX sweep_trials_by_trial ON sweep_trials (trial_id);
CREATE INDEX sweep_trials_reused ON sweep_trials (sweep_id) WHERE reused = 1;

-- A job: one attempt of a trial on a backend.  The row (with its intent
-- key) is committed before the backend is asked to create anything.
CREATE TABLE jobs (
	id              INTEGER PRIMARY KEY,
	trial_id        INTEGER NOT NULL REFERENCES trials (id),
	attempt         INTEGER NOT NULL CHECK (attempt >= 1),
	backend         TEXT NOT NULL,
	intent_key      TEXT NOT NULL UNIQUE,
	remote_id       TEXT,                  -- the backend's job id
	state           TEXT NOT NULL DEFAULT 'pending'
	                CHECK (state IN ('pending', 'submitting', 'validating',
	                                 'queued', 'running', 'pausing',
	                                 'paused', 'cancelling', 'succeeded',
	                                 'failed', 'cancelled', 'unknown',
	                                 'lost')),
	provider_status TEXT,                  -- the backend's raw status
	error           TEXT,                  -- last error (JSON or text)
	fine_tuned_model TEXT,
	events_cursor   TEXT,                  -- last event id ingested
	simulated       INTEGER NOT NULL DEFAULT 0 CHECK (simulated IN (0, 1)),
	billed_seconds  REAL NOT NULL DEFAULT 0 CHECK (billed_seconds >= 0),
	cost_usd        REAL NOT NULL DEFAULT 0,
	next_poll_at    REAL,
	created_at      REAL NOT NULL,
	submitted_at    REAL,
	started_at      REAL,
	finished_at     REAL,
	updated_at      REAL NOT NULL,
	UNIQUE (trial_id, attempt),
	UNIQUE (backend, remote_id)
);
CREATE INDEX jobs_by_state ON jobs (state);

-- Events reported by the backend, oldest first by id.
CREATE TABLE job_events (
	id         INTEGER PRIMARY KEY,
	job_id     INTEGER NOT NULL REFERENCES jobs (id),
	remote_id  TEXT,                       -- the backend's event id
	created_at REAL NOT NULL,
	level      TEXT,
	type       TEXT,
	message    TEXT,
	data       TEXT,                       -- JSON, as reported
	UNIQUE (job_id, remote_id)
);
CREATE INDEX job_events_by_job ON job_events (job_id, created_at);

-- Metrics in long format: one value per job, metric name and step.
-- Canonical names (train_reward_mean, valid_reward_mean, ...) sit next to
-- the backend's raw names.
CREATE TABLE metrics (
	job_id INTEGER NOT NULL REFERENCES jobs (id),
	name   TEXT NOT NULL,
	step   INTEGER NOT NULL,
	value  REAL,
	PRIMARY KEY (job_id, name, step)
) WITHOUT ROWID;

CREATE TABLE checkpoints (
	id         INTEGER PRIMARY KEY,
	job_id     INTEGER NOT NULL REFERENCES jobs (id),
	remote_id  TEXT,
	step       INTEGER NOT NULL,
	model      TEXT,                       -- fine-tuned model at this step
	metrics    TEXT,                       -- JSON
	created_at REAL NOT NULL,
	UNIQUE (job_id, step)
);

-- Datasets uploaded to a backend, cached by content.
CREATE TABLE files (
	id          INTEGER PRIMARY KEY,
	backend     TEXT NOT NULL,
	sha256      TEXT NOT NULL,
	remote_id   TEXT NOT NULL,
	path        TEXT,
	bytes       INTEGER NOT NULL CHECK (bytes >= 0),
	purpose     TEXT NOT NULL DEFAULT 'fine-tune',
	uploaded_at REAL NOT NULL,
	UNIQUE (backend, sha256, purpose)
);

-- Budget scopes: 'global', 'day', 'month', 'sweep:<id>'.
CREATE TABLE budgets (
	scope      TEXT PRIMARY KEY,
	limit_usd  REAL NOT NULL CHECK (limit_usd >= 0),
	action     TEXT NOT NULL DEFAULT 'pause'
	           CHECK (action IN ('pause', 'cancel')),
	updated_at REAL NOT NULL
);

-- Every movement of money, append-only.
CREATE TABLE ledger (
	id         INTEGER PRIMARY KEY,
	at         REAL NOT NULL,
	job_id     INTEGER REFERENCES jobs (id),
	scope      TEXT NOT NULL,
	kind       TEXT NOT NULL
	           CHECK (kind IN ('reserve', 'release', 'accrue', 'settle',
	                           'limit')),
	amount_usd REAL NOT NULL,
	basis      TEXT,                       -- how the amount was computed
	quality    TEXT NOT NULL DEFAULT 'estimated'
	           CHECK (quality IN ('estimated', 'provider'))
);
CREATE INDEX ledger_by_job ON ledger (job_id);
CREATE INDEX ledger_by_scope ON ledger (scope, at);

CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN
	SELECT RAISE(ABORT, 'the ledger is append-only');
END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN
	SELECT RAISE(ABORT, 'the ledger is append-only');
END;

-- The simulated backend's own jobs: what a remote provider would hold.
-- Kept here so that simulated jobs outlive an rftd restart, as real ones
-- do.  Progress is a function of time: elapsed simulated seconds up to
-- active_since, plus (now - active_since) x speed while active.
CREATE TABLE sim_jobs (
	remote_id    TEXT PRIMARY KEY,
	intent_key   TEXT NOT NULL UNIQUE,
	request      TEXT NOT NULL,          -- what was submitted (JSON)
	created_at   REAL NOT NULL,
	elapsed      REAL NOT NULL DEFAULT 0, -- simulated seconds banked
	active_since REAL,                   -- NULL while paused or cancelled
	control      TEXT NOT NULL DEFAULT 'active'
	             CHECK (control IN ('active', 'paused', 'cancelled',
	                                'provider-paused', 'resumed'))
);
