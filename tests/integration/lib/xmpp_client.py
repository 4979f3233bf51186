"""A real XMPP client for the Prosody tests: Debian's python3-slixmpp logs in over plain c2s on
127.0.0.1 and sends IQs given as raw XML (slixmpp 1.8 has no XEP-0215 plugin), exactly as a
client library would put them on the wire.

It runs as its own process under /usr/bin/python3 (where Debian installs slixmpp), reading one
JSON job on stdin and writing one JSON answer on stdout, so the tests themselves may run under
any Python. Use it through `query()`.
"""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

SYSTEM_PYTHON = "/usr/bin/python3"
STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"


def query(port, jid, password, requests, timeout=30, component=False, bound=None):
    """Logs in as `jid` and sends each request, a dict {"xml": "<payload/>", "type": "get"|"set",
    "to": "domain"}, in order. Returns a list of Reply, one per request.

    A `jid` without a local part and an empty password log in with SASL ANONYMOUS (RFC 4505), as
    Jitsi's web clients do; `component=True` connects as an external component (XEP-0114) whose
    secret is `password`. `bound`, a list, receives the JID the server gave the session."""
    job = {"port": port, "jid": jid, "password": password, "requests": requests, "component": component}
    p = subprocess.run([SYSTEM_PYTHON, os.path.abspath(__file__)], input=json.dumps(job),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    try:
        answer = json.loads(p.stdout)
    except ValueError:
        raise RuntimeError("the XMPP client failed (exit %d):\n%s%s" % (p.returncode, p.stdout, p.stderr[-3000:]))
    if answer.get("error"):
        raise RuntimeError("the XMPP client could not do its job: %s\n%s" % (answer["error"], p.stderr[-3000:]))
    if bound is not None:
        bound.append(answer.get("jid"))
    return [Reply(r) for r in answer["replies"]]


class Reply:
    """One IQ answer: .type ("result", "error" or "timeout"), .xml and the parsed .element."""

    def __init__(self, raw):
        self.type = raw["type"]
        self.xml = raw.get("xml", "")
        self.element = ET.fromstring(self.xml) if self.xml else None

    def payload(self):
        """The first child of the <iq/> (the <services/>, <credentials/> or <error/>)."""
        return self.element[0] if self.element is not None and len(self.element) else None

    def services(self):
        """The <service/> children as a list of attribute dicts."""
        p = self.payload()
        return [dict(s.attrib) for s in p] if p is not None else []

    def error(self):
        """(error type, condition, text) of an error reply."""
        # slixmpp writes the <iq/> with or without the jabber:client default namespace.
        err = next((c for c in self.element if c.tag.split("}")[-1] == "error"), None)
        if err is None:
            return None
        condition = next((c.tag.split("}")[1] for c in err if c.tag != "{%s}text" % STANZAS), None)
        text = err.find("{%s}text" % STANZAS)
        return err.get("type"), condition, text.text if text is not None else None

    def __repr__(self):
        return "<%s %s>" % (self.type, self.xml)


def _connect_plain(client, host, port):
    """Connect without TLS, in the API of the installed slixmpp.

    slixmpp 1.8 (Debian 12) takes connect(address, use_ssl, force_starttls, disable_starttls);
    1.10 (Debian 13) dropped those arguments for connect(host, port) and the attributes
    enable_direct_tls, enable_starttls and enable_plaintext."""
    import inspect
    if "use_ssl" in inspect.signature(client.connect).parameters:
        client.connect((host, port), use_ssl=False, force_starttls=False, disable_starttls=True)
        return
    client.enable_direct_tls = False
    client.enable_starttls = False
    client.enable_plaintext = True
    client.connect(host, port)


def _run(job):
    import asyncio
    import slixmpp
    from slixmpp.exceptions import IqError, IqTimeout

    replies = []
    problems = []

    base = slixmpp.ComponentXMPP if job.get("component") else slixmpp.ClientXMPP
    bound = []

    class Client(base):
        def __init__(self):
            if job.get("component"):
                super().__init__(job["jid"], job["password"], "127.0.0.1", job["port"])
            else:
                super().__init__(job["jid"], job["password"])
            self.add_event_handler("session_start", self.on_session)
            self.add_event_handler("failed_auth", lambda _: self.give_up("authentication failed"))
            self.add_event_handler("connection_failed", lambda e: self.give_up("cannot connect: %s" % e))

        def give_up(self, why):
            problems.append(why)
            self.disconnect()

        async def on_session(self, _):
            bound.append(str(self.boundjid))
            try:
                for r in job["requests"]:
                    iq = self.make_iq(ito=r.get("to"), itype=r.get("type", "get"),
                                      ifrom=self.boundjid if job.get("component") else None)
                    iq.append(ET.fromstring(r["xml"]))
                    try:
                        reply = await iq.send(timeout=10)
                        replies.append({"type": reply["type"], "xml": str(reply)})
                    except IqError as e:
                        replies.append({"type": "error", "xml": str(e.iq)})
                    except IqTimeout:
                        replies.append({"type": "timeout"})
            finally:
                self.disconnect()

    client = Client()
    if job.get("component"):
        client.connect("127.0.0.1", job["port"])
    else:
        client["feature_mechanisms"].unencrypted_plain = True
        _connect_plain(client, "127.0.0.1", job["port"])
    try:
        client.loop.run_until_complete(asyncio.wait_for(client.disconnected, 25))
    except asyncio.TimeoutError:
        problems.append("no session within 25 s")
    if problems:
        return {"error": "; ".join(problems), "replies": replies}
    return {"replies": replies, "jid": bound[0] if bound else None}


if __name__ == "__main__":
    try:
        import slixmpp  # noqa: F401
    except ImportError:
        print(json.dumps({"error": "python3-slixmpp is not installed for %s (make test-deps installs it)"
                          % sys.executable}))
        sys.exit(1)
    print(json.dumps(_run(json.loads(sys.stdin.read()))))
