#!/usr/bin/env python3
"""Every C++ source and header includes the standard headers whose names it uses.

A header that got uint8_t through <string> built on Debian 12 (GCC 12) and stopped the build on
Debian 13 (GCC 14's library no longer includes <cstdint> there). This is a cheap, conservative
stand-in for include-what-you-use (Debian's `iwyu`, which needs minutes): it knows the names
below and their headers, ignores comments and string literals, and lets a .cc rely on what its
own header (same stem) includes, as include-what-you-use does.

  check_includes.py --root DIR      checks every *.h/*.cc that git (or a walk) finds under DIR
  check_includes.py FILE...         checks those files
"""
import pathlib
import re
import subprocess
import sys

# name pattern -> the standard header that declares it
NAMES = {
    r"\b(?:std::)?u?int(?:8|16|32|64)_t\b|\bu?intptr_t\b|\bU?INT(?:8|16|32|64)_MAX\b": "cstdint",
    r"\bstd::string\b|\bstd::to_string\b": "string",
    r"\bstd::string_view\b": "string_view",
    r"\bstd::vector\b": "vector",
    r"\bstd::optional\b|\bstd::nullopt\b": "optional",
    r"\bstd::span\b": "span",
    r"\bstd::array\b": "array",
    r"\bstd::(?:unique_ptr|shared_ptr|make_unique|make_shared|weak_ptr)\b": "memory",
    r"\bstd::function\b": "functional",
    r"\bstd::(?:memcpy|memset|memcmp|memmove|strlen)\b": "cstring",
    r"\bstd::(?:move|forward|pair|exchange|swap)\b": "utility",
    r"\bstd::atomic\b": "atomic",
    r"\bstd::map\b": "map",
    r"\bstd::unordered_map\b": "unordered_map",
    r"\bstd::chrono\b": "chrono",
    r"\bstd::variant\b": "variant",
    r"\bstd::(?:min|max|copy|fill|find|sort)\b": "algorithm",
}
# The standard declares std::move/swap/pair in <utility> and requires these to include it.
INCLUDES_UTILITY = {"string", "vector", "memory", "optional", "map", "unordered_map",
                    "functional", "algorithm", "array", "variant"}
C_EQUIVALENT = {"cstdint": "stdint.h", "cstring": "string.h"}


def strip(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'R"(\w*)\(.*?\)\1"', '""', text, flags=re.S)
    return re.sub(r'"(?:\\.|[^"\\\n])*"', '""', text)


def system_includes(text):
    return set(re.findall(r"#include\s*<([^>]+)>", text))


def own_header(path, root):
    for inc in re.findall(r'#include\s*"([^"]+\.h)"', path.read_text()):
        if pathlib.PurePath(inc).stem == path.stem:
            for base in (path.parent, root / "server", root):
                if (base / inc).exists():
                    return base / inc
    return None


def check(path, root):
    text = path.read_text()
    have = system_includes(text)
    if path.suffix == ".cc":
        header = own_header(path, root)
        if header:
            have |= system_includes(header.read_text())
    body = strip(text)
    problems = []
    for pattern, header in NAMES.items():
        if header in have or C_EQUIVALENT.get(header) in have:
            continue
        if header == "utility" and have & INCLUDES_UTILITY:
            continue
        match = re.search(pattern, body)
        if match:
            line = body.count("\n", 0, match.start()) + 1
            problems.append(f"{path}:{line}: uses {match.group(0)} but does not include <{header}>")
    return problems


def files_under(root):
    try:
        listed = subprocess.run(["git", "-C", str(root), "ls-files", "*.h", "*.cc"], check=True,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
        return [root / f for f in listed.split()]
    except (subprocess.CalledProcessError, FileNotFoundError):
        # Without git (a copy of the tree): skip what git would not list, build directories,
        # hidden ones (tests/browser/.runtime holds Node.js's own headers) and node_modules.
        def ours(p):
            parts = p.relative_to(root).parts
            return not (parts[0].startswith("build") or "node_modules" in parts
                        or any(part.startswith(".") for part in parts))
        return sorted(p for p in root.rglob("*") if p.suffix in (".h", ".cc") and ours(p))


def main(argv):
    if argv[:1] == ["--root"]:
        root = pathlib.Path(argv[1]).resolve()
        paths = files_under(root)
    else:
        root = pathlib.Path(".").resolve()
        paths = [pathlib.Path(a) for a in argv]
    problems = []
    for path in paths:
        problems += check(path, root)
    for p in problems:
        print(p)
    print(f"{len(paths)} files checked, {len(problems)} missing includes")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
