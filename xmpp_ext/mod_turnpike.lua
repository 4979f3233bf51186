-- mod_turnpike: XEP-0215 External Service Discovery for the turnpike relay.
--
-- Tells clients which STUN/TURN services to use and hands each of them short-lived TURN
-- credentials (the TURN REST API: draft-uberti-behave-turn-rest-00), minted by the native module
-- `turnpike` (turnpike.so) with the same code the relay verifies them with.
--
-- Where the services come from:
--   * turnpike_config = "/etc/turnpike/turnpike.conf": every service (stun/turn over udp, turn over
--     tcp, turns over tls; host and ports) and the secret are read from turnpike's own config, so
--     nothing is written twice. The file is re-read when it changes on disk (checked every
--     turnpike_config_check_interval seconds) and on Prosody's config reload (prosodyctl reload).
--   * mod_external_services' options (external_services, external_service_secret, ...) and the
--     legacy turncredentials options, so an existing Prosody or Jitsi config works by changing
--     the module name.
--   * items other modules add with module:add_item("external_service", ...).
--
-- It is a drop-in for mod_external_services: same events, same exported get_services() and
-- services_xml(). See README.md.

local st = require "util.stanza";
local jid = require "util.jid";
local dt = require "util.datetime";
local array = require "util.array";
local set = require "util.set";
local modulemanager = require "core.modulemanager";

local have_native, turnpike = pcall(require, "turnpike");
if not have_native then
	error("mod_turnpike needs turnpike's native Lua module (turnpike.so) and could not load it: "
		..tostring(turnpike).."; install it in Lua 5.4's C module path "
		.."(/usr/lib/x86_64-linux-gnu/lua/5.4/turnpike.so) or set LUA_CPATH_5_4");
end

local xmlns_extdisco_2 = "urn:xmpp:extdisco:2"; -- XEP-0215 v0.7 and later (v1.0)
local xmlns_extdisco_1 = "urn:xmpp:extdisco:1"; -- XEP-0215 v0.5/v0.6, still asked by old clients

-- A TURN username must stay under 509 bytes (RFC 8489 §14.3), expiry and separator included.
local max_user_suffix = 256;

------------------------------------------------------------------------------------------------
-- Options

local options; -- read by read_options(), again on every config reload

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

local function read_options()
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

	-- Legacy: Jitsi's and prosody-modules' mod_turncredentials.
	o.legacy_secret = module:get_option_string("turncredentials_secret");
	o.legacy_items = module:get_option_array("turncredentials");
	o.legacy_host = module:get_option_string("turncredentials_host");
	o.legacy_port = to_port(module:get_option("turncredentials_port")) or 3478;
	o.legacy_ttl = to_ttl(module:get_option("turncredentials_ttl")) or o.ttl;
	return o;
end

------------------------------------------------------------------------------------------------
-- turnpike's own config file

local relay_config;       -- the native config object, or nil
local relay_info;         -- relay_config:info(), refreshed with every successful (re)load
local relay_config_error; -- why the last (re)load failed, or nil
local relay_ttl;          -- options.ttl, capped to the relay's max-credential-ttl

local update_status; -- defined below

local function describe_config(info)
	return ("%s: realm %s, %d secret(s), listening port %d%s"):format(info.path, info.realm,
		info.secrets, info.listening_port, info.tls and (", TLS port "..info.tls_listening_port) or "");
end

local function apply_ttl_cap()
	relay_ttl = options.ttl;
	if not relay_config then return; end
	local cap = relay_info.max_credential_ttl;
	if cap > 0 and relay_ttl > cap then
		module:log("warn", "The credential TTL (%d s) is more than max-credential-ttl=%d in %s; the relay "
			.."would refuse such credentials, so they are minted for %d s", relay_ttl, cap, relay_config:path(), cap);
		relay_ttl = cap;
	end
end

local function log_notices(info)
	for _, notice in ipairs(info.notices) do
		module:log("info", "turnpike config: %s", notice);
	end
end

