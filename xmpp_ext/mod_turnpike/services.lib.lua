-- The service list of an answer: turnpike's own services (from turnpike_config), the items of
-- external_services and turncredentials, and items other modules add, each prepared as
-- mod_external_services prepares them (plus 'name'), TURN entries with fresh credentials.
--
-- new(ctx) reads ctx.module, ctx.turnpike (the native module), ctx.options and ctx.relay (see
-- relay_config.lib.lua) on every call, so a config reload is seen at once.

local st = require "util.stanza";
local dt = require "util.datetime";
local array = require "util.array";

local numbers = module:require("options");
local to_port, to_ttl = numbers.to_port, numbers.to_ttl;

local xmlns_extdisco_2 = "urn:xmpp:extdisco:2"; -- XEP-0215 v0.7 and later (v1.0)

-- A TURN username must stay under 509 bytes (RFC 8489 §14.3), expiry and separator included.
local max_user_suffix = 256;

-- Stands for "turnpike's newest secret" (from turnpike_config) where a secret is expected; the
-- secret itself never leaves the native module.
local relay_secret = setmetatable({}, { __tostring = function () return "turnpike's newest secret"; end });

local function describe_item(item)
	return ("type=%s host=%s port=%s"):format(tostring(item.type), tostring(item.host), tostring(item.port));
end

