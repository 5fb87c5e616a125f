-- When the provider deletes an uploaded dataset (Azure OpenAI requires
-- an expiry on every upload): a cached file id is used only while it has
-- time left, and uploaded again after.  NULL: the provider keeps it.
ALTER TABLE files ADD COLUMN expires_at REAL;