-- (Re)loads turnpike's config file. Keeps the previous state when the file is broken, so a bad
-- edit never stops the credential desk. The periodic check (`quiet`) reports a problem once, not
-- every time it looks; a start or an explicit reload always reports it.
local function load_relay_config(why, quiet)
	local path = options.config_path;
	if not path then
		relay_config, relay_info, relay_config_error = nil, nil, nil;
	elseif relay_config and relay_config:path() == path then
		local ok, changed_or_err, signing_changed = relay_config:reload();
		if ok then
			relay_info = relay_config:info();
			if changed_or_err then
				module:log("info", "Reloaded turnpike config (%s) %s%s", why, describe_config(relay_info),
					signing_changed and "; new credentials are signed with the newest secret" or "");
				log_notices(relay_info);
			elseif relay_config_error then
				module:log("info", "turnpike config %s is usable again", path);
			end
			relay_config_error = nil;
		elseif not quiet or changed_or_err ~= relay_config_error then
			relay_config_error = changed_or_err;
			module:log("error", "Cannot reload turnpike config (%s): %s; still using what was read before",
				why, changed_or_err);
		end
	else
		local cfg, err = turnpike.load_config(path);
		if cfg then
			relay_config, relay_info, relay_config_error = cfg, cfg:info(), nil;
			module:log("info", "Using turnpike config %s", describe_config(relay_info));
			log_notices(relay_info);
		elseif not quiet or err ~= relay_config_error then
			relay_config_error = err;
			module:log("error", "Cannot use turnpike config: %s (option turnpike_config). "
				.."Its services are left out until the file is fixed; it is checked again when it changes "
				.."and on config reload", err);
		end
	end
	apply_ttl_cap();
	update_status();
end

------------------------------------------------------------------------------------------------
-- Credentials

-- Every credential handed to a client is recorded once, with who got it: host, full JID, TURN
-- username, expiry. ledger:record() only appends to a batch that a background thread of the
-- native module writes, so the event loop never waits on the disk.
local ledger;          -- {object = turnpike.open_ledger(), path_ = its path}, or nil
local ledger_problem;  -- the last error it reported, logged once
local check_ledger;    -- defined below

local function ledger_path()
	if options.ledger == false then return nil; end
	if type(options.ledger) == "string" then return options.ledger; end
	return relay_info and relay_info.ledger or nil;
end

local function update_ledger()
	local path = ledger_path();
	if ledger and ledger.path_ == path then return; end
	if ledger then ledger.object:close(); ledger = nil; end
	if not path then return; end
	local object, err = turnpike.open_ledger(path);
	if not object then
		module:log("error", "Cannot record issued credentials in %s: %s", path, err);
		return;
	end
	ledger = { object = object, path_ = path };
	module:log("info", "Recording issued credentials in the ledger %s", path);
	-- Its writer runs in the background; look now and then whether it is having trouble.
	module:add_timer(30, function ()
		if not ledger or ledger.object ~= object then return nil; end
		check_ledger();
		return 30;
	end);
end

function check_ledger()
	if not ledger then return; end
	local stats = ledger.object:stats();
	if stats.last_error ~= ledger_problem then
		if stats.last_error then
			module:log("warn", "Cannot write issued credentials to %s: %s (credentials are still issued; "
				.."%d not recorded so far)", ledger.path_, stats.last_error, stats.dropped);
		else
			module:log("info", "Recording issued credentials in %s works again", ledger.path_);
		end
		ledger_problem = stats.last_error;
	end
end

local function record_issued(origin, stanza, services)
	if not ledger then return; end
	local who = origin.full_jid or stanza.attr.from or "";
	local seen = {};
	for _, srv in ipairs(services) do
		local username = srv.username;
		if username and srv.password and srv.expires and not seen[username] then
			seen[username] = true;
			ledger.object:record(module.host, who, username, srv.expires);
		end
	end
end

-- The user part of "<expiry>:<user>" for derived services.
local function user_suffix(requester)
	local mode = options.username;
	if mode == false or mode == nil then return nil; end
	if mode == "jid" then
		if not requester or #requester > max_user_suffix then return nil; end
		return requester;
	end
	return tostring(mode);
end