local function new(ctx)
	local module = ctx.module;
	local services = {};

	-- The user part of "<expiry>:<user>" for derived services.
	local function user_suffix(requester)
		local mode = ctx.options.username;
		if mode == false or mode == nil then return nil; end
		if mode == "jid" then
			if not requester or #requester > max_user_suffix then return nil; end
			return requester;
		end
		return tostring(mode);
	end

	-- `secret` is a string, or relay_secret.
	local function mint(secret, user, ttl, now)
		if secret == relay_secret then return ctx.relay:mint(user, ttl, now); end
		return pcall(ctx.turnpike.mint, secret, user, ttl, now);
	end

	-- The TURN REST algorithm (draft-uberti-behave-turn-rest-00 §2.2), for turn and turns alike.
	-- `expires` is always set, so clients see when the credentials stop working (XEP-0215 §2).
	local function rest_credentials(srv, item, secret)
		local now = os.time();
		local ttl = to_ttl(item.ttl) or ctx.options.ttl;
		if srv.expires then
			ttl = srv.expires - now;
			if ttl < 1 then
				module:log("warn", "Service %s %s:%s has an 'expires' in the past; it is sent without credentials",
					srv.type, srv.host, srv.port or "");
				return false;
			end
		end
		local user = type(item.username) == "string" and item.username or nil;
		local ok, cred = mint(secret, user, ttl, now);
		if not ok then
			module:log("error", "Cannot mint credentials for %s %s:%s: %s", srv.type, srv.host, srv.port or "", cred);
			return false;
		end
		srv.username, srv.password, srv.expires = cred.username, cred.password, cred.expires;
		return true;
	end

	local algorithms = { turn = rest_credentials, turns = rest_credentials };

	-- One item (a table from the config, another module or an event handler) as a service record,
	-- or nil with the reason logged.
	function services.prepare(item)
		local options = ctx.options;
		if type(item) ~= "table" then
			module:log("error", "Service definition is not a table: %s", tostring(item));
			return nil;
		end
		if type(item.type) ~= "string" then
			module:log("error", "Service without its mandatory 'type' (XEP-0215 §2) is left out: %s", describe_item(item));
			return nil;
		end
		local srv = {
			type = item.type;
			transport = type(item.transport) == "string" and item.transport or nil;
			host = type(item.host) == "string" and item.host or options.default_host;
			port = options.default_port;
			name = type(item.name) == "string" and item.name or nil;
		};
		if item.port ~= nil then
			srv.port = to_port(item.port);
			if not srv.port then
				module:log("warn", "Service %s has a port that is not a number from 1 to 65535; it is sent without one",
					describe_item(item));
			end
		end
		if type(item.username) == "string" then srv.username = item.username; end
		if type(item.password) == "string" then
			srv.password = item.password;
			srv.restricted = true;
		end
		if item.restricted == true then srv.restricted = true; end
		if type(item.expires) == "number" then
			srv.expires = item.expires;
		elseif to_ttl(item.ttl) then
			srv.expires = os.time() + to_ttl(item.ttl);
		end

		local secret = item.secret;
		if secret == true then
			secret = options.default_secret or (ctx.relay.config and relay_secret) or nil;
		elseif secret ~= relay_secret and type(secret) ~= "string" then
			secret = nil;
		end
		if secret then
			local callback = item.credentials_cb or algorithms[item.algorithm] or algorithms[srv.type];
			if item.credentials_cb and type(secret) ~= "string" then
				-- Other modules' generators get a secret written in Prosody's config, never the relay's.
				callback = algorithms[item.algorithm] or algorithms[srv.type];
			end
			if callback and callback(srv, item, secret) ~= false then
				srv.restricted = true;
			end
		end
		return srv;
	end
	local prepare = services.prepare;

	-- Services derived from turnpike's config; credentials carry `requester` when turnpike_username
	-- is "jid".
	local function derived_services(requester)
		local options, relay = ctx.options, ctx.relay;
		if not relay.config then return {}; end
		local hosts = options.hosts;
		if not hosts and not relay.info.host then
			hosts = { options.default_host }; -- turnpike listens everywhere: use the XMPP domain
		end
		local ok, list = pcall(relay.config.services, relay.config, {
			host = hosts; port = options.port; tls_port = options.tls_port;
			user = user_suffix(requester); ttl = relay.ttl;
		});
		if not ok then
			module:log("error", "Cannot list turnpike's services: %s", list);
			return {};
		end
		for _, srv in ipairs(list) do srv.name = options.name; end
		return list;
	end

	-- Legacy turncredentials options, turned into external_services-style items.
	local function legacy_items()
		local options = ctx.options;
		local items = {};
		local secret = options.legacy_secret or (ctx.relay.config and relay_secret) or nil;
		local function add(item)
			if item.type == "turn" or item.type == "turns" then
				item.secret, item.ttl, item.algorithm = secret, options.legacy_ttl, "turn";
			end
			items[#items + 1] = item;
		end
		for _, entry in ipairs(options.legacy_items or {}) do
			if type(entry) == "table" then
				local host = entry.host;
				if type(entry.hosts) == "table" and #entry.hosts > 0 then
					host = entry.hosts[math.random(#entry.hosts)]; -- as Jitsi did: spread clients over relays
				end
				add({ type = entry.type; host = host; port = entry.port; transport = entry.transport });
			end
		end
		if options.legacy_host then
			local h, p = options.legacy_host, options.legacy_port;
			add({ type = "stun"; transport = "udp"; host = h; port = p });
			add({ type = "stun"; transport = "tcp"; host = h; port = p });
			add({ type = "turn"; transport = "udp"; host = h; port = p });
			add({ type = "turn"; transport = "tcp"; host = h; port = p });
		end
		return items;
	end

	-- Items pushed by event handlers are prepared, as mod_external_services does.
	local services_mt = {
		__index = getmetatable(array()).__index;
		__newindex = function (self, i, v)
			rawset(self, i, assert(prepare(v), "Invalid service entry added"));
		end;
	};

	-- Everything this host advertises, in the order README.md gives: turnpike's services, then
	-- external_services, then turncredentials, then items other modules added.
	function services.build(requester)
		local list = array();
		for _, srv in ipairs(derived_services(requester)) do list:push(srv); end
		for _, item in ipairs(ctx.options.items) do list:push(prepare(item)); end
		for _, item in ipairs(legacy_items()) do list:push(prepare(item)); end
		for _, item in ipairs(module:get_host_items("external_service")) do list:push(prepare(item)); end
		return setmetatable(list, services_mt);
	end

	-- Warns about a configuration that would hand out credentials the relay refuses.
	function services.check_options()
		local options, relay_config = ctx.options, ctx.relay.config;
		for _, item in ipairs(options.items) do
			if type(item) == "table" and item.secret == true and not options.default_secret and not options.config_path then
				module:log("warn", "external_services item %s has secret = true, but neither external_service_secret "
					.."nor turnpike_config is set: it is sent without credentials", describe_item(item));
			end
		end
		if relay_config then
			for option, secret in pairs({ external_service_secret = options.default_secret;
					turncredentials_secret = options.legacy_secret }) do
				if not relay_config:has_secret(secret) then
					module:log("warn", "%s is not one of the static-auth-secret lines of %s: if those services are "
						.."this relay, it refuses their credentials. Remove %s to sign with turnpike's secret",
						option, relay_config:path(), option);
				end
			end
		end
		if options.legacy_items and not options.legacy_secret and not options.config_path then
			module:log("warn", "turncredentials is set without turncredentials_secret or turnpike_config: "
				.."its TURN services are sent without credentials");
		end
	end

	return services;
end

-- The <services/> (or <credentials/>) element listing `list`.
local function services_xml(list, name, namespace)
	local reply = st.stanza(name or "services", { xmlns = namespace or xmlns_extdisco_2 });
	for _, srv in ipairs(list) do
		reply:tag("service", {
			type = srv.type;
			transport = srv.transport;
			host = srv.host;
			port = srv.port and string.format("%d", srv.port) or nil;
			username = srv.username;
			password = srv.password;
			expires = srv.expires and dt.datetime(srv.expires) or nil; -- XEP-0082, UTC
			restricted = srv.restricted and "1" or nil;
			name = srv.name;
		}):up();
	end
	return reply;
end

return { new = new; xml = services_xml };
