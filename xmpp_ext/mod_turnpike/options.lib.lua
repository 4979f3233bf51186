-- mod_turnpike's options, read from Prosody's config (again on every config reload), and the two
-- number checks that requests share with them.

local function to_port(value)
	local n = tonumber(value);
	if n and n == math.floor(n) and n >= 1 and n <= 65535 then
		return math.tointeger(n);
	end
	return nil;
end

local function to_ttl(value)
	local n = tonumber(value);
	if n and n >= 1 then return math.tointeger(math.floor(n)); end
	return nil;
end

-- Every option of the host `ctx.module` serves, in one table (see README.md for each).
local function read(ctx)
	local module = ctx.module;
	local o = {};
	o.config_path = module:get_option_string("turnpike_config");
	o.hosts = module:get_option_array("turnpike_host");
	o.port = to_port(module:get_option("turnpike_port"));
	o.tls_port = to_port(module:get_option("turnpike_tls_port"));
	o.name = module:get_option_string("turnpike_service_name");
	-- "jid": the requester's bare JID goes into the username ("<expiry>:<jid>"), so the relay and
	-- its ledger know who a session belongs to; false: expiry only; any other string: that name.
	o.username = module:get_option("turnpike_username", "jid");
	o.check_interval = module:get_option_number("turnpike_config_check_interval", 30);
	-- Where issued credentials are recorded: a path, false for nowhere; by default the ledger=
	-- of turnpike_config (the relay's own ledger, so `turnpike-admin who` joins the two).
	o.ledger = module:get_option("turnpike_ledger");

	-- mod_external_services
	o.default_host = module:get_option_string("external_service_host", module.host);
	o.default_port = to_port(module:get_option("external_service_port"));
	o.default_secret = module:get_option_string("external_service_secret");
	o.items = module:get_option_array("external_services", {});
	o.ttl = to_ttl(module:get_option("turnpike_ttl")) or to_ttl(module:get_option("external_service_ttl"))
		or 86400; -- a day: clients (lib-jitsi-meet) fetch once and never refresh

	-- Access control, enforced on <services/> and <credentials/> alike.
	o.access = module:get_option_set("turnpike_access") or module:get_option_set("external_service_access", {});
	-- Without an access list: clients of every VirtualHost of this Prosody, not only this one's.
	o.access_any_local = module:get_option_boolean("turnpike_access_any_local", false);

	-- Legacy: Jitsi's and prosody-modules' mod_turncredentials.
	o.legacy_secret = module:get_option_string("turncredentials_secret");
	o.legacy_items = module:get_option_array("turncredentials");
	o.legacy_host = module:get_option_string("turncredentials_host");
	o.legacy_port = to_port(module:get_option("turncredentials_port")) or 3478;
	o.legacy_ttl = to_ttl(module:get_option("turncredentials_ttl")) or o.ttl;
	return o;
end

return { read = read; to_port = to_port; to_ttl = to_ttl };
