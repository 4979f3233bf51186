#!/usr/bin/env python3
"""The manual pages (server/man) say what the programs on this build really have:

- turnpike(8): every signal the daemon handles (server/net/signal_loop.cc) and every option of
  `turnpike --help` as a pointer into turnpike.conf(5), where each has an entry (the options
  table itself is checked by config_tests.ManPage.*);
- turnpike-admin(1): a subsection for every command of `turnpike-admin --help`;
- all three format without a warning (groff -ww, as lintian's manpage checks do) and
  `cmake --install` puts them in man8, man1 and man5.
"""
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

BUILD = pathlib.Path(os.environ["TURNPIKE_BUILD"])
SOURCE = pathlib.Path(os.environ["TURNPIKE_SOURCE"])
MAN = SOURCE / "server" / "man"
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def unroff(text):
    return text.replace("\\-", "-").replace("\\fB", "").replace("\\fR", "").replace("\\fI", "")


def main():
    turnpike = BUILD / "bin" / "turnpike"
    admin = BUILD / "bin" / "turnpike-admin"
    for program in (turnpike, admin):
        if not program.exists():
            print(f"FAIL: {program} is not built")
            return 1

    conf = unroff((MAN / "turnpike.conf.5").read_text())
    help_text = subprocess.run([turnpike, "--help"], check=True, stdout=subprocess.PIPE,
                               text=True).stdout
    options = re.findall(r"^  --([A-Za-z0-9-]+)", help_text, re.M)
    check(len(options) > 50, f"turnpike --help lists only {len(options)} options")
    for name in options:
        check(re.search(r"^%s(=VALUE)?$" % re.escape(name), conf, re.M),
              f"turnpike.conf(5) has no entry for --{name} of turnpike --help")

    daemon = unroff((MAN / "turnpike.8").read_text())
    signals = set(re.findall(r"\bSIG[A-Z0-9]+\b",
                             (SOURCE / "server" / "net" / "signal_loop.cc").read_text()))
    signals.discard("SIG_BLOCK")
    signals.discard("SIG_SETMASK")
    signals.discard("SIG_IGN")
    check(len(signals) >= 4, f"signals found in signal_loop.cc: {sorted(signals)}")
    section = daemon.split(".SH SIGNALS", 1)[-1].split(".SH ", 1)[0]
    for sig in sorted(signals):
        check(sig in section, f"turnpike(8) SIGNALS does not name {sig}")
    for field in ("READY=1", "RELOADING=1", "STATUS=", "STOPPING=1"):
        check(field in daemon, f"turnpike(8) does not describe {field}")

    admin_page = unroff((MAN / "turnpike-admin.1").read_text())
    usage = subprocess.run([admin, "--help"], check=True, stdout=subprocess.PIPE, text=True).stdout
    commands = re.findall(r"^  ([a-z][a-z-]*(?: generate)?)\b", usage, re.M)
    check(len(commands) >= 8, f"turnpike-admin --help lists only {commands}")
    for command in commands:
        check(re.search(r'^\.SS "%s\b' % re.escape(command), admin_page, re.M),
              f"turnpike-admin(1) has no subsection for '{command}'")

    groff = shutil.which("groff")
    if not groff:
        print("FAIL: groff (groff-base) is not installed")
        return 1
    for page in ("turnpike.8", "turnpike-admin.1", "turnpike.conf.5"):
        proc = subprocess.run([groff, "-man", "-ww", "-z", "-t", str(MAN / page)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        check(proc.returncode == 0 and not proc.stdout.strip(),
              f"groff warns about {page}:\n{proc.stdout}")

    with tempfile.TemporaryDirectory(prefix="turnpike-man-") as dest:
        subprocess.run(["cmake", "--install", str(BUILD), "--prefix", dest], check=True,
                       stdout=subprocess.DEVNULL)
        for rel in ("share/man/man8/turnpike.8", "share/man/man1/turnpike-admin.1",
                    "share/man/man5/turnpike.conf.5"):
            check((pathlib.Path(dest) / rel).exists(), f"cmake --install does not install {rel}")

    for f in failures:
        print("FAIL: " + f)
    if failures:
        return 1
    print(f"ok: {len(options)} options, {len(signals)} signals, {len(commands)} commands documented; "
          "no groff warning; installed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
