#!/usr/bin/env python3
"""Builds turnpike the ways its users and Debian build it, so that none of them breaks unseen.

  Release, MinSizeRel   the standard CMake build types (-O3, -Os) with -Werror
                        (TURNPIKE_WERROR=ON): optimiser-only warnings such as GCC 12's
                        -Wrestrict show only there.
  clang                 CC=clang CXX=clang++ with -Werror.
  dpkg-buildflags       what debhelper's cmake build system does: CMAKE_BUILD_TYPE=None, the
                        flags of `DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags` in the
                        environment (CPPFLAGS appended to CFLAGS/CXXFLAGS, as debhelper does
                        because CMake ignores CPPFLAGS) and TURNPIKE_WERROR left OFF. Checks
                        that every flag reaches every compile (compile_commands.json) and every
                        link (each target's link.txt), then that the installed programs and the
                        Lua module are PIE, full RELRO + BIND_NOW, stack-protected and fortified
                        (readelf, the checks hardening-check makes).

Each variant builds in <build>/variants/<name> (kept, so a rerun is incremental) through ccache
when it is installed, with -j TURNPIKE_BUILD_JOBS (default 2) at low priority. Release,
MinSizeRel and clang build what is installed plus the unit tests (the code most exposed to
compiler differences); the benchmark tools are left to `make bench`.
"""
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import time

SKIP = 77
BUILD = pathlib.Path(os.environ["TURNPIKE_BUILD"])
SOURCE = pathlib.Path(os.environ["TURNPIKE_SOURCE"])
JOBS = os.environ.get("TURNPIKE_BUILD_JOBS", "2")
# What `cmake --install` puts on a system, and the unit tests.
PRODUCT_TARGETS = ["turnpike", "turnpike-admin", "turnpike_lua"]
UNIT_TARGETS = ["unit-and-fuzz"]


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def run(argv, env=None, cwd=None):
    print("+ " + " ".join(shlex.quote(a) for a in argv), flush=True)
    started = time.monotonic()
    proc = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    if proc.returncode != 0:
        # The whole output: the warning that stopped the build is what the reader needs.
        print(proc.stdout)
        fail(f"{argv[0]} exited {proc.returncode}")
    print(f"  ({time.monotonic() - started:.0f} s)", flush=True)
    return proc.stdout


def launcher_flags():
    if shutil.which("ccache"):
        # Paths inside the checkout are hashed relative to it, and the working directory not at
        # all: a fresh clone elsewhere (CI) still finds what an earlier run compiled.
        os.environ.setdefault("CCACHE_BASEDIR", str(SOURCE))
        os.environ.setdefault("CCACHE_NOHASHDIR", "1")
        return ["-DCMAKE_C_COMPILER_LAUNCHER=ccache", "-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"]
    print("note: ccache is not installed; building without it")
    return []


def configure_and_build(name, cmake_args, env, targets):
    out = BUILD / "variants" / name
    launcher = launcher_flags()
    env = dict(env, **{k: v for k, v in os.environ.items() if k.startswith("CCACHE_")})
    run(["cmake", "-S", str(SOURCE), "-B", str(out)] + launcher + cmake_args, env=env)
    run(["nice", "cmake", "--build", str(out), "-j", JOBS, "--target"] + targets, env=env)
    return out


def warnings_in(output):
    return [line for line in output.splitlines() if "warning:" in line]


def build_type_variant(name, build_type):
    env = dict(os.environ)
    configure_and_build(name, [f"-DCMAKE_BUILD_TYPE={build_type}", "-DTURNPIKE_WERROR=ON"], env,
                        PRODUCT_TARGETS + UNIT_TARGETS)
    print(f"ok: {build_type} builds with -Werror")


def clang_variant():
    if not shutil.which("clang") or not shutil.which("clang++"):
        print("SKIP: clang is not installed")
        sys.exit(SKIP)
    env = dict(os.environ, CC="clang", CXX="clang++")
    out = configure_and_build("clang", ["-DTURNPIKE_WERROR=ON"], env, PRODUCT_TARGETS + UNIT_TARGETS)
    cache = (out / "CMakeCache.txt").read_text()
    compiler = re.search(r"^CMAKE_CXX_COMPILER:\w+=(.*)$", cache, re.M).group(1)
    if "clang" not in compiler:
        fail(f"the clang variant was configured with {compiler}")
    print(f"ok: {compiler} builds with -Werror")


def buildflags():
    if not shutil.which("dpkg-buildflags"):
        print("SKIP: dpkg-buildflags (dpkg-dev) is not installed")
        sys.exit(SKIP)
    env = dict(os.environ, DEB_BUILD_MAINT_OPTIONS="hardening=+all")
    flags = {}
    for var in ("CFLAGS", "CXXFLAGS", "CPPFLAGS", "LDFLAGS"):
        # From the source tree, as debhelper runs it (-ffile-prefix-map names that directory).
        flags[var] = subprocess.run(["dpkg-buildflags", "--get", var], env=env, check=True,
                                    cwd=SOURCE, stdout=subprocess.PIPE, text=True).stdout.strip()
    return flags


