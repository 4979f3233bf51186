"""Secret rotation between turnpike and mod_turnpike, with the real programs.

The admin adds a static-auth-secret line to turnpike's config and reloads turnpike (SIGHUP); it
verifies with every secret. mod_turnpike notices the change on disk by itself (a stat every
turnpike_config_check_interval seconds), or on SIGHUP (`systemctl reload prosody`), and signs new credentials
with the newest secret, while credentials handed out before keep working until they expire.
A broken or missing turnpike config never stops Prosody: the module keeps what it had, or
answers without those services, and says why in the log."""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness  # noqa: E402
from lib.prosody import EXTDISCO_2, ProsodyTestCase, get, rest_password  # noqa: E402

OLD = "secret-before-rotation"
NEW = "secret-after-rotation"
ALICE = ("alice@localhost", "alice-pw")


class Rotation(ProsodyTestCase):
    @classmethod
    def start(cls):
        cls.peer = cls.start_peer()

    def setUp(self):
        self.turnpike = self.start_turnpike(["use-auth-secret", "static-auth-secret=" + OLD, "allow-loopback-peers"],
                                            name="turnpike-" + self._testMethodName)

    def start_prosody_for(self, host_options, **kw):
        options = {"turnpike_config": self.turnpike.config_path}
        options.update(host_options)
        return self.start_prosody({"localhost": options}, users=[("alice", "localhost", "alice-pw")],
                                  name="prosody-" + self._testMethodName, **kw)

    def turn_udp(self, prosody):
        reply, = self.ask(prosody, ALICE[0], ALICE[1], [get("<services xmlns='%s' type='turn'/>" % EXTDISCO_2)])
        self.assertEqual(reply.type, "result", reply)
        return next(s for s in reply.services() if s["transport"] == "udp")

    def rotate_turnpike(self):
        with open(self.turnpike.config_path, "a") as f:
            f.write("static-auth-secret=%s\n" % NEW)
        self.turnpike.send_signal(signal.SIGHUP)
        self.turnpike.wait_for_log(r"reloaded .*2 secret\(s\)")

    def check_rotated(self, prosody, before, relay=False):
        after = self.turn_udp(prosody)
        self.assertEqual(after["password"], rest_password(NEW, after["username"]), after)
        self.assertNotEqual(after["password"], rest_password(OLD, after["username"]))
        if relay:
            self.assertRelays(self.turnpike, self.peer, after["username"], after["password"])
        else:
            self.assertAllocates(self.turnpike, after["username"], after["password"])
        # Handed out before the rotation, still valid until it expires.
        self.assertAllocates(self.turnpike, before["username"], before["password"])

    def test_a_rotated_file_is_picked_up_without_any_action(self):
        prosody = self.start_prosody_for({"turnpike_config_check_interval": 1})
        before = self.turn_udp(prosody)
        self.assertEqual(before["password"], rest_password(OLD, before["username"]))
        self.rotate_turnpike()
        prosody.wait_for_log(r"localhost:turnpike.*Reloaded turnpike config \(file changed\) .*2 secret\(s\).*"
                             r"signed with the newest secret", timeout=10)
        self.check_rotated(prosody, before, relay=True)

    def test_reload_signal_rereads_the_file(self):
        # `systemctl reload prosody` sends SIGHUP (Prosody's unit: ExecReload=kill -HUP), as
        # `prosodyctl reload` did on 0.12; Prosody 13's prosodyctl refuses reload on a systemd
        # host, so the README tells users the systemctl form and this sends the signal itself.
        pidfile = os.path.join(self.workdir, "prosody-reload.pid")
        # watch.localhost checks the file every second: once it has seen the rotation, localhost
        # (no timer) has had the same time to notice it and must not have.
        options = {"turnpike_config": self.turnpike.config_path}
        prosody = self.start_prosody({"localhost": dict(options, turnpike_config_check_interval=0),
                                      "watch.localhost": dict(options, turnpike_config_check_interval=1)},
                                     users=[("alice", "localhost", "alice-pw")],
                                     name="prosody-" + self._testMethodName, options={"pidfile": pidfile})
        before = self.turn_udp(prosody)
        self.rotate_turnpike()
        prosody.wait_for_log(r"watch\.localhost:turnpike.*Reloaded turnpike config \(file changed\)", timeout=10)
        self.assertNotIn("Reloaded turnpike config", prosody.module_log("localhost"))
        still = self.turn_udp(prosody)
        self.assertEqual(still["password"], rest_password(OLD, still["username"]))
        prosody.send_signal(signal.SIGHUP)
        prosody.wait_for_log(r"Reloaded turnpike config \(Prosody config reloaded\) .*2 secret\(s\)")
        self.check_rotated(prosody, before)

    def test_a_broken_edit_keeps_the_last_good_secret(self):
        prosody = self.start_prosody_for({"turnpike_config_check_interval": 1})
        with open(self.turnpike.config_path) as f:
            good = f.read()
        with open(self.turnpike.config_path, "a") as f:
            f.write("static-auth-secret\n")  # no value
        prosody.wait_for_log(r"Cannot reload turnpike config \(file changed\): %s:\d+: option "
                             r"'static-auth-secret': needs a value.*still using what was read before"
                             % self.turnpike.config_path, timeout=10)
        cred = self.turn_udp(prosody)
        self.assertEqual(cred["password"], rest_password(OLD, cred["username"]))
        self.assertAllocates(self.turnpike, cred["username"], cred["password"])
        with open(self.turnpike.config_path, "w") as f:
            f.write(good)
        prosody.wait_for_log(r"turnpike config %s is usable again" % self.turnpike.config_path, timeout=10)
        self.assertTrue(prosody.alive())

    def test_prosody_runs_without_a_readable_turnpike_config(self):
        missing = os.path.join(self.workdir, "not-there-yet.conf")
        prosody = self.start_prosody_for({"turnpike_config": missing, "turnpike_config_check_interval": 1})
        prosody.wait_for_log(r"Cannot use turnpike config: %s: cannot read turnpike's config file \(No such file "
                             r"or directory\)" % missing)
        reply, = self.ask(prosody, ALICE[0], ALICE[1], [get("<services xmlns='%s'/>" % EXTDISCO_2)])
        self.assertEqual(reply.type, "result", reply)
        self.assertEqual(reply.services(), [])
        # The admin fixes it; the module finds it on its own.
        with open(self.turnpike.config_path) as f, open(missing, "w") as g:
            g.write(f.read())
        prosody.wait_for_log(r"Using turnpike config %s" % missing, timeout=10)
        cred = self.turn_udp(prosody)
        self.assertAllocates(self.turnpike, cred["username"], cred["password"])


if __name__ == "__main__":
    harness.main()