-- Stands for "turnpike's newest secret" (from turnpike_config) where a secret is expected; the
-- secret itself never leaves the native module.
local relay_secret = setmetatable({}, { __tostring = function () return "turnpike's newest secret"; end });

-- `secret` is a string, or relay_secret.
local function mint(secret, user, ttl, now)
	if secret == relay_secret then
		if relay_config then
			local cap = relay_info.max_credential_ttl;
			if cap > 0 and ttl > cap then ttl = cap; end -- the relay refuses longer ones (see apply_ttl_cap)
			return pcall(relay_config.mint, relay_config, user, ttl, now);
		end
		return false, "no secret: set external_service_secret or turnpike_config";
	end
	return pcall(turnpike.mint, secret, user, ttl, now);
end

-- The TURN REST algorithm (draft-uberti-behave-turn-rest-00 §2.2), for turn and turns alike.
-- `expires` is always set, so clients see when the credentials stop working (XEP-0215 §2).
local function rest_credentials(srv, item, secret)
	local now = os.time();
	local ttl = to_ttl(item.ttl) or options.ttl;
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

------------------------------------------------------------------------------------------------
-- Service records, as mod_external_services prepares them (plus 'name')

local function describe_item(item)
	return ("type=%s host=%s port=%s"):format(tostring(item.type), tostring(item.host), tostring(item.port));
end

local function prepare(item)
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
		secret = options.default_secret or (relay_config and relay_secret) or nil;
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

