-- turnpike ledger, version 1: relay sessions, their peers, credentials issued by Prosody, and
-- refusals. Applied by the relay and by the Prosody module, whichever opens the file first.
-- Times are unix milliseconds (UTC). Addresses are text as written by the server.

CREATE TABLE sessions (
  id            INTEGER PRIMARY KEY,
  node          TEXT    NOT NULL,             -- host name of the relay
  boot          TEXT    NOT NULL,             -- random id of the relay process run
  sid           TEXT    NOT NULL,             -- session id within that run (hex, as in the log);
                                              -- (node, boot, sid) names a session
  realm         TEXT    NOT NULL,
  username      TEXT    NOT NULL,
  transport     TEXT    NOT NULL,             -- udp, tcp, tls, dtls
  client_ip     TEXT    NOT NULL,
  client_port   INTEGER NOT NULL,
  relay_ip      TEXT,                         -- as announced (XOR-RELAYED-ADDRESS)
  relay_port    INTEGER,
  relay6_ip     TEXT,                         -- second family of a dual allocation
  relay6_port   INTEGER,
  started_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,             -- last time the counters were written
  ended_at      INTEGER,                      -- NULL while active
  end_reason    TEXT,                         -- refresh-0, expired, client-closed, quota, shutdown, interrupted
  bytes_from_client   INTEGER NOT NULL DEFAULT 0,  -- relayed client -> peers
  packets_from_client INTEGER NOT NULL DEFAULT 0,
  bytes_to_client     INTEGER NOT NULL DEFAULT 0,  -- relayed peers -> client
  packets_to_client   INTEGER NOT NULL DEFAULT 0
);
-- Few indexes on purpose: every one costs on each of thousands of writes per second. Rows are
-- appended in start order, so the row id orders them by time; the writer knows the row of each
-- session it started and updates it by id.
CREATE INDEX sessions_username ON sessions (username);
CREATE INDEX sessions_active ON sessions (node) WHERE ended_at IS NULL;

CREATE TABLE session_peers (
  session_id        INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  peer_ip           TEXT    NOT NULL,
  bytes_to_peer     INTEGER NOT NULL DEFAULT 0,
  packets_to_peer   INTEGER NOT NULL DEFAULT 0,
  bytes_from_peer   INTEGER NOT NULL DEFAULT 0,
  packets_from_peer INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (session_id, peer_ip)
) WITHOUT ROWID;

CREATE TABLE credentials (
  id          INTEGER PRIMARY KEY,
  issued_at   INTEGER NOT NULL,
  host        TEXT    NOT NULL,               -- the XMPP host (VirtualHost) that issued it
  jid         TEXT    NOT NULL,               -- full JID of the user it was issued to
  username    TEXT    NOT NULL,               -- the TURN REST username
  expires_at  INTEGER NOT NULL
);
CREATE INDEX credentials_username ON credentials (username);
CREATE INDEX credentials_jid ON credentials (jid);
CREATE INDEX credentials_issued ON credentials (issued_at);

CREATE TABLE refusals (
  id          INTEGER PRIMARY KEY,
  at          INTEGER NOT NULL,               -- first refusal of this row
  last_at     INTEGER NOT NULL,               -- last refusal folded into it
  count       INTEGER NOT NULL DEFAULT 1,     -- identical refusals folded together
  node        TEXT    NOT NULL,
  client_ip   TEXT    NOT NULL,
  client_port INTEGER NOT NULL,
  transport   TEXT    NOT NULL,
  method      TEXT    NOT NULL,
  code        INTEGER NOT NULL,               -- STUN error sent; 0 when dropped silently
  reason      TEXT    NOT NULL,               -- bad-integrity, expired-credential, unknown-user,
                                              -- stale-nonce, forbidden-peer, quota, ...
  username    TEXT    NOT NULL DEFAULT '',
  peer        TEXT,                           -- the refused peer, for forbidden-peer
  detail      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX refusals_at ON refusals (at);

-- What the relay's ledger writer has done and lost, per node (turnpike-admin stats).
CREATE TABLE ledger_health (
  node             TEXT PRIMARY KEY,
  boot             TEXT    NOT NULL,
  updated_at       INTEGER NOT NULL,
  events_written   INTEGER NOT NULL DEFAULT 0,
  events_dropped   INTEGER NOT NULL DEFAULT 0,   -- lost: queue full, or a failing database
  refusals_folded  INTEGER NOT NULL DEFAULT 0,   -- not written separately (rate limit)
  last_error       TEXT
);
