"""Runs tests/browser/webrtc_pair.mjs (headless Debian Chromium driven by playwright-core) and
returns what it found.

The Node side is installed by the project's own files: `make test-deps` runs `npm ci` in
tests/browser (package.json + package-lock.json); Chromium comes from Debian's `chromium` package.
"""
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time

from . import harness

BROWSER_DIR = os.path.join(harness.SOURCE, "tests", "browser")
DRIVER = os.path.join(BROWSER_DIR, "webrtc_pair.mjs")
LAUNCHER = os.path.join(BROWSER_DIR, "chromium-launcher.sh")
CHROMIUM = "/usr/bin/chromium"
MIN_NODE = 20  # playwright-core's engines field


def node():
    """The Node.js that runs the driver: the one install-npm-deps.sh fetched into
    tests/browser/.runtime when the machine has no Node.js >= 20, else the one on PATH."""
    fetched = os.path.join(BROWSER_DIR, ".runtime", "bin", "node")
    return fetched if os.access(fetched, os.X_OK) else "node"


def require_browser_stack():
    """Missing pieces are failures with the fix, not skips: `make test` installs all of them."""
    harness.require("ip", "nft", "certutil", "openssl")
    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError("%s missing: Debian package chromium (run `make test-deps`)" % CHROMIUM)
    if not shutil.which(node()):
        raise RuntimeError("node missing: run `make test-deps` (tests/tools/install-npm-deps.sh)")
    version = subprocess.run([node(), "--version"], stdout=subprocess.PIPE, text=True).stdout.strip()
    m = re.match(r"v(\d+)\.", version)
    if not m or int(m.group(1)) < MIN_NODE:
        raise RuntimeError("node %s is too old: playwright-core needs Node.js >= %d" % (version, MIN_NODE))
    if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        raise RuntimeError("playwright-core is not installed: run `make test-deps` (npm ci in tests/browser)")


RUN_VAR = "TURNPIKE_BROWSER_RUN"  # set in the driver's environment; every browser process inherits it


def _pids_with(marker):
    """The processes started for this run: those whose environment has RUN_VAR=marker (the driver
    and each browser's main process), and all their descendants (Chromium's zygotes, renderers
    and helpers overwrite their environment block with their process title, so they are found
    through their parents)."""
    needle = ("%s=%s" % (RUN_VAR, marker)).encode()
    roots, children = [], {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
            with open("/proc/%s/environ" % entry, "rb") as f:
                if needle in f.read().split(b"\0"):
                    roots.append(int(entry))
        except (OSError, ValueError, IndexError):
            pass
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return sorted(found)


def kill_leftovers(marker):
    """Stops, by pid, every process of this run that outlived the driver; returns survivors."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = _pids_with(marker)
        if not pids:
            return []
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        time.sleep(0.5)
    return _pids_with(marker)


class DriverResult:
    def __init__(self, returncode, result, stderr):
        self.returncode = returncode
        self.ok = bool(result.get("ok")) and returncode == 0
        self.error = result.get("error")
        self.browsers = result.get("browsers", {})
        self.ms = result.get("ms", {})
        self.stderr = stderr
        self.raw = result

    def __repr__(self):
        return "<webrtc_pair rc=%s>\n%s\n--- driver stderr ---\n%s" % (
            self.returncode, json.dumps(self.raw, indent=1), self.stderr[-4000:])


def _run_node(script, config, config_path, log_path, timeout_s):
    """Runs a driver script with its JSON config; returns (exit status, its last JSON line, its
    stderr). Never leaves a browser running."""
    with open(config_path, "w") as f:
        json.dump(config, f, indent=1)
    marker = secrets.token_hex(8)
    env = dict(os.environ, TURNPIKE_CHROMIUM=CHROMIUM, **{RUN_VAR: marker})
    proc = subprocess.Popen([node(), script, config_path], cwd=BROWSER_DIR, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        # The driver has its own deadline; this one only catches a hung driver.
        out, err = proc.communicate(timeout=timeout_s + 20)
    except subprocess.TimeoutExpired:
        # SIGTERM lets playwright-core close the browsers it launched.
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        err += "\n[driver killed after %ds]" % (timeout_s + 20)
    finally:
        left = kill_leftovers(marker)
        if left:
            raise RuntimeError("browser processes %s survived SIGKILL" % left)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if lines else {"ok": False, "error": "driver printed no result"}
    with open(log_path, "w") as f:
        f.write(err)
    return proc.returncode, result, err


def run_driver(workdir, browsers, timeout_s=40, messages=10, webrtc=True):
    """browsers: list of dicts {name, home, netns, ice_servers, https_probe?}; each gets a fresh
    --user-data-dir under workdir. Returns a DriverResult; never leaves a browser running."""
    for b in browsers:
        b.setdefault("profile", os.path.join(workdir, "profile-" + b["name"]))
        b.setdefault("netns", None)
        b.setdefault("ice_servers", [])
    config = {"launcher": LAUNCHER, "timeout_ms": int(timeout_s * 1000), "messages": messages,
              "webrtc": webrtc, "browsers": browsers}
    rc, result, err = _run_node(DRIVER, config, os.path.join(workdir, "webrtc_pair.json"),
                                os.path.join(workdir, "webrtc_pair.log"), timeout_s)
    return DriverResult(rc, result, err)


CHECK_DRIVER = os.path.join(BROWSER_DIR, "check_page.mjs")


def run_check_page(workdir, url, home, netns=None, screenshot=None, timeout_s=60):
    """One browser opens a check link and runs the page to its end (tests/browser/check_page.mjs);
    returns its report: {ok, error, user_agent, state, result, page_text}. The screenshot of the
    finished page goes to `screenshot` (default: WORKDIR/check-page.png)."""
    config = {"launcher": LAUNCHER, "timeout_ms": int(timeout_s * 1000), "url": url, "home": home,
              "profile": os.path.join(workdir, "profile-check"), "netns": netns,
              "screenshot": screenshot or os.path.join(workdir, "check-page.png")}
    rc, result, err = _run_node(CHECK_DRIVER, config, os.path.join(workdir, "check_page.json"),
                                os.path.join(workdir, "check_page.log"), timeout_s)
    result["returncode"] = rc
    result["stderr"] = err[-3000:]
    return result
