"""Credentials issued by Prosody are recorded in the relay's ledger, and `turnpike-admin who`
joins them to the relay sessions made with them: which XMPP user used which relay sessions,
from where, how much. A ledger that cannot be written never stops credentials being issued."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness  # noqa: E402
from lib.prosody import EXTDISCO_2, ProsodyTestCase, get  # noqa: E402

SECRET = "ledger-prosody-secret"


class ProsodyLedger(ProsodyTestCase):
    @classmethod
    def start(cls):
        cls.turnpike = cls.start_turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "allow-loopback-peers"])
        cls.peer = cls.start_peer()
        cls.broken_ledger = os.path.join(cls.workdir, "no-such-dir", "ledger.db")
        cls.prosody = cls.start_prosody(
            hosts={
                # The ledger comes from turnpike's own config (its ledger= line).
                "localhost": {"turnpike_config": cls.turnpike.config_path, "turnpike_host": "127.0.0.1"},
                "quiet.localhost": {"turnpike_config": cls.turnpike.config_path, "turnpike_host": "127.0.0.1",
                                    "turnpike_ledger": False},
                "broken.localhost": {"turnpike_config": cls.turnpike.config_path, "turnpike_host": "127.0.0.1",
                                     "turnpike_ledger": cls.broken_ledger},
            },
            users=[("alice", "localhost", "alice-pw"), ("bob", "localhost", "bob-pw"),
                   ("erin", "localhost", "erin-pw"),
                   ("carol", "quiet.localhost", "carol-pw"), ("dave", "broken.localhost", "dave-pw")],
            options={"turnpike_config_check_interval": 1})

    def turn_credential(self, jid, password, domain):
        reply = self.ask(self.prosody, jid, password, [get("<services xmlns='%s' type='turn'/>" % EXTDISCO_2,
                                                           to=domain)])[0]
        self.assertEqual(reply.type, "result", reply)
        udp = [s for s in reply.services() if s.get("transport") == "udp"]
        self.assertTrue(udp, reply)
        return udp[0]["username"], udp[0]["password"]

    def who(self, *args):
        return harness.admin_json("who", *args, "--ledger", self.turnpike.ledger_path)

    def test_who_joins_issued_credentials_to_relay_sessions(self):
        username, password = self.turn_credential("alice@localhost", "alice-pw", "localhost")
        self.assertTrue(username.endswith(":alice@localhost"), username)
        issued = harness.wait_until(lambda: self.who("alice@localhost")["credentials"])
        self.assertEqual(len(issued), 1, issued)
        self.assertEqual(issued[0]["username"], username)
        self.assertEqual(issued[0]["host"], "localhost")
        self.assertTrue(issued[0]["jid"].startswith("alice@localhost/"), issued[0])
        self.assertEqual(self.who("alice@localhost")["sessions"], [])  # issued, not used yet

        r = self.relay(self.turnpike, self.peer, username, password, messages=30)
        self.assertEqual((r.received, r.lost), (30, 0), r)
        found = harness.wait_until(lambda: [s for s in self.who("alice@localhost")["sessions"] if s["end_reason"] == "refresh-0"])
        self.assertEqual(len(found), 1, self.who("alice@localhost"))
        s = found[0]
        self.assertEqual(s["username"], username)
        self.assertEqual(s["client_ip"], "127.0.0.1")
        self.assertEqual(s["packets_from_client"], 30)
        self.assertEqual(s["bytes_from_client"], 30 * 120)
        self.assertEqual(s["bytes_to_client"], 30 * 120)
        # The full JID and the TURN username find the same thing; bob has nothing.
        self.assertEqual(self.who(issued[0]["jid"])["credentials"][0]["username"], username)
        self.assertEqual(len(self.who(username)["credentials"]), 1)
        self.assertEqual(self.who("bob@localhost"), {"query": "bob@localhost", "credentials": [], "sessions": []})
        # The table for people says the same.
        text = subprocess.run([harness.ADMIN, "who", "alice@localhost", "--ledger", self.turnpike.ledger_path],
                              stdout=subprocess.PIPE, text=True).stdout
        self.assertIn("credential %s issued" % username, text)
        self.assertIn("by localhost to alice@localhost/", text)
        self.assertIn("refresh-0", text)
        self.assertIn("30 pkts 3.6 kB", text)
        stats = harness.admin_json("stats", "--ledger", self.turnpike.ledger_path)
        self.assertGreaterEqual(stats["credentials_issued"], 1)

    def test_recording_can_be_turned_off(self):
        username, _ = self.turn_credential("carol@quiet.localhost", "carol-pw", "quiet.localhost")
        # The barrier: a credential issued after carol's by a recording host of the same Prosody
        # is in the ledger, so carol's would be by now if it had been recorded.
        marker, _ = self.turn_credential("erin@localhost", "erin-pw", "localhost")
        harness.wait_until(lambda: self.who(marker)["credentials"], what="the marker credential in the ledger")
        self.assertNotIn("Recording issued credentials", self.prosody.module_log("quiet.localhost"))
        self.assertIn("Recording issued credentials", self.prosody.module_log("localhost"))
        self.assertEqual(self.who("carol@quiet.localhost")["credentials"], [])
        self.assertEqual(self.who(username)["credentials"], [])

    def test_an_unwritable_ledger_does_not_stop_credentials(self):
        username, password = self.turn_credential("dave@broken.localhost", "dave-pw", "broken.localhost")
        self.assertAllocates(self.turnpike, username, password)
        log = harness.wait_until(lambda: "Cannot write issued credentials to %s" % self.broken_ledger
                                 in self.prosody.module_log("broken.localhost")
                                 and self.prosody.module_log("broken.localhost"), timeout=40,
                                 what="the module to report the unwritable ledger")
        self.assertIn("credentials are still issued", log)
        # Issuing went on meanwhile, and the other hosts were not affected.
        again, _ = self.turn_credential("dave@broken.localhost", "dave-pw", "broken.localhost")
        self.assertTrue(again.endswith(":dave@broken.localhost"))


if __name__ == "__main__":
    harness.main()
