"""The check link, end to end: turnpike-admin check-link makes a one-time link, a real headless
Chromium opens it from a network namespace whose firewall drops all UDP (lib/netns.py), the page
served by turnpike over HTTPS tests every TURN URL of the relay in that browser (relay
candidates, then a data channel between two peer connections of the page through the relay),
shows its plain result and sends it back; the ledger row and turnpike-admin checks must say the
same. A screenshot of the finished page is kept in BUILD/test-artifacts/check_page/.

Then the token's rules, over real HTTPS: a used link, an expired link, a forged one and none at
all get no credentials; and the page behind Debian's nginx with the snippet turnpike ships, as
on a Jitsi host: nginx on the public port, or turnpike's mux port in front of nginx (PROXY v2).
"""
import http.client
import json
import os
import secrets
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import browsers, harness, netns, tls_certs  # noqa: E402

if netns.can_create():
    harness.skip_file(netns.can_create())

ARTIFACTS = os.path.join(harness.BUILD, "test-artifacts", "check_page")


class CheckPage(harness.TestCase):
    def setUp(self):
        super().setUp()
        browsers.require_browser_stack()
        self.ns = netns.UdpBlockedNamespace().__enter__()
        self.addCleanup(self.ns.delete)
        self.pki = tls_certs.ThrowawayPki(self.workdir, ["127.0.0.1", self.ns.host_ip])
        backend_port = self.web_backend(self.pki.server_cert, self.pki.server_key)
        self.tls_port, self.mux_port, self.check_port = (harness.free_port() for _ in range(3))
        self.server = self.turnpike([
            "listening-ip=" + self.ns.host_ip,  # reachable from inside the namespace
            "tls-listening-port=%d" % self.tls_port,
            "mux-listening-port=%d" % self.mux_port, "mux-web-backend=127.0.0.1:%d" % backend_port,
            "check-listening-port=%d" % self.check_port,
            "cert=" + self.pki.server_cert, "pkey=" + self.pki.server_key,
            "use-auth-secret", "static-auth-secret=" + secrets.token_hex(16),
            # The page's two peer connections relay to each other on the veth address.
            "allowed-peer-ip=" + str(self.ns.network),
        ])
        self.server.wait_for_log(r"check page on https://")
        self.base = "https://%s:%d/turnpike-check/" % (self.ns.host_ip, self.check_port)
        self.tls = ssl.create_default_context(cafile=self.pki.ca_pem)

    def check_link(self, *args):
        p = subprocess.run([harness.ADMIN, "check-link", "-c", self.server.config_path, "--url", self.base, "--json"]
                           + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def api(self, name, body):
        """POSTs to the page's API from the root namespace (over the veth address); (status, JSON)."""
        req = urllib.request.Request(self.base + "api/" + name, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(req, context=self.tls, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def api_paced(self, name, body):
        """The API allows about one request a second per address: pace the test's own."""
        time.sleep(1.1)
        return self.api(name, body)

    def test_udp_blocked_network_is_reported_by_the_page_and_the_ledger(self):
        link = self.check_link("--ttl", "10m", "--note", "Bob, hotel wifi")
        self.assertTrue(link["url"].startswith(self.base + "#"), link)
        home = self.pki.browser_home("user")
        r = browsers.run_check_page(self.workdir, link["url"], home, netns=self.ns.name, timeout_s=60)
        os.makedirs(ARTIFACTS, exist_ok=True)
        kept = os.path.join(ARTIFACTS, "check-page.png")
        if os.path.exists(os.path.join(self.workdir, "check-page.png")):
            shutil.copy(os.path.join(self.workdir, "check-page.png"), kept)
            print("screenshot of the finished page: " + kept, flush=True)
        self.assertTrue(r["ok"], json.dumps(r, indent=1) + "\n" + self.server.log()[-3000:])
        self.assertTrue(os.path.getsize(kept) > 1000, kept)
        result = r["result"]
        by = {x["url"]: x for x in result["results"]}
        host = self.ns.host_ip
        udp = "turn:%s:%d?transport=udp" % (host, self.server.port)
        tcp = "turn:%s:%d?transport=tcp" % (host, self.server.port)
        tls = "turns:%s:%d?transport=tcp" % (host, self.tls_port)
        mux = "turns:%s:%d?transport=tcp" % (host, self.mux_port)
        self.assertEqual(sorted(by), sorted([udp, tcp, tls, mux]), result)
        self.assertEqual(by[udp]["outcome"], "no-relay-candidate", by[udp])
        for url, proto in ((tcp, "tcp"), (tls, "tls"), (mux, "tls")):
            self.assertEqual(by[url]["outcome"], "works", by[url])
            self.assertIn("relay/" + proto, by[url]["candidates"], by[url])
            self.assertGreater(by[url]["rtt_ms"], 0)
        self.assertEqual(r["state"], "partial")
        self.assertTrue(result["verdict"].startswith("Your network blocks UDP. Calls will work through TLS"),
                        result["verdict"])
        self.assertIn(result["verdict"], r["page_text"])
        self.assertIn("The result was sent to your administrator", r["page_text"])

        # The ledger has the same, with the browser and its address; turnpike-admin shows it.
        rows = harness.admin_json("checks", "-c", self.server.config_path)
        self.assertEqual(len(rows), 1, rows)
        row = rows[0]
        self.assertEqual(row["id"], link["id"])
        self.assertEqual(row["note"], "Bob, hotel wifi")
        self.assertEqual(row["client_ip"], self.ns.inner_ip)
        self.assertEqual(row["verdict"], result["verdict"])
        self.assertIn("Chrome/", row["user_agent"])
        self.assertTrue(row["turn_username"].endswith(":check-" + link["id"]), row)
        ledger = {x["url"]: x for x in row["results"]}
        self.assertEqual({u: x["outcome"] for u, x in ledger.items()},
                         {u: x["outcome"] for u, x in by.items()})
        text = subprocess.run([harness.ADMIN, "checks", "-c", self.server.config_path], stdout=subprocess.PIPE,
                              text=True, check=True).stdout
        self.assertIn("check %s (Bob, hotel wifi) from %s" % (link["id"], self.ns.inner_ip), text)
        self.assertIn("udp:%d blocked" % self.server.port, text)
        self.assertIn("tls:%d works" % self.tls_port, text)

        # The link is used up: it gets no credentials again, nor a second result.
        token = link["url"].split("#", 1)[1]
        status, body = self.api_paced("start", {"token": token})
        self.assertEqual(status, 403, body)
        self.assertIn("used already", body["error"])
        self.assertNotIn("ice_servers", body)
        status, body = self.api_paced("result", {"token": token, "verdict": "forged", "results": []})
        self.assertEqual(status, 409, body)
        self.assertEqual(harness.admin_json("checks", "-c", self.server.config_path)[0]["verdict"],
                         result["verdict"])

    def test_only_a_valid_unused_token_gets_credentials(self):
        # The page itself is public; it holds no credential.
        with urllib.request.urlopen(self.base, context=self.tls, timeout=10) as r:
            page = r.read().decode()
            self.assertIn("Can calls get through", page)
            self.assertIn("default-src 'none'", r.headers["Content-Security-Policy"])
        self.assertNotIn("credential", page)
        status, body = self.api("start", {})
        self.assertEqual(status, 400, body)
        status, body = self.api_paced("start", {"token": "AAAA" * 12})
        self.assertEqual(status, 403, body)
        self.assertIn("not a valid check link", body["error"])
        # A link made with another secret (another relay's) is not valid here.
        other = os.path.join(self.workdir, "other.conf")
        with open(other, "w") as f:
            f.write("use-auth-secret\nstatic-auth-secret=another-secret\ncheck-url=%s\n" % self.base)
        forged = json.loads(subprocess.run([harness.ADMIN, "check-link", "-c", other, "--json"],
                                           stdout=subprocess.PIPE, text=True, check=True).stdout)
        status, body = self.api_paced("start", {"token": forged["url"].split("#", 1)[1]})
        self.assertEqual(status, 403, body)
        # An expired one.
        expired = self.check_link("--ttl", "1s")
        time.sleep(2.1)
        status, body = self.api("start", {"token": expired["url"].split("#", 1)[1]})
        self.assertEqual(status, 403, body)
        self.assertIn("expired", body["error"])
        # A good one, once: the TURN URLs of this relay with a short-lived credential.
        good = self.check_link("--ttl", "5m")
        token = good["url"].split("#", 1)[1]
        status, body = self.api_paced("start", {"token": token})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["id"], good["id"])
        self.assertEqual(len(body["ice_servers"]), 4, body)
        s = body["ice_servers"][0]
        self.assertTrue(s["username"].endswith(":check-" + good["id"]))
        self.assertLessEqual(int(s["username"].split(":")[0]) - time.time(), 601)
        status, body = self.api_paced("start", {"token": token})
        self.assertEqual(status, 403, body)
        self.assertIn("used already", body["error"])
        # After a restart too: the ledger remembers.
        self.server.stop()
        self.server = self.restart()
        status, body = self.api_paced("start", {"token": token})
        self.assertEqual(status, 403, body)
        self.assertIn("used already", body["error"])

    def test_requests_are_rate_limited_per_address(self):
        # About one request a second per address (bursts of two): guessing tokens is slow, and a
        # refused request uses nothing up. One keep-alive connection, so that the requests come
        # faster than the budget refills even on a loaded machine.
        good = self.check_link("--ttl", "5m")
        token = good["url"].split("#", 1)[1]
        conn = http.client.HTTPSConnection(self.ns.host_ip, self.check_port, context=self.tls, timeout=10)
        self.addCleanup(conn.close)

        def start(t):
            conn.request("POST", "/turnpike-check/api/start", body=json.dumps({"token": t}),
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            return r.status, json.loads(r.read() or b"{}")

        statuses = []
        t0 = time.monotonic()
        while 429 not in statuses and len(statuses) < 20:
            statuses.append(start("AAAA" * 12)[0])
        elapsed = time.monotonic() - t0
        self.assertEqual(statuses[-1], 429, statuses)
        self.assertEqual(set(statuses[:-1]), {403}, statuses)
        # A burst of two, and one more for each second that passed meanwhile.
        self.assertLessEqual(len(statuses) - 1, 2 + int(elapsed + 1), (statuses, elapsed))
        status, body = start(token)
        self.assertEqual(status, 429, body)
        self.assertIn("too many requests", body["error"])
        self.assertNotIn("ice_servers", body)
        time.sleep(2.1)
        status, body = self.api("start", {"token": token})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["id"], good["id"])

    def snippet(self, check_port):
        path = os.path.join(harness.SOURCE, "server", "net", "check_page", "nginx-turnpike-check.conf")
        with open(path) as f:
            text = f.read().replace("127.0.0.1:5350", "127.0.0.1:%d" % check_port)
        self.assertIn("127.0.0.1:%d" % check_port, text)
        return text

    def nginx(self, servers):
        """Debian's nginx, unprivileged in the test's directory, with these server { } bodies."""
        harness.require("nginx", "curl")
        d = os.path.join(self.workdir, "nginx")
        os.makedirs(d)
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write("daemon off;\nmaster_process off;\npid %(d)s/nginx.pid;\nerror_log %(d)s/error.log info;\n"
                    "events {}\nhttp {\n  access_log %(d)s/access.log;\n"
                    "  client_body_temp_path %(d)s/body; proxy_temp_path %(d)s/proxy;\n"
                    "  fastcgi_temp_path %(d)s/fcgi; uwsgi_temp_path %(d)s/uwsgi; scgi_temp_path %(d)s/scgi;\n"
                    % {"d": d})
            for body in servers:
                f.write("  server {\n    ssl_certificate %s;\n    ssl_certificate_key %s;\n"
                        "    location / { return 200 'the web site'; }\n%s\n  }\n"
                        % (self.pki.server_cert, self.pki.server_key, body))
            f.write("}\n")
        return self.track(harness.Process(["nginx", "-p", d, "-c", os.path.join(d, "nginx.conf")],
                                          os.path.join(d, "nginx.log")))

    def curl(self, *args):
        """curl inside the namespace (the user's network), trusting the test's CA."""
        p = subprocess.run(self.ns.argv(["curl", "-s", "-m", "10", "--cacert", self.pki.ca_pem] + list(args)),
                           stdout=subprocess.PIPE, text=True)
        return p.stdout

    def start_through(self, public, config_path):
        """check-link for the public URL, then the page and api/start through it, as a browser
        would; returns (link, the api/start answer)."""
        self.assertIn("Can calls get through", self.curl(public))
        p = subprocess.run([harness.ADMIN, "check-link", "-c", config_path, "--url", public, "--json"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)
        link = json.loads(p.stdout)
        self.assertTrue(link["url"].startswith(public + "#"))
        token = link["url"].split("#", 1)[1]
        body = json.loads(self.curl("-X", "POST", "-H", "Content-Type: application/json",
                                    "--data", json.dumps({"token": token}), public + "api/start"))
        self.assertEqual(body.get("id"), link["id"], body)
        return link, body

    def test_behind_nginx_with_the_shipped_snippet(self):
        """nginx (Debian's) serves the site and proxies /turnpike-check/ to the check port with
        the snippet turnpike installs; a client in the namespace reaches the page through it, and
        the relay sees the client's address and host, not nginx's."""
        port = harness.free_port()
        nginx = self.nginx(["    listen %s:%d ssl;\n%s" % (self.ns.host_ip, port, self.snippet(self.check_port))])
        harness.wait_until(lambda: "the web site" in self.curl("https://%s:%d/" % (self.ns.host_ip, port)),
                           what="nginx on %s:%d" % (self.ns.host_ip, port))
        link, body = self.start_through("https://%s:%d/turnpike-check/" % (self.ns.host_ip, port),
                                        self.server.config_path)
        # The TURN URLs name the host the browser used (nginx passes it on), not 127.0.0.1.
        self.assertTrue(body["ice_servers"][0]["urls"].startswith("turn:%s:" % self.ns.host_ip), body)
        rows = harness.admin_json("checks", "-c", self.server.config_path)
        self.assertEqual([(r["id"], r["client_ip"]) for r in rows], [(link["id"], self.ns.inner_ip)])
        self.assertTrue(nginx.alive(), nginx.log())

    def test_on_the_mux_port_in_front_of_nginx(self):
        """A Jitsi host where turnpike owns port 443 (mux-listening-port) and passes web traffic
        to nginx with a PROXY v2 header: the link on the public port goes turnpike's mux -> nginx
        (the snippet) -> turnpike's check port, and the ledger still has the user's address."""
        backend, mux, check = (harness.free_port() for _ in range(3))
        nginx = self.nginx(["    listen 127.0.0.1:%d ssl proxy_protocol;\n    set_real_ip_from 127.0.0.1;\n"
                            "    real_ip_header proxy_protocol;\n%s" % (backend, self.snippet(check))])
        host = self.turnpike(["listening-ip=" + self.ns.host_ip, "mux-listening-port=%d" % mux,
                              "mux-web-backend=127.0.0.1:%d" % backend, "mux-proxy-protocol",
                              "check-listening-port=%d" % check, "cert=" + self.pki.server_cert,
                              "pkey=" + self.pki.server_key, "use-auth-secret",
                              "static-auth-secret=" + secrets.token_hex(16)], name="jitsi-host")
        host.wait_for_log(r"check page on https://")
        public = "https://%s:%d/turnpike-check/" % (self.ns.host_ip, mux)
        harness.wait_until(lambda: "the web site" in self.curl("https://%s:%d/" % (self.ns.host_ip, mux)),
                           what="nginx behind the mux port %d" % mux)
        link, body = self.start_through(public, host.config_path)
        urls = [s["urls"] for s in body["ice_servers"]]
        self.assertIn("turns:%s:%d?transport=tcp" % (self.ns.host_ip, mux), urls)
        rows = harness.admin_json("checks", "-c", host.config_path)
        self.assertEqual([(r["id"], r["client_ip"]) for r in rows], [(link["id"], self.ns.inner_ip)])
        self.assertTrue(nginx.alive(), nginx.log())

    def restart(self):
        p = self.track(harness.Process([harness.TURNPIKE, "-c", self.server.config_path],
                                       os.path.join(self.workdir, "turnpike-2.log")))
        p.config_path = self.server.config_path
        p.wait_for_log(r"check page on https://")
        return p


if __name__ == "__main__":
    harness.main()
