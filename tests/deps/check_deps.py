#!/usr/bin/python3
"""Checks that the base profile of scripts/setup.sh installs everything the tests and the demo
use, so that the README's two commands pass on a fresh Debian 12 machine:
- every Python file the tests and the demo run (and the local modules they import) is parsed
  with ast; each imported module must be in the standard library, a local module, or importable
  by /usr/bin/python3 from a file that a package of the base profile (or its dependencies)
  installed;
- every external program the tests run is listed in tests/deps/programs.txt, and each listed
  program is installed by such a package.
"What the base profile installs" is the closure of the packages named in setup.sh (without a
profile) and the packages every Debian system has (Essential or Priority required, what
`debootstrap --variant=minbase` installs), over their Depends and Pre-Depends.
usage: check_deps.py SOURCE_DIR"""
import ast
import glob
import importlib.util
import os
import re
import shutil
import subprocess
import sys

# Debian's own PATH: what a fresh machine has (no /usr/local, no per-user shims)
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
SHELL_BUILTINS = {"cd", "test", "echo", "printf", "exit", "true", "false", "set", "export",
                  "[", "exec", "read", "wait", "kill", "trap"}


def base_packages(setup_sh):
    text = open(setup_sh).read()
    m = re.search(r"^packages=\((.*?)^\)", text, re.S | re.M)
    if not m:
        sys.exit(f"{setup_sh}: no packages=( ... ) array")
    names = []
    for line in m.group(1).splitlines():
        names += line.split("#", 1)[0].split()
    return names


def installed_closure(roots):
    """Installed packages reachable from roots (and from the Essential/required ones)."""
    out = subprocess.run(
        ["dpkg-query", "-W", "-f",
         "${Package}\t${db:Status-Abbrev}\t${Essential}\t${Priority}\t${Depends}\t"
         "${Pre-Depends}\t${Provides}\n"],
        capture_output=True, text=True, check=True).stdout
    deps, provides, installed, seeds = {}, {}, set(), set(roots)
    for line in out.splitlines():
        pkg, status, essential, prio, dep, pre, prov = (line.split("\t") + [""] * 7)[:7]
        if not status.startswith("ii"):
            continue
        installed.add(pkg)
        if essential == "yes" or prio == "required":
            seeds.add(pkg)
        deps[pkg] = [d for d in (dep + "," + pre).split(",") if d.strip()]
        for p in prov.split(","):
            if p.strip():
                provides.setdefault(p.split("(")[0].strip(), []).append(pkg)
    missing = [r for r in roots if r not in installed]
    if missing:
        sys.exit(f"packages of the base profile are not installed: {' '.join(missing)} "
                 "(run scripts/setup.sh)")
    seen, todo = set(), list(seeds)
    while todo:
        p = todo.pop()
        if p in seen or p not in installed:
            continue
        seen.add(p)
        for d in deps.get(p, []):
            for alt in d.split("|"):
                name = alt.split("(")[0].split(":")[0].strip()
                for cand in [name] + provides.get(name, []):
                    if cand in installed:
                        todo.append(cand)
    return seen


def owner(path):
    """The package that installed path (trying the merged-/usr aliases), or None."""
    cands = {path, os.path.realpath(path)}
    for c in list(cands):
        if c.startswith("/usr/"):
            cands.add(c[4:])
        elif c.startswith(("/bin/", "/sbin/", "/lib")):
            cands.add("/usr" + c)
    for c in sorted(cands):
        r = subprocess.run(["dpkg", "-S", c], capture_output=True, text=True)
        # "diversion by P from/to: ..." lines (moreutils and parallel both ship
        # /usr/bin/parallel) name no owner: the owner is on the "package: path" line
        lines = [l for l in r.stdout.splitlines() if not l.startswith("diversion by ")]
        if r.returncode == 0 and lines:
            return lines[0].split(":")[0].split(",")[0].strip()
    return None


def python_files(src):
    files = glob.glob(f"{src}/tests/**/*.py", recursive=True) + glob.glob(f"{src}/demo/*.py")
    return sorted(f for f in files if "/data/tflm/gen/" not in f)


