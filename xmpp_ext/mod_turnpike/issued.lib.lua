-- Every credential handed to a client is recorded once, with who got it: host, full JID, TURN
-- username, expiry. ledger:record() only appends to a batch that a background thread of the
-- native module writes, so the event loop never waits on the disk.
--
-- new(ctx) reads ctx.module, ctx.turnpike, ctx.options.ledger and ctx.relay.info (for the
-- ledger= of turnpike_config) whenever update() is called.

local issued = {};
issued.__index = issued;

-- The file to record in: turnpike_ledger, else the relay's own ledger=, else none.
function issued:path()
	local options, relay = self.ctx.options, self.ctx.relay;
	if options.ledger == false then return nil; end
	if type(options.ledger) == "string" then return options.ledger; end
	return relay.info and relay.info.ledger or nil;
end

-- Logs once when the background writer starts or stops having trouble.
function issued:check()
	local ledger = self.ledger;
	if not ledger then return; end
	local stats = ledger.object:stats();
	if stats.last_error ~= self.problem then
		if stats.last_error then
			self.ctx.module:log("warn", "Cannot write issued credentials to %s: %s (credentials are still issued; "
				.."%d not recorded so far)", ledger.path, stats.last_error, stats.dropped);
		else
			self.ctx.module:log("info", "Recording issued credentials in %s works again", ledger.path);
		end
		self.problem = stats.last_error;
	end
end

-- Opens, switches or closes the ledger after the options or turnpike's config changed.
function issued:update()
	local module = self.ctx.module;
	local path = self:path();
	if self.ledger and self.ledger.path == path then return; end
	self:close();
	if not path then return; end
	local object, err = self.ctx.turnpike.open_ledger(path);
	if not object then
		module:log("error", "Cannot record issued credentials in %s: %s", path, err);
		return;
	end
	self.ledger = { object = object, path = path };
	module:log("info", "Recording issued credentials in the ledger %s", path);
	-- Its writer runs in the background; look now and then whether it is having trouble.
	module:add_timer(30, function ()
		if not self.ledger or self.ledger.object ~= object then return nil; end
		self:check();
		return 30;
	end);
end

-- Records the credentials of `services` (one answer to `origin`'s `stanza`), once per username.
function issued:record(origin, stanza, services)
	local ledger = self.ledger;
	if not ledger then return; end
	local who = origin.full_jid or stanza.attr.from or "";
	local seen = {};
	for _, srv in ipairs(services) do
		local username = srv.username;
		if username and srv.password and srv.expires and not seen[username] then
			seen[username] = true;
			ledger.object:record(self.ctx.module.host, who, username, srv.expires);
		end
	end
end

-- What was recorded is written before the ledger goes. The native module waits half a second at
-- most (a locked or failing database must not stall Prosody) and says how many it gave up on.
function issued:close()
	local ledger = self.ledger;
	if not ledger then return; end
	self.ledger = nil;
	local not_written = ledger.object:close();
	if not_written > 0 then
		self.ctx.module:log("warn", "%d issued credential(s) could not be written to %s before it was closed (%s)",
			not_written, ledger.path, self.problem or "the database is busy");
	end
end

local function new(ctx)
	return setmetatable({ ctx = ctx }, issued);
end

return { new = new };
