-- 0003_budget: what the spend meter and the budgets need.

-- A job's price and reservation, fixed at admission, and how much of its
-- cost is already in the ledger.
ALTER TABLE jobs ADD COLUMN rate_usd_per_hour REAL NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN reserved_usd REAL NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN ledgered_usd REAL NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN cost_quality TEXT NOT NULL DEFAULT 'estimated'
	CHECK (cost_quality IN ('estimated', 'provider'));
-- 1 while a budget holds the job paused; raising the limit resumes it.
ALTER TABLE jobs ADD COLUMN budget_paused INTEGER NOT NULL DEFAULT 0
	CHECK (budget_paused IN (0, 1));

ALTER TABLE sweeps ADD COLUMN allow_unpriced INTEGER NOT NULL DEFAULT 0
	CHECK (allow_unpriced IN (0, 1));

-- Each time a budget stopped jobs: which scope, its figures, the jobs.
CREATE TABLE halts (
	id        INTEGER PRIMARY KEY,
	at        REAL NOT NULL,
	scope     TEXT NOT NULL,
	limit_usd REAL NOT NULL,
	spent_usd REAL NOT NULL,
	action    TEXT NOT NULL CHECK (action IN ('pause', 'cancel')),
	jobs      TEXT NOT NULL            -- JSON array of job ids
);
CREATE INDEX halts_by_scope ON halts (scope, at);

-- Ledger rows for a job's money come in pairs, scope 'global' and
-- 'sweep:N'; sums over jobs use the global ones so that each movement
-- counts once.
DROP VIEW spend_by_sweep;
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
LEFT JOIN ledger l ON l.scope = 'sweep:' || s.id
                  AND l.kind IN ('accrue', 'settle')
GROUP BY s.id;
