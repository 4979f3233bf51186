"""Only one XEP-0215 responder per host. When Prosody's own mod_external_services is enabled on
the same host as mod_turnpike (at start, or loaded later), mod_turnpike says so in the log and
stays silent there, so no IQ is answered twice and disco lists each feature once; when it is
unloaded, mod_turnpike answers again."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness  # noqa: E402
from lib.prosody import EXTDISCO_2, TEST_PLUGINS, XMPP_EXT, ProsodyTestCase, get, iq_set  # noqa: E402

SECRET = "coexistence-secret"
PROSODYS_TEXT = "The 'port' and 'type' attributes are required."  # mod_external_services' bad-request
OURS_TEXT = "Each <service/> needs the 'type' and 'host' attributes (XEP-0215 §3.3)"


class OneResponderPerHost(ProsodyTestCase):
    @classmethod
    def start(cls):
        services = {
            "external_service_secret": SECRET,
            "external_services": [{"type": "turn", "host": "127.0.0.1", "port": 3478, "transport": "udp",
                                   "secret": True}],
        }
        both = dict(services, modules_enabled=["external_services"])
        runtime = dict(services, modules_enabled=["turnpike_test_probe"])
        # Without compat/ in plugin_paths, "external_services" is Prosody's own module.
        cls.prosody = cls.start_prosody(
            hosts={"both.localhost": both, "runtime.localhost": runtime},
            users=[("alice", "both.localhost", "pw"), ("alice", "runtime.localhost", "pw")],
            plugin_paths=[XMPP_EXT, TEST_PLUGINS])

    def probe(self, host):
        """Who answers on `host`: the bad-request text of a <credentials/> without 'host' tells,
        and the disco#info features are counted."""
        bad, disco = self.ask(self.prosody, "alice@" + host, "pw", [
            get("<credentials xmlns='%s'><service type='turn'/></credentials>" % EXTDISCO_2, to=host),
            get("<query xmlns='http://jabber.org/protocol/disco#info'/>", to=host)])
        features = [f.get("var") for f in disco.payload() if f.tag.endswith("feature")]
        self.assertEqual(features.count(EXTDISCO_2), 1, disco)
        return bad.error()[2]

    def load(self, host, name, action):
        reply, = self.ask(self.prosody, "alice@" + host, "pw", [
            iq_set("<module xmlns='urn:turnpike:test' name='%s' action='%s'/>" % (name, action), to=host)])
        self.assertEqual(reply.type, "result", reply)

    def test_both_enabled_in_the_config(self):
        self.prosody.wait_for_log(r"both\.localhost:turnpike\s+error\tmod_external_services is also enabled on "
                                  r"both\.localhost, and it answers XEP-0215 there, so mod_turnpike does not\. "
                                  r"Remove \"external_services\" from modules_enabled")
        self.assertEqual(self.probe("both.localhost"), PROSODYS_TEXT)

    def test_loaded_later_then_unloaded(self):
        host = "runtime.localhost"
        self.assertEqual(self.probe(host), OURS_TEXT)
        self.load(host, "external_services", "load")
        self.prosody.wait_for_log(r"runtime\.localhost:turnpike\s+error\tmod_external_services is also enabled on "
                                  r"runtime\.localhost")
        self.assertEqual(self.probe(host), PROSODYS_TEXT)
        self.load(host, "external_services", "unload")
        self.prosody.wait_for_log(r"mod_external_services is gone from runtime\.localhost; mod_turnpike answers")
        self.assertEqual(self.probe(host), OURS_TEXT)


if __name__ == "__main__":
    harness.main()