-- Services derived from turnpike's config; credentials carry `requester` when turnpike_username
-- is "jid".
local function derived_services(requester)
	if not relay_config then return {}; end
	local hosts = options.hosts;
	if not hosts and not relay_info.host then
		hosts = { options.default_host }; -- turnpike listens everywhere: use the XMPP domain
	end
	local ok, list = pcall(relay_config.services, relay_config, {
		host = hosts; port = options.port; tls_port = options.tls_port;
		user = user_suffix(requester); ttl = relay_ttl;
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
	local items = {};
	local secret = options.legacy_secret or (relay_config and relay_secret) or nil;
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

local function build_services(requester)
	local services = array();
	for _, srv in ipairs(derived_services(requester)) do services:push(srv); end
	for _, item in ipairs(options.items) do services:push(prepare(item)); end
	for _, item in ipairs(legacy_items()) do services:push(prepare(item)); end
	for _, item in ipairs(module:get_host_items("external_service")) do services:push(prepare(item)); end
	return setmetatable(services, services_mt);
end

-- Exported like mod_external_services' (module:depends(...).get_services()): the services with
-- fresh credentials that name no user.
function get_services()
	return build_services(nil);
end

function services_xml(services, name, namespace)
	local reply = st.stanza(name or "services", { xmlns = namespace or xmlns_extdisco_2 });
	for _, srv in ipairs(services) do
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

------------------------------------------------------------------------------------------------
-- XEP-0215 handlers

local function may_access(origin, stanza)
	local access = options.access;
	local user_bare = jid.bare(stanza.attr.from);
	local user_host = jid.host(user_bare);
	return (access:empty() and origin.type == "c2s") or access:contains(user_bare) or access:contains(user_host);
end

local function forbidden(origin, stanza)
	origin.send(st.error_reply(stanza, "auth", "forbidden", "You may not discover external services here"));
	return true;
end

local function requester_of(origin, stanza)
	if origin.type ~= "c2s" then return nil; end
	return jid.bare(stanza.attr.from);
end

-- XEP-0215 §3.1 and §3.2: all services, or those of one type.
local function handle_services(event)
	local origin, stanza = event.origin, event.stanza;
	local action = stanza.tags[1];
	if not may_access(origin, stanza) then return forbidden(origin, stanza); end

	local requested_type = action.attr.type;
	if requested_type == "" then
		origin.send(st.error_reply(stanza, "modify", "bad-request",
			"The 'type' attribute of <services/> names a service type, such as 'turn'; it must not be empty"));
		return true;
	end
	local services = build_services(requester_of(origin, stanza));
	if requested_type then
		services:filter(function (srv) return srv.type == requested_type; end);
	end

	module:fire_event("external_service/services", {
		origin = origin;
		stanza = stanza;
		requested_type = requested_type;
		services = services;
	});

	record_issued(origin, stanza, services);
	local reply = services_xml(services, action.name, action.attr.xmlns);
	reply.attr.type = requested_type; -- echoed as in XEP-0215 §3.2
	origin.send(st.reply(stanza):add_child(reply));
	return true;
end

local function bad_request(origin, stanza, text)
	origin.send(st.error_reply(stanza, "modify", "bad-request", text));
	return true;
end

-- XEP-0215 §3.3: credentials for services the client names by type, host and (optionally) port.
local function handle_credentials(event)
	local origin, stanza = event.origin, event.stanza;
	local action = stanza.tags[1];
	if not may_access(origin, stanza) then return forbidden(origin, stanza); end
	local legacy = action.attr.xmlns == xmlns_extdisco_1; -- v0.6 identifies a service by host only

	local wanted = {};
	local requested_credentials = set.new();
	for service in action:childtags("service") do
		local attr = service.attr;
		if not attr.host or attr.host == "" or (not legacy and (not attr.type or attr.type == "")) then
			return bad_request(origin, stanza, legacy and "Each <service/> needs a 'host' attribute"
				or "Each <service/> needs the 'type' and 'host' attributes (XEP-0215 §3.3)");
		end
		local port = 0;
		if attr.port then
			port = to_port(attr.port);
			if not port then
				return bad_request(origin, stanza, "The 'port' attribute must be a number from 1 to 65535");
			end
		end
		wanted[#wanted + 1] = { type = attr.type; host = attr.host; port = port };
		requested_credentials:add(string.format("%s:%s:%d", attr.type or "", attr.host, port));
	end
	if #wanted == 0 then
		return bad_request(origin, stanza, "<credentials/> must contain a <service/> with the 'type' and "
			.."'host' attributes of the service (XEP-0215 §3.3)");
	end

	local services = build_services(requester_of(origin, stanza));
	services:filter(function (srv) return srv.restricted; end);

	module:fire_event("external_service/credentials", {
		origin = origin;
		stanza = stanza;
		requested_credentials = requested_credentials;
		services = services;
	});

	local function matches(w, srv)
		return (w.type == nil or w.type == srv.type) and w.host == srv.host
			and (w.port == 0 or w.port == srv.port);
	end
	for _, w in ipairs(wanted) do
		local found = false;
		for _, srv in ipairs(services) do
			if matches(w, srv) then found = true; break; end
		end
		if not found then
			origin.send(st.error_reply(stanza, "cancel", "item-not-found",
				("No service with credentials matches type='%s' host='%s'%s; ask for <services/> to list them")
				:format(w.type or "", w.host, w.port ~= 0 and (" port='"..w.port.."'") or "")));
			return true;
		end
	end
	services:filter(function (srv)
		for _, w in ipairs(wanted) do
			if matches(w, srv) then return true; end
		end
		return false;
	end);

	record_issued(origin, stanza, services);
	origin.send(st.reply(stanza):add_child(services_xml(services, action.name, action.attr.xmlns)));
	return true;
end

-- XEP-0215 §3.2: a <services/> set is a push from a server to a client, never a request.
local function handle_set(event)
	event.origin.send(st.error_reply(event.stanza, "cancel", "service-unavailable",
		"Service pushes go from server to client; ask with an IQ of type 'get'"));
	return true;
end

------------------------------------------------------------------------------------------------
-- One XEP-0215 responder per host

local handlers = {
	["iq-get/host/urn:xmpp:extdisco:2:services"] = handle_services;
	["iq-get/host/urn:xmpp:extdisco:2:credentials"] = handle_credentials;
	["iq-set/host/urn:xmpp:extdisco:2:services"] = handle_set;
	["iq-set/host/urn:xmpp:extdisco:2:credentials"] = handle_set;
	["iq-get/host/urn:xmpp:extdisco:1:services"] = handle_services;
	["iq-get/host/urn:xmpp:extdisco:1:credentials"] = handle_credentials;
	["iq-set/host/urn:xmpp:extdisco:1:services"] = handle_set;
	["iq-set/host/urn:xmpp:extdisco:1:credentials"] = handle_set;
};

local answering = false;
local conflict; -- a message while another module answers XEP-0215 on this host

local function start_answering()
	if answering then return; end
	for event, handler in pairs(handlers) do module:hook(event, handler); end
	module:add_feature(xmlns_extdisco_2); -- XEP-0215 §5
	module:add_feature(xmlns_extdisco_1);
	answering = true;
end

local function stop_answering()
	if not answering then return; end
	for event, handler in pairs(handlers) do module:unhook(event, handler); end
	module:remove_item("feature", xmlns_extdisco_2);
	module:remove_item("feature", xmlns_extdisco_1);
	answering = false;
end

-- Prosody's mod_external_services hooks the same IQs; two answers to one IQ break clients. When it
-- is loaded here (not turnpike's stand-in from compat/, which answers nothing), it keeps answering
-- and this module stays silent until it is unloaded.
local function check_conflict()
	local other = modulemanager.get_module(module.host, "external_services");
	if other and not rawget(other, "turnpike_compat") then
		if not conflict then
			conflict = "mod_external_services is also enabled on "..module.host..", and it answers XEP-0215 "
				.."there, so mod_turnpike does not. Remove \"external_services\" from modules_enabled "
				.."(mod_turnpike reads the same options), or add turnpike's compat/ directory to plugin_paths";
			module:log("error", "%s", conflict);
		end
		stop_answering();
	else
		if conflict then
			module:log("info", "mod_external_services is gone from %s; mod_turnpike answers XEP-0215 now", module.host);
		end
		conflict = nil;
		start_answering();
	end
	update_status();
end

function update_status()
	if conflict then
		module:set_status("error", conflict, true);
	elseif options.config_path and not relay_config then
		module:set_status("error", "turnpike config unusable: "..tostring(relay_config_error), true);
	elseif relay_config_error then
		module:set_status("warn", "turnpike config reload failed, using the previous one: "..relay_config_error, true);
	elseif not relay_config and #options.items == 0 and not options.legacy_items and not options.legacy_host
		and #module:get_host_items("external_service") == 0 then
		module:set_status("warn", "No services configured: set turnpike_config (or external_services)", true);
	else
		module:set_status("core", "OK", true);
	end
end

------------------------------------------------------------------------------------------------
-- Checks that catch a configuration that would hand out credentials the relay refuses

local function check_options()
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

------------------------------------------------------------------------------------------------
-- Life cycle

local check_timer;

local function schedule_checks()
	if check_timer then check_timer:stop(); check_timer = nil; end
	local interval = options.check_interval;
	if not options.config_path or not interval or interval <= 0 then return; end
	-- A stat(2) per interval; the file is re-read only when it changed (rotation, edit, replace).
	check_timer = module:add_timer(interval, function ()
		if not relay_config or relay_config:changed_on_disk() then
			load_relay_config("file changed", true);
			check_options();
			update_ledger();
		end
		check_ledger();
		local next_check = options.check_interval;
		return (next_check and next_check > 0) and next_check or nil;
	end);
end

function module.load()
	options = read_options();
	load_relay_config("start");
	update_ledger();
	check_options();
	schedule_checks();
	check_conflict();
end

-- prosodyctl reload (SIGHUP): Prosody's options and turnpike's file are both read again.
module:hook_global("config-reloaded", function ()
	options = read_options();
	load_relay_config("Prosody config reloaded");
	update_ledger();
	check_options();
	schedule_checks();
	update_status();
end);

-- Unloading or stopping: what was recorded is written before the module goes.
function module.unload()
	if ledger then ledger.object:close(); ledger = nil; end
end

module:hook("module-loaded", function (event)
	if event.module == "external_services" then check_conflict(); end
end);
module:hook("module-unloaded", function (event)
	if event.module == "external_services" then check_conflict(); end
end);

module:handle_items("external_service", function (added)
	if prepare(added.item) then update_status(); end
end, function () update_status(); end, false);
