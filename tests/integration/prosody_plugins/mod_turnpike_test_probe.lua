-- Test-only Prosody module: plays the other modules of a Jitsi or Prosody deployment that rely on
-- mod_external_services' interface, so the tests can see mod_turnpike honour it.
--  * adds an item with module:add_item("external_service", ...), as mod_turn_external does;
--  * pushes a service in external_service/services and answers a short-lived-token request in
--    external_service/credentials, as Jitsi's modules do; the pushed service's name lists the event
--    fields it saw;
--  * <metadata xmlns='urn:turnpike:test'/> (get): module:depends("external_services").get_services()
--    rendered with its services_xml(), as Jitsi's mod_room_metadata_component does; 'provider' says
--    which module that was;
--  * <module xmlns='urn:turnpike:test' name='x' action='load|unload'/> (set): loads or unloads a
--    module on this host at run time.
local st = require "util.stanza";
local modulemanager = require "core.modulemanager";

local xmlns = "urn:turnpike:test";

module:add_item("external_service", { type = "stun"; host = "item.example"; port = 3479; transport = "udp" });

module:hook("external_service/services", function (event)
	local seen = {};
	for _, field in ipairs({ "origin", "stanza", "requested_type", "services" }) do
		if event[field] ~= nil then seen[#seen + 1] = field; end
	end
	event.services:push({ type = "stun"; host = "pushed.example"; port = "3481"; transport = "udp";
		name = "fields:" .. table.concat(seen, ",") });
end);

module:hook("external_service/credentials", function (event)
	if event.requested_credentials:contains("short-lived-token:token.example:0") and event.origin and event.stanza then
		event.services:push({ type = "short-lived-token"; host = "token.example"; port = 443; transport = "https";
			username = "token"; password = "probe-token"; restricted = true });
	end
end);

module:hook("iq-get/host/" .. xmlns .. ":metadata", function (event)
	local ext = module:depends("external_services");
	local metadata = ext.services_xml(ext.get_services(), "metadata", xmlns);
	metadata.attr.provider = rawget(ext, "turnpike_compat") and "turnpike" or "mod_external_services";
	event.origin.send(st.reply(event.stanza):add_child(metadata));
	return true;
end);

module:hook("iq-set/host/" .. xmlns .. ":module", function (event)
	local request = event.stanza.tags[1];
	local name, action = request.attr.name, request.attr.action;
	local ok, err;
	if action == "load" then
		ok, err = modulemanager.load(module.host, name);
	else
		ok, err = modulemanager.unload(module.host, name);
	end
	if ok then
		event.origin.send(st.reply(event.stanza));
	else
		event.origin.send(st.error_reply(event.stanza, "cancel", "internal-server-error", tostring(err)));
	end
	return true;
end);
