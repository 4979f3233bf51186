"""mod_turnpike in a real Prosody, asked by a real XMPP client (slixmpp), with every service
derived from turnpike's own config file (turnpike_config): XEP-0215 services and credentials in
both namespaces, the type filter, disco, access control, the errors the XEP asks for; then the
credentials the client received relay through a running turnpike started from the same file,
and credentials signed with another secret are refused."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness  # noqa: E402
from lib.prosody import EXTDISCO_1, EXTDISCO_2, ProsodyTestCase, get, iq_set, rest_password, xep0082  # noqa: E402

SECRET = "the-relays-secret"
OTHER_SECRET = "not-the-relays-secret"
ALICE = ("alice@localhost", "alice-pw")
MALLORY = ("mallory@localhost", "mallory-pw")
CAROL = ("carol@other.localhost", "carol-pw")


class Xep0215FromTurnpikeConfig(ProsodyTestCase):
    @classmethod
    def start(cls):
        cls.turnpike = cls.start_turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "allow-loopback-peers"])
        cls.peer = cls.start_peer()
        # The config of a relay behind NAT with TLS (only read by Prosody here, not run).
        cls.nat_config = os.path.join(cls.workdir, "relay-behind-nat.conf")
        with open(cls.nat_config, "w") as f:
            f.write("use-auth-secret\nstatic-auth-secret=%s\nexternal-ip=198.51.100.20/10.0.0.20\n"
                    "no-tcp\ncert=/etc/turnpike/relay.pem\npkey=/etc/turnpike/relay.key\n" % SECRET)
        cls.prosody = cls.start_prosody(
            hosts={
                "nat.localhost": {
                    "turnpike_config": cls.nat_config,
                    "turnpike_tls_port": 443,  # a TLS multiplexer on 443 in front of 5349
                    "turnpike_service_name": "Example relay",
                    "turnpike_username": False,
                },
                "multi.localhost": {
                    "turnpike_config": cls.nat_config,
                    "turnpike_host": ["relay1.example", "relay2.example"],
                },
                "localhost": {
                    "turnpike_config": cls.turnpike.config_path,
                    "turnpike_access": ["alice@localhost", "bob@localhost"],
                },
                # A host whose relay entry is signed with a secret turnpike does not have.
                "other.localhost": {
                    "external_service_access": ["carol@other.localhost"],  # mod_external_services' option
                    "external_service_secret": OTHER_SECRET,
                    "external_services": [{"type": "turn", "host": "127.0.0.1", "port": cls.turnpike.port,
                                           "transport": "udp", "secret": True}],
                },
            },
            users=[("alice", "localhost", "alice-pw"), ("bob", "localhost", "bob-pw"),
                   ("mallory", "localhost", "mallory-pw"), ("carol", "other.localhost", "carol-pw"),
                   ("dan", "other.localhost", "dan-pw"),
                   ("erin", "nat.localhost", "erin-pw"), ("frank", "multi.localhost", "frank-pw")])

    def query(self, *requests, user=ALICE):
        return self.ask(self.prosody, user[0], user[1], list(requests))

    def assertServiceList(self, reply, asked_at):
        """The three entries turnpike's config implies, with one fresh credential for alice."""
        self.assertEqual(reply.type, "result", reply)
        services = {(s["type"], s["transport"]): s for s in reply.services()}
        self.assertEqual(set(services), {("stun", "udp"), ("turn", "udp"), ("turn", "tcp")}, reply)
        for s in services.values():
            self.assertEqual(s["host"], "127.0.0.1", s)  # listening-ip
            self.assertEqual(s["port"], str(self.turnpike.port), s)
        stun = services[("stun", "udp")]
        for attr in ("username", "password", "restricted", "expires"):
            self.assertNotIn(attr, stun)
        for key in (("turn", "udp"), ("turn", "tcp")):
            s = services[key]
            self.assertEqual(s["restricted"], "1", s)
            expires = xep0082(s["expires"])
            # Default TTL: a day, since clients never refresh.
            self.assertTrue(asked_at + 86400 - 2 <= expires <= time.time() + 86400 + 2, s)
            self.assertEqual(s["username"], "%d:alice@localhost" % expires, s)
            self.assertEqual(s["password"], rest_password(SECRET, s["username"]), s)
        return services

    def test_services_extdisco_2(self):
        asked_at = int(time.time())
        reply, = self.query(get("<services xmlns='%s'/>" % EXTDISCO_2))
        self.assertEqual(reply.payload().tag, "{%s}services" % EXTDISCO_2)
        self.assertServiceList(reply, asked_at)
        self.assertNotIn("type", reply.payload().attrib)

    def test_services_legacy_extdisco_1(self):
        asked_at = int(time.time())
        reply, = self.query(get("<services xmlns='%s'/>" % EXTDISCO_1))
        self.assertEqual(reply.payload().tag, "{%s}services" % EXTDISCO_1)
        self.assertServiceList(reply, asked_at)

    def test_type_filter(self):
        turn, stun, turns = self.query(get("<services xmlns='%s' type='turn'/>" % EXTDISCO_2),
                                       get("<services xmlns='%s' type='stun'/>" % EXTDISCO_2),
                                       get("<services xmlns='%s' type='turns'/>" % EXTDISCO_2))
        self.assertEqual(sorted(s["transport"] for s in turn.services() if s["type"] == "turn"), ["tcp", "udp"])
        self.assertEqual({s["type"] for s in turn.services()}, {"turn"})
        self.assertEqual(turn.payload().get("type"), "turn")  # echoed, as in XEP-0215 §3.2
        self.assertEqual([(s["type"], s["transport"]) for s in stun.services()], [("stun", "udp")])
        # No TLS listener (no cert in turnpike's config): nothing of that type, and no error.
        self.assertEqual(turns.type, "result", turns)
        self.assertEqual(turns.services(), [])

    def test_credentials(self):
        by_type_host, by_port, legacy = self.query(
            get("<credentials xmlns='%s'><service type='turn' host='127.0.0.1'/></credentials>" % EXTDISCO_2),
            get("<credentials xmlns='%s'><service type='turn' host='127.0.0.1' port='%d'/></credentials>"
                % (EXTDISCO_2, self.turnpike.port)),
            get("<credentials xmlns='%s'><service host='127.0.0.1'/></credentials>" % EXTDISCO_1))
        for reply in (by_type_host, by_port, legacy):
            self.assertEqual(reply.type, "result", reply)
            self.assertEqual(reply.payload().tag.split("}")[1], "credentials")
            services = reply.services()
            self.assertEqual(sorted(s["transport"] for s in services), ["tcp", "udp"], reply)
            for s in services:
                self.assertEqual(s["type"], "turn")
                self.assertEqual(s["password"], rest_password(SECRET, s["username"]))
                self.assertTrue(s["username"].endswith(":alice@localhost"), s)
                self.assertIn("expires", s)
        self.assertEqual(legacy.payload().tag, "{%s}credentials" % EXTDISCO_1)

    def test_credentials_for_an_unknown_service_is_item_not_found(self):
        replies = self.query(
            get("<credentials xmlns='%s'><service type='turn' host='192.0.2.1'/></credentials>" % EXTDISCO_2),
            get("<credentials xmlns='%s'><service type='turn' host='127.0.0.1' port='1'/></credentials>" % EXTDISCO_2),
            get("<credentials xmlns='%s'><service type='stun' host='127.0.0.1'/></credentials>" % EXTDISCO_2),
            get("<credentials xmlns='%s'><service type='turn' host='127.0.0.1'/><service type='turns' host='127.0.0.1'/>"
                "</credentials>" % EXTDISCO_2))
        for reply in replies:
            self.assertError(reply, "cancel", "item-not-found")
        self.assertIn("host='192.0.2.1'", replies[0].error()[2])
        self.assertIn("type='turns'", replies[3].error()[2])

    def test_malformed_requests_are_bad_request_with_the_reason(self):
        needs = "Each <service/> needs the 'type' and 'host' attributes (XEP-0215 §3.3)"
        replies = self.query(
            get("<credentials xmlns='%s'><service type='turn'/></credentials>" % EXTDISCO_2),
            get("<credentials xmlns='%s'><service host='127.0.0.1'/></credentials>" % EXTDISCO_2),
            get("<credentials xmlns='%s'/>" % EXTDISCO_2),
            get("<credentials xmlns='%s'><service type='turn' host='127.0.0.1' port='http'/></credentials>"
                % EXTDISCO_2),
            get("<credentials xmlns='%s'><service type='turn'/></credentials>" % EXTDISCO_1),
            get("<services xmlns='%s' type=''/>" % EXTDISCO_2),
            # Not a XEP-0215 request at all: Prosody answers it, nobody's handler.
            get("<service xmlns='%s'/>" % EXTDISCO_2))
        self.assertError(replies[0], "modify", "bad-request", needs)
        self.assertError(replies[1], "modify", "bad-request", needs)
        self.assertError(replies[2], "modify", "bad-request",
                         "<credentials/> must contain a <service/> with the 'type' and 'host' attributes of the "
                         "service (XEP-0215 §3.3)")
        self.assertError(replies[3], "modify", "bad-request", "The 'port' attribute must be a number from 1 to 65535")
        self.assertError(replies[4], "modify", "bad-request", "Each <service/> needs a 'host' attribute")
        self.assertError(replies[5], "modify", "bad-request")
        self.assertError(replies[6], "cancel", "service-unavailable")

    def test_iq_set_is_service_unavailable(self):
        replies = self.query(iq_set("<services xmlns='%s'/>" % EXTDISCO_2),
                             iq_set("<services xmlns='%s' type='turn'/>" % EXTDISCO_1),
                             iq_set("<credentials xmlns='%s'><service type='turn' host='127.0.0.1'/></credentials>"
                                    % EXTDISCO_2))
        for reply in replies:
            self.assertError(reply, "cancel", "service-unavailable")

    def test_disco_info_announces_both_namespaces(self):
        reply, = self.query(get("<query xmlns='http://jabber.org/protocol/disco#info'/>"))
        features = {f.get("var") for f in reply.payload() if f.tag.endswith("feature")}
        self.assertIn(EXTDISCO_2, features)
        self.assertIn(EXTDISCO_1, features)

    def test_access_list_is_enforced_on_services_and_credentials(self):
        replies = self.query(
            get("<services xmlns='%s'/>" % EXTDISCO_2),
            get("<services xmlns='%s'/>" % EXTDISCO_1),
            get("<credentials xmlns='%s'><service type='turn' host='127.0.0.1'/></credentials>" % EXTDISCO_2),
            get("<credentials xmlns='%s'><service host='127.0.0.1'/></credentials>" % EXTDISCO_1),
            user=MALLORY)
        for reply in replies:
            self.assertError(reply, "auth", "forbidden")
        # bob is on the list too.
        reply, = self.query(get("<services xmlns='%s'/>" % EXTDISCO_2), user=("bob@localhost", "bob-pw"))
        self.assertEqual(reply.type, "result", reply)
        # mod_external_services' option works the same way.
        services, credentials = self.query(
            get("<services xmlns='%s'/>" % EXTDISCO_2, to="other.localhost"),
            get("<credentials xmlns='%s'><service type='turn' host='127.0.0.1'/></credentials>" % EXTDISCO_2,
                to="other.localhost"),
            user=("dan@other.localhost", "dan-pw"))
        self.assertError(services, "auth", "forbidden")
        self.assertError(credentials, "auth", "forbidden")

    def test_the_relay_accepts_what_the_client_was_given(self):
        reply, = self.query(get("<services xmlns='%s' type='turn'/>" % EXTDISCO_2))
        turn = {s["transport"]: s for s in reply.services()}
        udp, tcp = turn["udp"], turn["tcp"]
        self.assertRelays(self.turnpike, self.peer, udp["username"], udp["password"])
        self.assertIn("user=<%s>" % udp["username"], self.turnpike.log())
        # The turn/tcp entry: the same credentials, over a TCP connection to listening-port.
        self.assertEqual(tcp["port"], str(self.turnpike.port))
        self.assertRelays(self.turnpike, self.peer, tcp["username"], tcp["password"], extra=["-t"])

    def test_credentials_signed_with_another_secret_are_refused(self):
        reply, = self.query(get("<services xmlns='%s'/>" % EXTDISCO_2, to="other.localhost"), user=CAROL)
        turn, = reply.services()
        self.assertEqual(turn["password"], rest_password(OTHER_SECRET, turn["username"]))
        self.assertRefused(self.turnpike, self.peer, turn["username"], turn["password"])
        self.turnpike.wait_for_log(r"user=<%s>: 401" % turn["username"])

    def test_services_follow_the_relays_config_and_the_host_options(self):
        reply, = self.query(get("<services xmlns='%s'/>" % EXTDISCO_2, to="nat.localhost"),
                            user=("erin@nat.localhost", "erin-pw"))
        services = {(s["type"], s["transport"]): s for s in reply.services()}
        # no-tcp: no turn/tcp; a cert: turns, on the advertised TLS port; host: the external-ip.
        self.assertEqual(set(services), {("stun", "udp"), ("turn", "udp"), ("turns", "tcp")}, reply)
        self.assertEqual({s["host"] for s in services.values()}, {"198.51.100.20"})
        self.assertEqual(services[("turn", "udp")]["port"], "3478")
        self.assertEqual(services[("turns", "tcp")]["port"], "443")
        self.assertEqual({s["name"] for s in services.values()}, {"Example relay"})
        for key in (("turn", "udp"), ("turns", "tcp")):
            s = services[key]
            self.assertEqual(s["username"], str(xep0082(s["expires"])))  # turnpike_username = false
            self.assertEqual(s["password"], rest_password(SECRET, s["username"]))

        reply, = self.query(get("<services xmlns='%s'/>" % EXTDISCO_2, to="multi.localhost"),
                            user=("frank@multi.localhost", "frank-pw"))
        entries = [(s["host"], s["type"], s["transport"]) for s in reply.services()]
        self.assertEqual(entries, [(h, t, tr) for h in ("relay1.example", "relay2.example")
                                   for t, tr in (("stun", "udp"), ("turn", "udp"), ("turns", "tcp"))])

    def test_no_errors_logged(self):
        log = self.prosody.module_log()
        self.assertIn("Using turnpike config %s: realm test.local, 1 secret(s)" % self.turnpike.config_path, log)
        for line in log.splitlines():
            self.assertNotRegex(line, r"\s(error|warn)\t", log)


if __name__ == "__main__":
    harness.main()
