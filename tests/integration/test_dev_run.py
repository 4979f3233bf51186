"""`make run`'s server (tests/tools/dev-run.sh): it starts on 127.0.0.1:3478, the
turnutils_uclient line it prints relays with 0% loss, and `turnpike-admin sessions` then shows
that session with the byte counts uclient sent and received."""
import os
import re
import shlex
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness  # noqa: E402


def port_busy(port):
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
        finally:
            s.close()
    return False


class DevRun(harness.TestCase):
    def test_printed_uclient_line_relays(self):
        if port_busy(3478) or port_busy(3480):
            harness.skip_file("127.0.0.1:3478 or :3480 is taken by another program; make run needs them")
        build = os.path.join(self.workdir, "build")
        os.makedirs(build)
        os.symlink(harness.BIN, os.path.join(build, "bin"))
        script = os.path.join(harness.SOURCE, "tests", "tools", "dev-run.sh")
        run = self.track(harness.Process(["bash", script, build], os.path.join(self.workdir, "run.log")))
        log = run.wait_for_log("turnpike ready", timeout=20)
        line = re.search(r"^\s+(turnutils_uclient .*)$", log, re.M)
        self.assertIsNotNone(line, log)
        self.assertIn("0600", oct(os.stat(os.path.join(build, "dev", "turnpike.conf")).st_mode))
        p = subprocess.run(shlex.split(line.group(1)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=120)
        r = harness.UclientResult(p.returncode, p.stdout)
        self.assertEqual(r.lost, 0, r)
        self.assertEqual(r.lost_percent, 0.0, r)
        self.assertGreater(r.received, 0, r)
        # The printed line uses -c and -m 2: two sessions carried the traffic, closed by Refresh 0.
        conf = os.path.join(build, "dev", "turnpike.conf")
        used = harness.wait_until(
            lambda: [s for s in harness.admin_json("sessions", "-c", conf) if s["end_reason"] == "refresh-0"]
            if len([s for s in harness.admin_json("sessions", "-c", conf) if s["end_reason"] == "refresh-0"]) == 2
            else None, what="both sessions in the ledger")
        self.assertEqual(sum(s["bytes_from_client"] for s in used), r.sent_bytes)
        self.assertEqual(sum(s["bytes_to_client"] for s in used), r.received_bytes)
        self.assertTrue(all(s["username"].endswith(":dev") for s in used), used)


if __name__ == "__main__":
    harness.main()
