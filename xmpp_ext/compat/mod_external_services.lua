-- Stand-in for Prosody's mod_external_services that hands everything to mod_turnpike.
--
-- Modules that call module:depends("external_services") and use its get_services() or
-- services_xml() (Jitsi's mod_room_metadata_component, mod_turncredentials_http, ...) get
-- turnpike's services and credentials through it. It answers no IQ itself: mod_turnpike does.
-- It is found only when this directory comes before the directory holding the real module in
-- plugin_paths (see ../README.md).

-- mod_turnpike looks for this marker and knows that this is not a second XEP-0215 responder.
-- Set first: mod_turnpike, loaded by the line below, looks while this file is still running.
turnpike_compat = true; -- luacheck: ignore 111

local turnpike = module:depends("turnpike");

function get_services(...) -- luacheck: ignore 111
	return turnpike.get_services(...);
end

function services_xml(...) -- luacheck: ignore 111
	return turnpike.services_xml(...);
end
