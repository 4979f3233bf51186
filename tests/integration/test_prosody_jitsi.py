"""An existing Jitsi Meet (or Prosody) config switched to mod_turnpike by changing the module name.

meet.localhost carries the options Jitsi's Debian template writes (external_service_secret,
external_services with secret = true, ttl and algorithm = "turn", a port written as a string),
with "external_services" replaced by "turnpike" in modules_enabled. lib-jitsi-meet's own query
(<services xmlns='urn:xmpp:extdisco:2'/> to the domain) must get credentials inline that relay
through turnpike. Jitsi's modules keep working: module:depends("external_services") reaches
mod_turnpike through xmpp_ext/compat, items added by other modules and the external_service/*
events behave as with mod_external_services. legacy.localhost carries the older
turncredentials options."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness  # noqa: E402
from lib.prosody import (COMPAT, EXTDISCO_1, EXTDISCO_2, TEST_PLUGINS, XMPP_EXT, ProsodyTestCase, get,  # noqa: E402
                         rest_password, xep0082)

SECRET = "Jitsi16charsecrt"  # jitsi-meet-prosody's postinst makes 16 alphanumerics
ALICE = ("alice@meet.localhost", "alice-pw")
DAVE = ("dave@legacy.localhost", "dave-pw")


class JitsiConfig(ProsodyTestCase):
    @classmethod
    def start(cls):
        cls.turnpike = cls.start_turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "allow-loopback-peers"])
        cls.peer = cls.start_peer()
        port = cls.turnpike.port
        cls.prosody = cls.start_prosody(
            hosts={
                "meet.localhost": {
                    # As doc/debian/jitsi-meet-prosody/prosody.cfg.lua-jvb.example has them.
                    "external_service_secret": SECRET,
                    "external_services": [
                        {"type": "stun", "host": "127.0.0.1", "port": port},
                        {"type": "turn", "host": "127.0.0.1", "port": port, "transport": "udp",
                         "secret": True, "ttl": 86400, "algorithm": "turn"},
                        {"type": "turns", "host": "127.0.0.1", "port": "5349", "transport": "tcp",
                         "secret": True, "ttl": 86400, "algorithm": "turn"},
                    ],
                    "modules_enabled": ["turnpike_test_probe"],
                },
                # The Jitsi items kept, the secret taken from turnpike's config instead.
                "secretless.localhost": {
                    "turnpike_config": cls.turnpike.config_path,
                    "turnpike_host": "relay.example",
                    "external_services": [
                        {"type": "turn", "host": "127.0.0.1", "port": port, "transport": "udp",
                         "secret": True, "ttl": 3600, "algorithm": "turn"},
                    ],
                    "turncredentials": [{"type": "turns", "host": "127.0.0.1", "port": "5349", "transport": "tcp"}],
                },
                "legacy.localhost": {
                    "turncredentials_secret": SECRET,
                    "turncredentials_ttl": 600,
                    "turncredentials": [
                        {"type": "stun", "host": "127.0.0.1", "port": str(port)},
                        {"type": "turn", "hosts": ["127.0.0.1"], "port": str(port), "transport": "udp"},
                    ],
                },
            },
            users=[("alice", "meet.localhost", "alice-pw"), ("dave", "legacy.localhost", "dave-pw"),
                   ("erin", "secretless.localhost", "erin-pw")],
            # compat/ first, so module:depends("external_services") finds turnpike's stand-in.
            plugin_paths=[COMPAT, XMPP_EXT, TEST_PLUGINS])

    def query(self, *requests, user=ALICE):
        return self.ask(self.prosody, user[0], user[1], list(requests))

    def test_lib_jitsi_meet_query_gets_usable_credentials(self):
        asked_at = int(time.time())
        # strophe.jingle.js getStunAndTurnCredentials(): exactly this IQ, to the domain.
        reply, = self.query(get("<services xmlns='urn:xmpp:extdisco:2'/>", to="meet.localhost"))
        self.assertEqual(reply.type, "result", reply)
        services = {(s["type"], s.get("transport")): s for s in reply.services()}
        # The probe module's items are there too; these are the config's.
        stun, turn, turns = services[("stun", None)], services[("turn", "udp")], services[("turns", "tcp")]
        self.assertEqual((stun["host"], stun["port"]), ("127.0.0.1", str(self.turnpike.port)))
        self.assertNotIn("username", stun)
        self.assertEqual(turns["port"], "5349")  # written as a string in the config
        for s in (turn, turns):  # turn and turns alike, credentials inline, expires always
            self.assertEqual(s["restricted"], "1")
            expires = xep0082(s["expires"])
            self.assertTrue(asked_at + 86400 - 2 <= expires <= time.time() + 86400 + 2, s)
            self.assertEqual(s["username"], str(expires))  # no user part: as mod_external_services does
            self.assertEqual(s["password"], rest_password(SECRET, s["username"]))
        self.assertRelays(self.turnpike, self.peer, turn["username"], turn["password"])

    def test_extdisco_1_fallback(self):
        # lib-jitsi-meet retries with :1 when :2 fails; it must work too.
        reply, = self.query(get("<services xmlns='%s'/>" % EXTDISCO_1, to="meet.localhost"))
        self.assertEqual(reply.type, "result", reply)
        turn = next(s for s in reply.services() if s["type"] == "turn")
        self.assertEqual(turn["password"], rest_password(SECRET, turn["username"]))

    def test_room_metadata_component_gets_services_through_depends(self):
        # As mod_room_metadata_component: module:depends("external_services").get_services().
        reply, = self.query(get("<metadata xmlns='urn:turnpike:test'/>", to="meet.localhost"))
        self.assertEqual(reply.type, "result", reply)
        self.assertEqual(reply.payload().get("provider"), "turnpike")
        services = reply.services()
        turn = next(s for s in services if s["type"] == "turn")
        self.assertEqual(turn["password"], rest_password(SECRET, turn["username"]))
        self.assertIn("expires", turn)
        self.assertIn(("stun", "item.example"), [(s["type"], s["host"]) for s in services])
        self.assertNotIn("mod_external_services is also enabled", self.prosody.log())

    def test_items_and_events_as_mod_external_services_has_them(self):
        services, filtered, token = self.query(
            get("<services xmlns='%s'/>" % EXTDISCO_2, to="meet.localhost"),
            get("<services xmlns='%s' type='turn'/>" % EXTDISCO_2, to="meet.localhost"),
            get("<credentials xmlns='%s'><service type='short-lived-token' host='token.example'/></credentials>"
                % EXTDISCO_2, to="meet.localhost"))
        hosts = {s["host"]: s for s in services.services()}
        self.assertEqual(hosts["item.example"]["port"], "3479")  # module:add_item("external_service", ...)
        pushed = hosts["pushed.example"]  # pushed by an external_service/services handler
        self.assertEqual(pushed["name"], "fields:origin,stanza,services")  # requested_type: none asked
        self.assertEqual(pushed["port"], "3481")
        # Handlers run after the type filter, as in mod_external_services.
        self.assertEqual({s["type"] for s in filtered.services()}, {"turn", "stun"})
        self.assertEqual(next(s for s in filtered.services() if s["type"] == "stun")["name"],
                         "fields:origin,stanza,requested_type,services")
        # A credentials handler answers for its own service type (Jitsi's short-lived tokens).
        self.assertEqual(token.type, "result", token)
        self.assertEqual([(s["type"], s["username"], s["password"]) for s in token.services()],
                         [("short-lived-token", "token", "probe-token")])

    def test_items_without_a_secret_use_turnpikes(self):
        reply, = self.query(get("<services xmlns='%s'/>" % EXTDISCO_2, to="secretless.localhost"),
                            user=("erin@secretless.localhost", "erin-pw"))
        services = {(s["host"], s["type"], s["transport"]): s for s in reply.services()}
        self.assertEqual(set(services), {("relay.example", "stun", "udp"), ("relay.example", "turn", "udp"),
                                         ("relay.example", "turn", "tcp"), ("127.0.0.1", "turn", "udp"),
                                         ("127.0.0.1", "turns", "tcp")}, reply)
        for s in services.values():
            if s["type"] != "stun":
                self.assertEqual(s["password"], rest_password(SECRET, s["username"]), s)
        item = services[("127.0.0.1", "turn", "udp")]
        self.assertEqual(item["username"], str(xep0082(item["expires"])))  # items name no user
        self.assertAllocates(self.turnpike, item["username"], item["password"])

    def test_legacy_turncredentials_options(self):
        asked_at = int(time.time())
        reply, = self.query(get("<services xmlns='%s'/>" % EXTDISCO_2, to="legacy.localhost"), user=DAVE)
        services = {s["type"]: s for s in reply.services()}
        self.assertEqual(set(services), {"stun", "turn"})
        turn = services["turn"]
        self.assertEqual((turn["host"], turn["port"]), ("127.0.0.1", str(self.turnpike.port)))
        self.assertTrue(asked_at + 600 - 2 <= int(turn["username"]) <= time.time() + 600 + 2, turn)
        self.assertEqual(xep0082(turn["expires"]), int(turn["username"]))
        self.assertAllocates(self.turnpike, turn["username"], turn["password"])


if __name__ == "__main__":
    harness.main()
