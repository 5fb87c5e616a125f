-- 0008_notifications: the outbox of notifications.  An event is written
-- here in the transaction that made it happen, one row per target
-- ([notify] command, url) configured then, and delivered from here: a
-- row is kept until it is delivered or given up, across restarts.

CREATE TABLE notifications (
	id              TEXT NOT NULL,          -- 'msg_...': the webhook-id,
	                                        -- the same on every attempt
	target          TEXT NOT NULL CHECK (target IN ('command', 'url')),
	type            TEXT NOT NULL,          -- 'sweep.completed', ...
	payload         TEXT NOT NULL,          -- the JSON delivered
	created_at      REAL NOT NULL,
	state           TEXT NOT NULL DEFAULT 'pending'
	                CHECK (state IN ('pending', 'delivered', 'failed')),
	attempts        INTEGER NOT NULL DEFAULT 0,  -- started so far
	-- The next attempt, not before then.  An attempt moves it past its
	-- own end first, so one cut short by a crash is tried again.
	next_attempt_at REAL NOT NULL,
	delivered_at    REAL,
	last_error      TEXT,                   -- why the last attempt failed
	PRIMARY KEY (id, target)
);
-- Delivery reads the due rows of a target, soonest first.
CREATE INDEX notifications_due ON notifications (target, next_attempt_at)
	WHERE state = 'pending';
