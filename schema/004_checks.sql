-- turnpike ledger, version 4: what the check page (turnpike-admin check-link) found in a user's
-- own browser, one row per link. The row is made when the page takes its credentials, which
-- uses the link up (the id is the primary key: a second use finds it taken); the result fills
-- in the rest. turnpike-admin checks lists them.
CREATE TABLE checks (
  id            TEXT    PRIMARY KEY,       -- the link's id (hex), from its token
  node          TEXT    NOT NULL,          -- the relay that served the page
  note          TEXT    NOT NULL DEFAULT '', -- what the admin wrote with check-link --note
  expires_at    INTEGER NOT NULL,          -- the link's expiry
  opened_at     INTEGER NOT NULL,          -- when the page took its credentials
  client_ip     TEXT    NOT NULL,          -- the browser's address as the relay saw it
  user_agent    TEXT    NOT NULL DEFAULT '',
  turn_username TEXT    NOT NULL DEFAULT '', -- the short-lived credential the page was given
  finished_at   INTEGER,                   -- NULL until the page sent its result
  verdict       TEXT,                      -- the sentence the page showed the user
  results       TEXT                       -- JSON array, one object per TURN URL: url, transport,
                                           -- outcome (works, no-relay-candidate, no-data, ...),
                                           -- candidate types seen, RTT in ms, error
) WITHOUT ROWID;
CREATE INDEX checks_opened ON checks (opened_at);
