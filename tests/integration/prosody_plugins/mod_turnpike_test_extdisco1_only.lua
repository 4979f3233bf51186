-- Test-only Prosody module: a host that answers XEP-0215 only in its old namespace
-- urn:xmpp:extdisco:1, as Jitsi's mod_turncredentials does. It refuses urn:xmpp:extdisco:2 with
-- service-unavailable before any other handler, so a client must fall back as lib-jitsi-meet does.
local st = require "util.stanza";

module:hook("iq-get/host/urn:xmpp:extdisco:2:services", function (event)
	event.origin.send(st.error_reply(event.stanza, "cancel", "service-unavailable"));
	return true;
end, 1000);
