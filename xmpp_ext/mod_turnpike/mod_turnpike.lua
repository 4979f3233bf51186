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
--
-- This file holds the XEP-0215 handlers and the module's life cycle; module:require() loads the
-- rest from this directory: options.lib.lua (Prosody's options), relay_config.lib.lua (turnpike's
-- config file), services.lib.lua (the service list and its credentials), issued.lib.lua (the
-- record of issued credentials).

local st = require "util.stanza";
local jid = require "util.jid";
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

local options_lib = module:require("options");
local services_lib = module:require("services");
local to_port = options_lib.to_port;

-- The module's state, in one table the libraries are given (they keep no copy of what is in it, so
-- a reload is seen at once): options (set by module.load and on config reload), relay (turnpike's
-- config), services (the service list), issued (the credential ledger).
local ctx = { module = module; turnpike = turnpike };
ctx.relay = module:require("relay_config").new(ctx);
ctx.services = services_lib.new(ctx);
ctx.issued = module:require("issued").new(ctx);

local update_status; -- defined below

-- (Re)loads turnpike's config file (see relay_config.lib.lua) and shows the outcome in the status.
local function load_relay_config(why, quiet)
	ctx.relay:load(why, quiet);
	update_status();
end

-- Exported like mod_external_services' (module:depends(...).get_services()): the services with
-- fresh credentials that name no user.
function get_services()
	return ctx.services.build(nil);
end

services_xml = services_lib.xml; -- services_xml(services, name, namespace)

------------------------------------------------------------------------------------------------
-- XEP-0215 handlers

-- Who may ask. With an access list, those it names (bare JIDs or hosts) and nobody else. Without
-- one, the clients of the host this module serves, whether logged in with a password or
-- anonymously (Jitsi's web clients log in anonymously to the main host): not the users of the
-- other VirtualHosts of the same Prosody (a guest host included), not components, not remote
-- servers. Prosody 0.12's mod_external_services answers any local client; turnpike_access_any_local
-- restores that, explicitly.
local function may_access(origin, stanza)
	local access = ctx.options.access;
	if access:empty() then
		if origin.type ~= "c2s" then return false; end
		return ctx.options.access_any_local or origin.host == module.host;
	end
	local user_bare = jid.bare(stanza.attr.from);
	local user_host = jid.host(user_bare);
	return access:contains(user_bare) or access:contains(user_host);
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
	local services = ctx.services.build(requester_of(origin, stanza));
	if requested_type then
		services:filter(function (srv) return srv.type == requested_type; end);
	end

	module:fire_event("external_service/services", {
		origin = origin;
		stanza = stanza;
		requested_type = requested_type;
		services = services;
	});

	ctx.issued:record(origin, stanza, services);
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

	local services = ctx.services.build(requester_of(origin, stanza));
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

	ctx.issued:record(origin, stanza, services);
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
	elseif ctx.options.config_path and not ctx.relay.config then
		module:set_status("error", "turnpike config unusable: "..tostring(ctx.relay.error), true);
	elseif ctx.relay.error then
		module:set_status("warn", "turnpike config reload failed, using the previous one: "..ctx.relay.error, true);
	elseif not ctx.relay.config and #ctx.options.items == 0 and not ctx.options.legacy_items and not ctx.options.legacy_host
		and #module:get_host_items("external_service") == 0 then
		module:set_status("warn", "No services configured: set turnpike_config (or external_services)", true);
	else
		module:set_status("core", "OK", true);
	end
end

------------------------------------------------------------------------------------------------
-- Life cycle

local check_timer;

local function schedule_checks()
	if check_timer then check_timer:stop(); check_timer = nil; end
	local interval = ctx.options.check_interval;
	if not ctx.options.config_path or not interval or interval <= 0 then return; end
	-- A stat(2) per interval; the file is re-read only when it changed (rotation, edit, replace).
	check_timer = module:add_timer(interval, function ()
		if not ctx.relay.config or ctx.relay.config:changed_on_disk() then
			load_relay_config("file changed", true);
			ctx.services.check_options();
			ctx.issued:update();
		end
		ctx.issued:check();
		local next_check = ctx.options.check_interval;
		return (next_check and next_check > 0) and next_check or nil;
	end);
end

-- Prosody's options, then turnpike's file, then what depends on them.
local function configure(why)
	ctx.options = options_lib.read(ctx);
	load_relay_config(why);
	ctx.issued:update();
	ctx.services.check_options();
	schedule_checks();
end

function module.load()
	configure("start");
	check_conflict();
end

-- prosodyctl reload (SIGHUP): Prosody's options and turnpike's file are both read again.
module:hook_global("config-reloaded", function ()
	configure("Prosody config reloaded");
	update_status();
end);

-- Unloading or stopping: what was recorded is written before the module goes.
function module.unload()
	ctx.issued:close();
end

module:hook("module-loaded", function (event)
	if event.module == "external_services" then check_conflict(); end
end);
module:hook("module-unloaded", function (event)
	if event.module == "external_services" then check_conflict(); end
end);

module:handle_items("external_service", function (added)
	if ctx.services.prepare(added.item) then update_status(); end
end, function () update_status(); end, false);
