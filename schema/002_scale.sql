-- turnpike ledger, version 2: what the relay's writer loses is counted per kind of event, and
-- retention finds old rows by index instead of scanning whole tables.

-- Dropped events by kind (events_dropped is their sum): session starts, counter updates,
-- session ends, per-peer counters and refusals (turnpike-admin stats).
ALTER TABLE ledger_health ADD COLUMN dropped_starts   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ledger_health ADD COLUMN dropped_updates  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ledger_health ADD COLUMN dropped_ends     INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ledger_health ADD COLUMN dropped_peers    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ledger_health ADD COLUMN dropped_refusals INTEGER NOT NULL DEFAULT 0;

-- Retention deletes ended sessions and refusals older than a cutoff, a chunk at a time. Only
-- ended sessions are in this index, so active ones (updated every 30 s) cost it nothing.
CREATE INDEX sessions_ended ON sessions (ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX refusals_last ON refusals (last_at);