def check_elf(path, want_fortify):
    """The checks of devscripts' hardening-check, made with readelf."""
    header = run(["readelf", "-W", "--file-header", "--program-headers", "--dynamic", str(path)])
    symbols = run(["readelf", "-W", "--dyn-syms", str(path)])
    problems = []
    if not re.search(r"Type:\s+DYN", header):
        problems.append("not position independent (ELF type is not DYN)")
    if "GNU_RELRO" not in header:
        problems.append("no GNU_RELRO segment (-z relro)")
    if not re.search(r"\(FLAGS\).*BIND_NOW|\(FLAGS_1\).*NOW|\(BIND_NOW\)", header):
        problems.append("not BIND_NOW (-z now)")
    if "__stack_chk_fail" not in symbols:
        problems.append("no stack protector (__stack_chk_fail is not referenced)")
    if want_fortify and not re.search(r"\b__\w+_chk\b", symbols.replace("__stack_chk_fail", "")):
        problems.append("not fortified (no __*_chk function is referenced)")
    return problems


def dpkg_buildflags_variant():
    flags = buildflags()
    print("dpkg-buildflags (hardening=+all):")
    for var, value in flags.items():
        print(f"  {var}={value}")
    env = dict(os.environ)
    # debhelper's cmake build system: CMake ignores CPPFLAGS, so they go to CFLAGS and CXXFLAGS.
    env["CFLAGS"] = flags["CFLAGS"] + " " + flags["CPPFLAGS"]
    env["CXXFLAGS"] = flags["CXXFLAGS"] + " " + flags["CPPFLAGS"]
    env["LDFLAGS"] = flags["LDFLAGS"]
    env.pop("CC", None)
    env.pop("CXX", None)
    out = BUILD / "variants" / "dpkg-buildflags"
    # Flags come from the environment only when a build tree is configured the first time.
    if (out / "CMakeCache.txt").exists():
        (out / "CMakeCache.txt").unlink()
    out = configure_and_build("dpkg-buildflags",
                              ["-DCMAKE_BUILD_TYPE=None", "-DCMAKE_INSTALL_PREFIX=/usr",
                               "-DCMAKE_INSTALL_SYSCONFDIR=/etc", "-DCMAKE_INSTALL_LOCALSTATEDIR=/var"],
                              env, PRODUCT_TARGETS)
    cache = (out / "CMakeCache.txt").read_text()
    if re.search(r"^TURNPIKE_WERROR:BOOL=ON$", cache, re.M):
        fail("TURNPIKE_WERROR is ON by default: a package build would fail on a new warning")

    # Every compile of every target, C and C++, carries every flag.
    compile_tokens = {".c": shlex.split(env["CFLAGS"]), ".cc": shlex.split(env["CXXFLAGS"])}
    commands = json.loads((out / "compile_commands.json").read_text())
    missing = []
    for entry in commands:
        suffix = pathlib.Path(entry["file"]).suffix
        want = compile_tokens.get(suffix if suffix == ".c" else ".cc")
        have = shlex.split(entry["command"]) if "command" in entry else entry["arguments"]
        absent = [t for t in want if t not in have]
        if absent:
            missing.append(f"{entry['file']}: {' '.join(absent)}")
    if not commands:
        fail("compile_commands.json is empty")
    if missing:
        fail("compiles without the Debian flags:\n  " + "\n  ".join(missing))
    print(f"ok: all {len(commands)} compiles carry CFLAGS/CXXFLAGS/CPPFLAGS")

    # Every linked target (programs, shared objects) carries LDFLAGS.
    ld_tokens = shlex.split(env["LDFLAGS"])
    links = sorted(out.glob("**/CMakeFiles/*.dir/link.txt"))
    linked = 0
    for link in links:
        text = link.read_text()
        if re.match(r"\S*(ar|ranlib)\b", text.split()[0] if text.split() else ""):
            continue  # a static library is archived, not linked
        linked += 1
        absent = [t for t in ld_tokens if t not in shlex.split(text.replace("\n", " "))]
        if absent:
            missing.append(f"{link.parent.name}: {' '.join(absent)}")
    if linked == 0:
        fail("no linked target found")
    if missing:
        fail("links without LDFLAGS:\n  " + "\n  ".join(missing))
    print(f"ok: all {linked} linked targets carry LDFLAGS")

    problems = []
    for path, fortify in ((out / "bin" / "turnpike", True), (out / "bin" / "turnpike-admin", True),
                          (out / "lib" / "turnpike.so", False)):
        if not path.exists():
            fail(f"{path} was not built")
        for p in check_elf(path, fortify):
            problems.append(f"{path.name}: {p}")
    if problems:
        fail("hardening:\n  " + "\n  ".join(problems))
    print("ok: turnpike, turnpike-admin and turnpike.so are PIE, RELRO, BIND_NOW, "
          "stack-protected (the programs fortified too)")


def main():
    variant = sys.argv[1]
    started = time.monotonic()
    if variant in ("Release", "MinSizeRel"):
        build_type_variant(variant, variant)
    elif variant == "clang":
        clang_variant()
    elif variant == "dpkg-buildflags":
        dpkg_buildflags_variant()
    else:
        fail(f"unknown variant {variant}")
    print(f"build.{variant}: {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