def imports_of(path):
    tree = ast.parse(open(path).read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], node.lineno


def module_origin(mod):
    """Where /usr/bin/python3 finds mod (the interpreter the tests and demo use)."""
    r = subprocess.run(["/usr/bin/python3", "-c",
                        "import importlib.util,sys; s=importlib.util.find_spec(sys.argv[1]); "
                        "print(s.origin or (s.submodule_search_locations or [''])[0])", mod],
                       capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def stdlib_names():
    r = subprocess.run(["/usr/bin/python3", "-c",
                        "import sys; print(' '.join(sorted(sys.stdlib_module_names)))"],
                       capture_output=True, text=True, check=True)
    return set(r.stdout.split())


def c_string_commands(text):
    """Program names that start a shell command inside the C string literals that look like
    shell commands (they quote an argument, redirect, pipe, chain, substitute or pass an
    option), and programs named by /usr/bin/ paths."""
    names = set()
    shellish = re.compile(r"'%s'|\\\"%s\\\"| [>|] |&&|2>|\$\(| -[a-zA-Z-]")
    for lit in re.findall(r'"((?:[^"\\\n]|\\.)*)"', text):
        names.update(re.findall(r"/usr/bin/([a-z0-9_.+-]+)", lit))
        if not shellish.search(lit):
            continue
        for m in re.finditer(r"(?:^|&&|\|\||[|;]|\$\()\s*([a-z][a-z0-9_.+-]*)(?=\s)", lit):
            names.add(m.group(1))
    return names


def main():
    src = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
    allowed = installed_closure(base_packages(f"{src}/scripts/setup.sh"))
    problems = []
    stdlib = stdlib_names()

    # Python imports
    todo, done, checked = python_files(src), set(), {}
    while todo:
        f = todo.pop()
        if f in done:
            continue
        done.add(f)
        here = os.path.dirname(f)
        for mod, line in imports_of(f):
            where = f"{os.path.relpath(f, src)}:{line}"
            local = os.path.join(here, mod + ".py")
            if os.path.exists(local):
                todo.append(local)
                continue
            if mod in stdlib:
                continue
            if mod not in checked:
                origin = module_origin(mod)
                pkg = owner(origin) if origin else None
                checked[mod] = (origin, pkg)
            origin, pkg = checked[mod]
            if not origin:
                problems.append(f"{where}: module '{mod}' is not importable by /usr/bin/python3")
            elif pkg is None:
                problems.append(f"{where}: module '{mod}' ({origin}) comes from no Debian package")
            elif pkg not in allowed:
                problems.append(f"{where}: module '{mod}' comes from package {pkg}, which the "
                                "base profile of scripts/setup.sh does not install")

    # external programs
    listed = set()
    for line in open(f"{src}/tests/deps/programs.txt"):
        line = line.split("#", 1)[0].strip()
        if line:
            listed.add(line)
    for prog in sorted(listed):
        path = shutil.which(prog, path=SYSTEM_PATH)
        pkg = owner(path) if path else None
        if not path:
            problems.append(f"programs.txt: {prog} is not installed")
        elif pkg not in allowed:
            problems.append(f"programs.txt: {prog} ({path}, package {pkg}) is not installed by "
                            "the base profile of scripts/setup.sh")
    used = {}
    for f in sorted(glob.glob(f"{src}/tests/**/*.c", recursive=True)):
        for name in c_string_commands(open(f, errors="replace").read()):
            if name not in SHELL_BUILTINS and shutil.which(name, path=SYSTEM_PATH):
                used.setdefault(name, os.path.relpath(f, src))
    for name, f in sorted(used.items()):
        if name not in listed:
            problems.append(f"{f} runs '{name}', which tests/deps/programs.txt does not list")

    for p in problems:
        print(p)
    n_py = len(done)
    print(f"{n_py} Python files, {len(checked)} third-party modules, {len(listed)} programs: "
          f"{len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
