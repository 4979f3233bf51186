-- Unit tests of the native module `turnpike` (turnpike.so) through its Lua API, run by lua5.4
-- the way Prosody loads it: require "turnpike" found on LUA_CPATH_5_4, the Lua API provided by
-- the interpreter. Usage: lua5.4 test_turnpike_module.lua (ctest sets LUA_CPATH_5_4).
local turnpike = require "turnpike";

local tests, failures = {}, 0;
local function test(name, fn) tests[#tests + 1] = { name = name, fn = fn }; end

local function fail(msg, level) error(msg, (level or 1) + 1); end
local function eq(actual, expected, what)
	if actual ~= expected then
		fail(("%s: expected %s, got %s"):format(what or "value", tostring(expected), tostring(actual)), 2);
	end
end
local function matches(text, pattern, what)
	if type(text) ~= "string" or not text:find(pattern) then
		fail(("%s: %q does not match %q"):format(what or "text", tostring(text), pattern), 2);
	end
end
local function raises(pattern, fn, ...)
	local ok, err = pcall(fn, ...);
	if ok then fail("expected an error matching " .. pattern, 2); end
	if not tostring(err):find(pattern) then
		fail(("error %q does not match %q"):format(tostring(err), pattern), 2);
	end
	return err;
end

-- Scratch files ---------------------------------------------------------------------------------

local scratch = os.getenv("TMPDIR") or "/tmp";
local function run(cmd)
	local ok = os.execute(cmd);
	return ok == true or ok == 0;
end
local dir = io.popen("mktemp -d " .. scratch .. "/turnpike-lua-XXXXXX"):read("l");
assert(dir and dir ~= "", "mktemp failed");

local function write(name, lines)
	local path = dir .. "/" .. name;
	local f = assert(io.open(path, "w"));
	f:write(table.concat(lines, "\n"), "\n");
	f:close();
	return path;
end

local base = {
	"listening-ip=127.0.0.1", "listening-port=3478", "realm=example.org",
	"use-auth-secret", "static-auth-secret=first-secret", "static-auth-secret=newest-secret",
};
local function with(extra)
	local lines = {};
	for _, l in ipairs(base) do lines[#lines + 1] = l; end
	for _, l in ipairs(extra or {}) do lines[#lines + 1] = l; end
	return lines;
end

local function load(lines, name)
	local path = write(name or "turnpike.conf", lines);
	local cfg, err = turnpike.load_config(path);
	if not cfg then fail("load_config failed: " .. tostring(err), 2); end
	return cfg, path;
end

local function by_key(services)
	local out = {};
	for _, s in ipairs(services) do out[s.type .. "/" .. s.transport .. "@" .. s.host] = s; end
	return out;
end

local function count(t) local n = 0; for _ in pairs(t) do n = n + 1; end return n; end

-- The formula ------------------------------------------------------------------------------------

test("module identity", function ()
	eq(type(turnpike.version), "string", "version");
	eq(type(turnpike.load_config), "function", "load_config");
end);

test("password matches an independently computed HMAC-SHA1", function ()
	-- openssl dgst -sha1 -hmac test-shared-secret -binary <<< -n 1795382812 | base64
	eq(turnpike.password("test-shared-secret", "1795382812"), "EwQhqG4cHvjKVKJUbkmP1qVGK6w=", "password");
end);

test("mint from an explicit secret", function ()
	local c = turnpike.mint("test-shared-secret", nil, 3600, 1795379212);
	eq(c.username, "1795382812", "username without user");
	eq(c.password, "EwQhqG4cHvjKVKJUbkmP1qVGK6w=", "password");
	eq(c.expires, 1795382812, "expires");
	local u = turnpike.mint("test-shared-secret", "alice@example.org", 60, 1000);
	eq(u.username, "1060:alice@example.org", "username with user");
	eq(u.password, turnpike.password("test-shared-secret", "1060:alice@example.org"), "password");
	local now = os.time();
	local fresh = turnpike.mint("s", "", 86400);
	assert(fresh.expires >= now + 86400 and fresh.expires <= os.time() + 86400, "defaults to the clock");
	eq(fresh.username, tostring(fresh.expires), "empty user means no user part");
end);

test("mint refuses what cannot work, naming the caller's line", function ()
	local err = raises("the secret is empty", turnpike.mint, "", "a", 60);
	raises("TTL must be at least 1", turnpike.mint, "s", "a", 0);
	raises("TTL must be at least 1", turnpike.mint, "s", "a", -5);
	raises("509 bytes", turnpike.mint, "s", string.rep("u", 600), 60);
	raises("NUL", turnpike.mint, "s", "a\0b", 60);
	-- RFC 8489 §14.3: the relay refuses (400) a USERNAME that is not text, so none is minted;
	-- the message shows the name escaped.
	raises("'a\\x1b%[2J' holds a NUL, control or invisible character", turnpike.mint, "s", "a\27[2J", 60);
	raises("not UTF%-8", turnpike.mint, "s", "caf\233", 60);
	-- The expiry leads the username in decimal without a sign: a clock before 1970 or past 9999
	-- would give a credential no relay reads (and now + ttl could overflow). Found by fuzzing.
	raises("not a unix time between 1970 and 9999", turnpike.mint, "s", "a", 60, -1);
	raises("not a unix time between 1970 and 9999", turnpike.mint, "s", "a", 60, math.maxinteger);
	raises("not a unix time between 1970 and 9999", turnpike.mint, "s", "a", 60, 253402300799 - 59);
	eq(turnpike.mint("s", "a", 60, 253402300799 - 60).expires, 253402300799, "the last second is fine");
	eq(turnpike.mint("s", "a", 60, 0).expires, 60, "1970 is fine");
	raises("invisible", turnpike.mint, "s", "evil\u{202E}gpj", 60);
	eq(turnpike.mint("s", "caf\u{E9}@example.org", 60, 1000).username, "1060:caf\u{E9}@example.org",
		"text that is not ASCII is fine");
	raises("number expected", turnpike.mint, "s", "a", "soon");
	raises("string expected", turnpike.mint, nil, "a", 60);
	-- Called from Lua code (not straight from pcall), the message starts with this file and line.
	local ok, e = pcall(function () return turnpike.mint("", "a", 60); end);
	assert(not ok);
	matches(e, "test_turnpike_module%.lua:%d+: turnpike: the secret is empty", "error position");
	assert(err);
end);

-- Loading a config ------------------------------------------------------------------------------

test("info describes the config without its secrets", function ()
	local cfg, path = load(with({ "tls-listening-port=5350", "cert=/etc/ssl/relay.pem", "pkey=/etc/ssl/relay.key",
		"external-ip=192.0.2.10/10.0.0.5" }));
	local info = cfg:info();
	eq(info.path, path, "path");
	eq(info.realm, "example.org", "realm");
	eq(info.secrets, 2, "secrets");
	eq(info.use_auth_secret, true, "use_auth_secret");
	eq(info.listening_port, 3478, "listening_port");
	eq(info.tls_listening_port, 5350, "tls_listening_port");
	eq(info.udp, true, "udp"); eq(info.tcp, true, "tcp"); eq(info.tls, true, "tls");
	eq(info.cert, "/etc/ssl/relay.pem", "cert");
	eq(info.listening_ips[1], "127.0.0.1", "listening_ips");
	eq(info.external_ips[1].public, "192.0.2.10", "external public");
	eq(info.external_ips[1].private, "10.0.0.5", "external private");
	eq(info.host, "192.0.2.10", "external-ip wins over listening-ip");
	eq(info.max_credential_ttl, 604800, "max_credential_ttl");
	eq(info.separator, ":", "separator");
	for k, v in pairs(info) do
		assert(not tostring(v):find("secret%-"), "info leaks a secret in " .. k);
	end
	matches(tostring(cfg), "^turnpike%.config: .*2 secret", "tostring");
	eq(cfg:path(), path, "path()");
end);

test("credentials are signed with the newest (last) secret", function ()
	local cfg = load(with());
	local c = cfg:mint("alice", 600, 1000);
	eq(c.username, "1600:alice", "username");
	eq(c.password, turnpike.password("newest-secret", "1600:alice"), "signed with the last line");
	eq(c.expires, 1600, "expires");
	eq(cfg:mint(nil, 600, 1000).username, "1600", "no user");
end);

test("rest-api-separator shapes the username", function ()
	local cfg = load(with({ "rest-api-separator=;" }));
	eq(cfg:mint("alice", 60, 1000).username, "1060;alice", "username");
end);

test("verify accepts every secret and says why it refuses", function ()
	local cfg = load(with());
	local now = os.time();
	local new = cfg:mint("alice", 600, now);
	local old = turnpike.mint("first-secret", "alice", 600, now);
	local other = turnpike.mint("someone-elses-secret", "alice", 600, now);
	local ok, n = cfg:verify(new.username, new.password);
	eq(ok, true, "newest"); eq(n, 1, "newest index");
	ok, n = cfg:verify(old.username, old.password);
	eq(ok, true, "older"); eq(n, 2, "older index");
	local why;
	ok, why = cfg:verify(other.username, other.password);
	eq(ok, false, "other secret"); matches(why, "matches no static%-auth%-secret", "reason");
	ok, why = cfg:verify(new.username, new.password, now + 601);
	eq(ok, false, "expired"); matches(why, "expired 1 s ago", "reason");
	ok, why = cfg:verify("alice", new.password);
	eq(ok, false, "malformed"); matches(why, "not a TURN REST username", "reason");
	local far = turnpike.mint("newest-secret", "alice", 30 * 86400, now);
	ok, why = cfg:verify(far.username, far.password, now);
	eq(ok, false, "too far ahead"); matches(why, "max%-credential%-ttl", "reason");
end);

test("has_secret", function ()
	local cfg = load(with());
	eq(cfg:has_secret("first-secret"), true, "first");
	eq(cfg:has_secret("newest-secret"), true, "newest");
	eq(cfg:has_secret("newest-secre"), false, "prefix");
	eq(cfg:has_secret(""), false, "empty");
end);

test("a TTL the relay would refuse is an error naming max-credential-ttl", function ()
	local cfg, path = load(with({ "max-credential-ttl=3600" }));
	local err = raises("max%-credential%-ttl=3600", cfg.mint, cfg, "a", 7200);
	assert(err:find(path, 1, true), "names the file");
	raises("max%-credential%-ttl=3600", cfg.services, cfg, { ttl = 7200 });
	eq(cfg:mint("a", 3600, 0).expires, 3600, "the cap itself is fine");
end);

-- Services --------------------------------------------------------------------------------------

test("services derived from the listeners", function ()
	local cfg = load(with());
	local s = cfg:services();
	eq(#s, 3, "stun/udp, turn/udp, turn/tcp");
	local k = by_key(s);
	assert(k["stun/udp@127.0.0.1"] and k["turn/udp@127.0.0.1"] and k["turn/tcp@127.0.0.1"], "entries");
	eq(k["stun/udp@127.0.0.1"].port, 3478, "port");
	eq(k["stun/udp@127.0.0.1"].restricted, nil, "stun needs no credentials");
	eq(k["turn/udp@127.0.0.1"].restricted, true, "turn is restricted");
	eq(k["turn/udp@127.0.0.1"].username, nil, "no ttl, no credentials");
end);

test("TLS is advertised when a cert is set and not no-tls", function ()
	local k = by_key(load(with({ "cert=/c.pem", "pkey=/k.pem", "tls-listening-port=5349" })):services());
	eq(count(k), 4, "four entries");
	eq(k["turns/tcp@127.0.0.1"].port, 5349, "turns port");
	eq(k["turns/tcp@127.0.0.1"].restricted, true, "turns restricted");
	eq(count(by_key(load(with({ "cert=/c.pem", "pkey=/k.pem", "no-tls" })):services())), 3, "no-tls");
end);

test("port 443 shared with the web server is announced for TURN over TLS", function ()
	local cfg = load(with({ "cert=/c.pem", "pkey=/k.pem", "mux-listening-port=443", "mux-web-backend=127.0.0.1:4444" }));
	local s = cfg:services();
	eq(#s, 5, "stun, turn udp, turn tcp, turns on 5349 and on 443");
	eq(s[4].type .. " " .. s[4].port, "turns 5349", "tls port");
	eq(s[5].type .. " " .. s[5].port, "turns 443", "mux port");
	eq(cfg:info().mux_listening_port, 443, "info");
	eq(#cfg:services({ tls_port = 443 }), 4, "no duplicate when 443 is also the advertised TLS port");
	eq(#load(with({ "cert=/c.pem", "pkey=/k.pem", "no-tls", "mux-listening-port=443",
		"mux-web-backend=127.0.0.1:4444" })):services(), 4, "no-tls keeps the shared port");
end);

test("no-udp and no-tcp remove their entries", function ()
	local k = by_key(load(with({ "no-udp", "cert=/c.pem", "pkey=/k.pem" })):services());
	eq(count(k), 2, "turn/tcp and turns");
	assert(k["turn/tcp@127.0.0.1"] and k["turns/tcp@127.0.0.1"], "entries");
	k = by_key(load(with({ "no-tcp" })):services());
	eq(count(k), 2, "stun/udp and turn/udp");
	assert(k["stun/udp@127.0.0.1"] and k["turn/udp@127.0.0.1"], "entries");
end);

test("credentials on turn and turns alike, one user", function ()
	local cfg = load(with({ "cert=/c.pem", "pkey=/k.pem" }));
	local now = os.time();
	for _, s in ipairs(cfg:services({ ttl = 600, user = "bob@example.org", now = now })) do
		if s.type == "stun" then
			eq(s.username, nil, "stun without credentials");
		else
			eq(s.username, (now + 600) .. ":bob@example.org", s.type .. " username");
			eq(s.password, turnpike.password("newest-secret", s.username), s.type .. " password");
			eq(s.expires, now + 600, s.type .. " expires");
			eq(cfg:verify(s.username, s.password), true, s.type .. " verifies");
		end
	end
end);

test("host and port options override the config", function ()
	local cfg = load(with({ "cert=/c.pem", "pkey=/k.pem" }));
	local k = by_key(cfg:services({ host = "turn.example.org", port = 3479, tls_port = 443 }));
	eq(k["turn/udp@turn.example.org"].port, 3479, "port");
	eq(k["turns/tcp@turn.example.org"].port, 443, "tls port");
	local s = cfg:services({ host = { "a.example", "b.example" } });
	eq(#s, 8, "four entries per host");
	eq(s[1].host, "a.example", "first host first"); eq(s[8].host, "b.example", "second host last");
end);

test("the host comes from external-ip, IPv4 first, then listening-ip", function ()
	eq(load({ "use-auth-secret", "static-auth-secret=s", "listening-ip=::1", "listening-ip=127.0.0.2",
		"external-ip=2001:db8::5", "external-ip=198.51.100.7" }):services()[1].host, "198.51.100.7", "external v4");
	eq(load({ "use-auth-secret", "static-auth-secret=s", "listening-ip=::1", "listening-ip=127.0.0.2" })
		:services()[1].host, "127.0.0.2", "listening v4");
	eq(load({ "use-auth-secret", "static-auth-secret=s", "listening-ip=::1" }):services()[1].host, "::1", "v6");
end);

test("without any host the error says where to give one", function ()
	local cfg = load({ "use-auth-secret", "static-auth-secret=s", "listening-ip=0.0.0.0" });
	eq(cfg:info().host, nil, "no host in info");
	raises("turnpike_host", cfg.services, cfg);
	eq(cfg:services({ host = "relay.example" })[1].host, "relay.example", "a host given works");
	-- external-ip=auto: the listening address is a private one; only the running relay knows better.
	cfg = load({ "use-auth-secret", "static-auth-secret=s", "listening-ip=10.0.0.5", "external-ip=auto",
		"external-ip-stun-server=192.0.2.53:3478" });
	eq(cfg:info().external_ip_auto, true, "auto in info");
	eq(cfg:info().host, nil, "no host from an auto external-ip");
	raises("external%-ip=auto.*turnpike_host", cfg.services, cfg);
end);

test("services arguments are checked", function ()
	local cfg = load(with());
	raises("entry 2 is not a string", cfg.services, cfg, { host = { "a", 3 } });
	raises("must be a string or a list", cfg.services, cfg, { host = 5 });
	raises("must be a port number", cfg.services, cfg, { port = 70000 });
	raises("must be a port number", cfg.services, cfg, { tls_port = "x" });
	raises("whole number", cfg.services, cfg, { ttl = 1.5 });
	raises("services{user=%.%.%.} must be a string", cfg.services, cfg, { user = {} });
	raises("empty host", cfg.services, cfg, { host = "" });
	raises("table expected", cfg.services, cfg, "turn");
	raises("509 bytes", cfg.services, cfg, { ttl = 60, user = string.rep("x", 600) });
end);

-- Bad files: nil, message; never a crash -------------------------------------------------------

test("a missing file", function ()
	local cfg, err = turnpike.load_config(dir .. "/nope.conf");
	eq(cfg, nil, "no object");
	matches(err, "nope%.conf: cannot read turnpike's config file %(No such file or directory%)", "message");
end);

test("a directory", function ()
	local cfg, err = turnpike.load_config(dir);
	eq(cfg, nil, "no object"); matches(err, "is a directory", "message");
end);

test("an empty path", function ()
	local cfg, err = turnpike.load_config("");
	eq(cfg, nil, "no object"); matches(err, "no config file given", "message");
end);

test("a syntax error names the file and the line", function ()
	local path = write("typo.conf", { "use-auth-secret", "static-auth-secret=s", "listening-prot=3478" });
	local cfg, err = turnpike.load_config(path);
	eq(cfg, nil, "no object");
	matches(err, "typo%.conf:3: option 'listening%-prot': unknown option; did you mean 'listening%-port'%?", "message");
end);

test("no secret, or a secret without use-auth-secret, is refused with the fix", function ()
	local cfg, err = turnpike.load_config(write("nosecret.conf", { "user=a:b", "lt-cred-mech" }));
	eq(cfg, nil, "no secret"); matches(err, "no static%-auth%-secret line.*turnpike%-admin secret generate", "message");
	cfg, err = turnpike.load_config(write("nouse.conf", { "static-auth-secret=s", "user=a:b" }));
	eq(cfg, nil, "no use-auth-secret"); matches(err, "add a use%-auth%-secret line", "message");
	cfg, err = turnpike.load_config(write("range.conf", { "use-auth-secret", "static-auth-secret=s",
		"min-port=50000", "max-port=40000" }));
	eq(cfg, nil, "validation"); matches(err, "min%-port %(50000%) is above max%-port", "message");
end);

test("wrong argument types are Lua errors", function ()
	raises("string expected", turnpike.load_config, nil);
	raises("turnpike%.config expected", load(with()).mint, {}, "a", 60);
	raises("turnpike%.config expected", load(with()).info, io.stdout);
end);

-- An unreadable file: root reads everything, so that case runs as nobody in a child process.
local unreadable_child = [[
local turnpike = require "turnpike";
local cfg, err = turnpike.load_config(arg[1]);
io.write(tostring(cfg), "\n", tostring(err), "\n");
]];

test("an unreadable file says which user and group to fix", function ()
	local path = write("secret.conf", with());
	local out;
	if io.popen("id -u"):read("l") == "0" then
		-- A copy of the module where nobody may read it, and a file nobody may not read.
		local sandbox = dir .. "/sandbox";
		assert(run("mkdir -p " .. sandbox .. " && chmod 755 " .. dir .. " " .. sandbox));
		local so = package.searchpath("turnpike", package.cpath);
		assert(run(("cp %q %s/turnpike.so && chmod 644 %s/turnpike.so"):format(so, sandbox, sandbox)));
		local child = write("sandbox/child.lua", { unreadable_child });
		assert(run(("chmod 644 %s && chown root:root %q && chmod 640 %q"):format(child, path, path)));
		local cmd = ("LUA_CPATH_5_4='%s/?.so' setpriv --reuid=65534 --regid=65534 --clear-groups lua5.4 %s %q 2>&1")
			:format(sandbox, child, path);
		out = io.popen(cmd):read("a");
	else
		assert(run(("chmod 000 %q"):format(path)));
		local cfg, err = turnpike.load_config(path);
		out = tostring(cfg) .. "\n" .. tostring(err) .. "\n";
	end
	matches(out, "^nil\n", "no object: " .. out);
	matches(out, "cannot read turnpike's config file %(Permission denied%)", "message");
	matches(out, "mode 0[0-7][0-7]0: add '[%w_-]+' to group '[%w_-]+' %(adduser ", "advice");
end);

-- Reloading -------------------------------------------------------------------------------------

test("reload picks up a rotated secret; old credentials keep verifying", function ()
	local cfg, path = load(with(), "rotate.conf");
	local before = cfg:mint("alice", 600);
	local ok, changed, signing = cfg:reload();
	eq(ok, true, "reload"); eq(changed, false, "unchanged"); eq(signing, false, "same signing secret");
	eq(cfg:changed_on_disk(), false, "not changed on disk");

	local lines = with(); lines[#lines + 1] = "static-auth-secret=rotated-secret";
	write("rotate.conf", lines);
	eq(cfg:changed_on_disk(), true, "changed on disk");
	ok, changed, signing = cfg:reload();
	eq(ok, true, "reload"); eq(changed, true, "changed"); eq(signing, true, "new signing secret");
	eq(cfg:changed_on_disk(), false, "reloaded");
	eq(cfg:info().secrets, 3, "three secrets");
	local after = cfg:mint("alice", 600, 1000);
	eq(after.password, turnpike.password("rotated-secret", after.username), "signed with the new secret");
	local verified, n = cfg:verify(before.username, before.password);
	eq(verified, true, "old credentials still verify"); eq(n, 2, "with the previous secret");
	eq(cfg:path(), path, "same path");
end);

test("a broken file on reload keeps the previous state", function ()
	local cfg, path = load(with(), "broken.conf");
	write("broken.conf", { "use-auth-secret", "static-auth-secret=x", "no-such-option" });
	local ok, err = cfg:reload();
	eq(ok, nil, "reload fails"); matches(err, "broken%.conf:3: option 'no%-such%-option'", "message");
	eq(cfg:mint("a", 60, 0).password, turnpike.password("newest-secret", "60:a"), "previous secret in use");
	eq(cfg:changed_on_disk(), true, "still differs from what is in use");
	os.remove(path);
	ok, err = cfg:reload();
	eq(ok, nil, "gone"); matches(err, "No such file", "message");
	eq(cfg:info().secrets, 2, "previous state");
	write("broken.conf", with({ "static-auth-secret=third" }));
	ok = cfg:reload();
	eq(ok, true, "fixed");
	eq(cfg:info().secrets, 3, "new state");
end);

test("many objects come and go", function ()
	local path = write("gc.conf", with());
	for _ = 1, 2000 do
		local cfg = assert(turnpike.load_config(path));
		cfg:services({ ttl = 60, user = "u" });
		turnpike.load_config(dir .. "/missing");
		pcall(cfg.mint, cfg, "", 0);
	end
	collectgarbage(); collectgarbage();
end);

-- The ledger of issued credentials -------------------------------------------------------------

test("open_ledger records issued credentials from a background thread", function ()
	local path = dir .. "/ledger.db";
	local ledger = assert(turnpike.open_ledger(path));
	matches(tostring(ledger), "turnpike%.ledger %(.*ledger%.db%)", "tostring");
	for i = 1, 50 do ledger:record("localhost", "alice@localhost/r" .. i, i .. ":alice@localhost", 1000 + i); end
	eq(ledger:flush(5000), true, "flushed");
	local stats = ledger:stats();
	eq(stats.recorded, 50, "recorded");
	eq(stats.written, 50, "written");
	eq(stats.dropped, 0, "dropped");
	eq(stats.last_error, nil, "no error");
	eq(ledger:close(), 0, "close: nothing left unwritten");
	matches(tostring(ledger), "closed", "closed");
	raises("closed", ledger.record, ledger, "h", "j", "u", 1);
	local rows = io.popen(("sqlite3 %q 'SELECT count(*), min(expires_at), max(jid) FROM credentials'"):format(path)):read("l");
	eq(rows, "50|1001000|alice@localhost/r9", "rows in the ledger");
end);

test("an unwritable ledger reports, never raises", function ()
	local ledger = assert(turnpike.open_ledger(dir .. "/missing-dir/ledger.db"));
	ledger:record("localhost", "a@localhost/x", "1:a", 1);
	eq(ledger:flush(500), false, "cannot flush");
	matches(ledger:stats().last_error, "unable to open", "the reason");
	raises("bad argument #5", ledger.record, ledger, "h", "j", "u", "not a number");
	do local l <close> = ledger; end  -- to-be-closed: closed at the end of the block
	matches(tostring(ledger), "closed", "closed by <close>");
end);

local function now_ms()
	return math.tointeger(io.popen("date +%s%3N"):read("n"));
end

test("closing a locked ledger waits half a second at most and counts what it gave up", function ()
	local path = dir .. "/locked.db";
	local ledger = assert(turnpike.open_ledger(path));
	ledger:record("localhost", "a@localhost/x", "1:a", 1);
	eq(ledger:flush(5000), true, "the file exists, migrated");
	-- Another program holds the write lock: sqlite3 runs BEGIN EXCLUSIVE, then says so with a file.
	local marker = dir .. "/locked.marker";
	local holder = assert(io.popen(("sqlite3 %q"):format(path), "w"));
	holder:write("BEGIN EXCLUSIVE;\n.shell touch " .. marker .. "\n");
	holder:flush();
	for _ = 1, 100 do
		if io.open(marker) then break; end
		run("sleep 0.05");
	end
	assert(io.open(marker), "sqlite3 never took the lock");
	for i = 1, 5 do ledger:record("localhost", "b@localhost/x", i .. ":b", 1); end
	local started = now_ms();
	local not_written = ledger:close();
	local took = now_ms() - started;
	eq(not_written, 5, "the five records behind the lock");
	-- The busy timeout alone is 2 s per attempt: a close that waited for the database takes longer.
	assert(took < 1900, ("close took %d ms"):format(took));
	holder:write("COMMIT;\n");
	holder:close();
end);

test("info names the ledger unless no-ledger", function ()
	eq(load(with({ "ledger=/srv/turnpike/l.db" })):info().ledger, "/srv/turnpike/l.db", "ledger=");
	eq(load(with({ "no-ledger" })):info().ledger, nil, "no-ledger");
end);

-- Run --------------------------------------------------------------------------------------------

for _, t in ipairs(tests) do
	local ok, err = xpcall(t.fn, debug.traceback);
	if ok then
		print("ok     " .. t.name);
	else
		failures = failures + 1;
		print("FAILED " .. t.name .. "\n" .. tostring(err));
	end
end
run(("rm -rf %q"):format(dir));
print(("%d tests, %d failed"):format(#tests, failures));
os.exit(failures == 0 and 0 or 1);
