"""Who gets TURN credentials from mod_turnpike, asked by a real XMPP client (slixmpp) of a real
Prosody, one requester of each kind: without an access list only the clients of the host the
module serves get them, whether they logged in with a password or anonymously (SASL ANONYMOUS,
as Jitsi's web clients do); users of another VirtualHost of the same Prosody (an anonymous guest
host included), components and the like get auth/forbidden. turnpike_access_any_local restores
Prosody 0.12's "any local client"; an access list names exactly who may ask."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness, xmpp_client  # noqa: E402
from lib.prosody import EXTDISCO_2, ProsodyTestCase, get, rest_password  # noqa: E402

SECRET = "access-matrix-secret"
COMPONENT_SECRET = "component-secret"
SERVICES = "<services xmlns='%s'/>" % EXTDISCO_2
CREDENTIALS = "<credentials xmlns='%s'><service type='turn' host='127.0.0.1'/></credentials>" % EXTDISCO_2


class RequesterMatrix(ProsodyTestCase):
    @classmethod
    def start(cls):
        cls.turnpike = cls.start_turnpike(["use-auth-secret", "static-auth-secret=" + SECRET])
        relay = {"turnpike_config": cls.turnpike.config_path}
        no_turnpike = {"modules_disabled": ["s2s", "tls", "offline", "turnpike"]}
        cls.prosody = cls.start_prosody(
            hosts={
                # Jitsi's main host: anonymous logins, no access list.
                "meet.localhost": dict(relay, authentication="anonymous"),
                # A host with accounts and no access list.
                "accounts.localhost": dict(relay),
                # An anonymous guest host of the same Prosody, without mod_turnpike of its own.
                "guest.localhost": dict(no_turnpike, authentication="anonymous"),
                # Another VirtualHost with accounts, without mod_turnpike.
                "other.localhost": dict(no_turnpike),
                # The explicit option: any client of this Prosody.
                "open.localhost": dict(relay, turnpike_access_any_local=True),
                # An access list: the guest host and one user of another host, nobody else.
                "listed.localhost": dict(relay, turnpike_access=["guest.localhost", "bob@other.localhost"]),
            },
            users=[("alice", "accounts.localhost", "alice-pw"), ("bob", "other.localhost", "bob-pw"),
                   ("carol", "other.localhost", "carol-pw"), ("dave", "listed.localhost", "dave-pw")],
            components={"component.localhost": COMPONENT_SECRET})

    def ask_as(self, requester, host):
        """Both XEP-0215 requests, to `host`, from one kind of requester; returns the replies and
        the JID the session was bound to."""
        kind, jid, password = requester
        bound = []
        replies = xmpp_client.query(self.prosody.component_port if kind == "component" else self.prosody.port,
                                    jid, password, [get(SERVICES, to=host), get(CREDENTIALS, to=host)],
                                    component=kind == "component", bound=bound)
        return replies, bound[0]

    def assertGetsCredentials(self, requester, host):
        (services, credentials), who = self.ask_as(requester, host)
        for reply in (services, credentials):
            self.assertEqual(reply.type, "result", "%s asking %s: %r" % (who, host, reply))
            turn = [s for s in reply.services() if s["type"] == "turn"]
            self.assertTrue(turn, reply)
            for s in turn:
                self.assertEqual(s["password"], rest_password(SECRET, s["username"]), s)
        return credentials.services()[0], who

    def assertForbidden(self, requester, host):
        (services, credentials), who = self.ask_as(requester, host)
        for reply in (services, credentials):
            self.assertError(reply, "auth", "forbidden")
            self.assertNotIn("password", reply.xml)
        self.assertTrue(who, "%s had no session" % (requester,))

    ANONYMOUS_MEET = ("client", "meet.localhost", "")
    ANONYMOUS_GUEST = ("client", "guest.localhost", "")
    ALICE = ("client", "alice@accounts.localhost", "alice-pw")
    BOB = ("client", "bob@other.localhost", "bob-pw")
    CAROL = ("client", "carol@other.localhost", "carol-pw")
    DAVE = ("client", "dave@listed.localhost", "dave-pw")
    COMPONENT = ("component", "component.localhost", COMPONENT_SECRET)

    def test_anonymous_clients_of_the_host_itself_get_credentials(self):
        # Jitsi's web clients: SASL ANONYMOUS on the main host, then XEP-0215 to it.
        service, who = self.assertGetsCredentials(self.ANONYMOUS_MEET, "meet.localhost")
        self.assertRegex(who, r"^[^@/]+@meet\.localhost/")  # an anonymous session, given a random name
        self.assertTrue(service["username"].endswith(":" + who.split("/")[0]), service)
        self.assertAllocates(self.turnpike, service["username"], service["password"])

    def test_account_holders_of_the_host_itself_get_credentials(self):
        self.assertGetsCredentials(self.ALICE, "accounts.localhost")

    def test_other_virtual_hosts_get_nothing(self):
        self.assertForbidden(self.BOB, "accounts.localhost")
        self.assertForbidden(self.BOB, "meet.localhost")
        self.assertForbidden(self.ALICE, "meet.localhost")

    def test_an_anonymous_guest_host_gets_nothing_unless_listed(self):
        self.assertForbidden(self.ANONYMOUS_GUEST, "meet.localhost")
        self.assertForbidden(self.ANONYMOUS_GUEST, "accounts.localhost")
        self.assertGetsCredentials(self.ANONYMOUS_GUEST, "listed.localhost")

    def test_components_get_nothing_unless_listed(self):
        for host in ("meet.localhost", "accounts.localhost", "open.localhost", "listed.localhost"):
            self.assertForbidden(self.COMPONENT, host)

    def test_any_local_client_when_the_option_says_so(self):
        for requester in (self.BOB, self.ALICE, self.ANONYMOUS_GUEST, self.ANONYMOUS_MEET):
            self.assertGetsCredentials(requester, "open.localhost")

    def test_an_access_list_names_exactly_who_may_ask(self):
        self.assertGetsCredentials(self.BOB, "listed.localhost")
        self.assertForbidden(self.CAROL, "listed.localhost")
        # The host's own users are not on its list either.
        self.assertForbidden(self.DAVE, "listed.localhost")


if __name__ == "__main__":
    harness.main()
