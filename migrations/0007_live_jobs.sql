-- The scheduler reads the live jobs a page at a time, in id order, every
-- tick: an index of the live ones only keeps that proportional to them,
-- however many jobs have ended.  Its condition is the scheduler's query's,
-- word for word, as SQLite requires to use it.
CREATE INDEX jobs_live ON jobs (id)
	WHERE state NOT IN ('pending', 'succeeded', 'failed', 'cancelled', 'lost');
