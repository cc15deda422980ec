"""The static probe's script: run by the image's own interpreter, inside the image, with `-c`.

It is sent as text (never imported by inspector itself) after a line `PARAMS = {...}`, and prints
a STARTED line as soon as it runs, then one line: MARKER, this run's nonce and a JSON document,
after which it exits at once. Because it runs on images we do not control, it is
written for every CPython from 3.6 on, imports only the standard library, imports nothing from the
image's working directory (it drops the cwd from sys.path before any import), never executes the
application, and reports each part it could not measure instead of failing as a whole.
"""

import sys

# `python -c` puts the working directory first on sys.path: an app module called `json` or
# `platform` there would run instead of the stdlib one. Drop it before importing anything.
sys.path[:] = [p for p in sys.path if p not in ("", ".")]

import json  # noqa: E402
import os  # noqa: E402
import stat  # noqa: E402

MARKER = "@@inspector-static-probe@@"
STARTED = "@@inspector-static-probe-started@@"
PARAMS = globals().get("PARAMS") or {}
NONCE = PARAMS.get("nonce") or ""
ERRORS = []
# Tells inspector the interpreter's own start-up (sitecustomize, .pth files) is over.
sys.stdout.write(STARTED + NONCE + "\n")
sys.stdout.flush()


def cut(text, limit):
    """`text` in at most about `limit` characters, cut at a space: inspector masks the
    credentials it recognises in what we report, and half a credential is not recognisable."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    space = max(head.rfind(" "), head.rfind("\n"))
    return (head[:space] if space > 0 else "") + " ..."


def attempt(name, function, default=None):
    try:
        return function()
    except Exception as exc:  # the probe reports what failed rather than dying
        ERRORS.append(cut(f"{name}: {type(exc).__name__}: {exc}", 1000))
        return default


def identity():
    uid, gid = os.getuid(), os.getgid()
    out = {
        "uid": uid,
        "gid": gid,
        "euid": os.geteuid(),
        "egid": os.getegid(),
        "groups": sorted(set(os.getgroups())),
        "user_name": None,
        "passwd_entry": False,
        "passwd_home": None,
        "home": os.environ.get("HOME"),
        "cwd": attempt("cwd", os.getcwd),
    }
    try:
        import pwd

        entry = pwd.getpwuid(uid)
        out.update(user_name=entry.pw_name, passwd_entry=True, passwd_home=entry.pw_dir)
    except KeyError:
        pass  # a numeric USER with no passwd entry: exactly what we want to record
    return out


def interpreter():
    import faulthandler
    import platform

    flags = sys.flags
    stdout = sys.stdout
    return {
        "python_version": platform.python_version(),
        "sys_version": sys.version,
        "implementation": sys.implementation.name,
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "dont_write_bytecode": bool(sys.dont_write_bytecode),
        "optimize": flags.optimize,
        "utf8_mode": bool(getattr(flags, "utf8_mode", 0)),
        "faulthandler": faulthandler.is_enabled(),
        "stdout_write_through": getattr(stdout, "write_through", None),
        "stdout_line_buffering": getattr(stdout, "line_buffering", None),
        "filesystem_encoding": sys.getfilesystemencoding(),
        "stdout_encoding": getattr(stdout, "encoding", None),
    }


def preferred_encoding():
    import locale

    return locale.getpreferredencoding(False)


def marker_environment():
    """What PEP 508 markers see here, computed the way `packaging` does."""
    import platform

    info = sys.implementation.version
    version = f"{info.major}.{info.minor}.{info.micro}"
    if info.releaselevel != "final":
        version += info.releaselevel[0] + str(info.serial)
    return {
        "implementation_name": sys.implementation.name,
        "implementation_version": version,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def site_packages():
    import site
    import sysconfig

    found = []
    for path in [sysconfig.get_paths().get("purelib"), sysconfig.get_paths().get("platlib")]:
        if path and path not in found:
            found.append(path)
    if hasattr(site, "getsitepackages"):
        for path in site.getsitepackages():
            if path not in found and path in sys.path:
                found.append(path)
    return found


def app_dir(cwd):
    """Where the code ENTRYPOINT/CMD runs lives, found without importing it."""
    script = PARAMS.get("app_script")
    if script:
        return os.path.dirname(os.path.normpath(os.path.join(cwd or "/", script)))
    module = PARAMS.get("app_module")
    if not module:
        return None
    from importlib.machinery import PathFinder

    # `python -m` searches the working directory first; find_spec of a top-level name imports
    # nothing, so no application code runs.
    spec = PathFinder.find_spec(module.split(".")[0], [cwd or "/", *sys.path])
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return next(iter(spec.submodule_search_locations))
    return os.path.dirname(spec.origin) if spec.origin else None


def writable(path, uid, gid, groups):
    """Could this user create files in `path` in a normal run (the probe's root is read-only)?

    Decided from permission bits, as the kernel would on a writable filesystem: root (who keeps
    CAP_DAC_OVERRIDE outside the probe) can; others need write and search permission on the
    directory through their owner, group or other class.
    """
    try:
        info = os.stat(path)
    except OSError:
        return False
    if uid == 0:
        return True
    mode = info.st_mode
    if info.st_uid == uid:
        need = stat.S_IWUSR | (stat.S_IXUSR if stat.S_ISDIR(mode) else 0)
    elif info.st_gid == gid or info.st_gid in groups:
        need = stat.S_IWGRP | (stat.S_IXGRP if stat.S_ISDIR(mode) else 0)
    else:
        need = stat.S_IWOTH | (stat.S_IXOTH if stat.S_ISDIR(mode) else 0)
    return mode & need == need


def distributions():
    """Installed distributions as the interpreter sees them: name, version, Requires-Dist."""
    try:
        from importlib import metadata
    except ImportError:
        return None  # Python 3.7 and older: no importlib.metadata
    seen = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name:
            continue
        key = name.lower().replace("_", "-").replace(".", "-")
        if key in seen:
            continue  # the first on sys.path wins, as for imports and pip
        seen[key] = {
            "name": name,
            "version": dist.version,
            "requires": list(dist.requires or []),
            "location": str(dist.locate_file("")),
        }
    return sorted(seen.values(), key=lambda d: d["name"].lower())


def ca_bundle():
    import ssl

    paths = ssl.get_default_verify_paths()
    for candidate in (os.environ.get("SSL_CERT_FILE"), paths.cafile, paths.openssl_cafile):
        if candidate and os.path.isfile(candidate):
            return candidate
    for directory in (os.environ.get("SSL_CERT_DIR"), paths.capath, paths.openssl_capath):
        if directory and os.path.isdir(directory) and os.listdir(directory):
            return directory
    return None


def timezone_data():
    import sysconfig

    dirs = (sysconfig.get_config_var("TZPATH") or "").split(os.pathsep)
    dirs += ["/usr/share/zoneinfo", "/usr/lib/zoneinfo", "/usr/share/lib/zoneinfo", "/etc/zoneinfo"]
    if any(d and os.path.isfile(os.path.join(d, "UTC")) for d in dirs):
        return True
    from importlib.util import find_spec

    return find_spec("tzdata") is not None


IMPORT_MARKER = "@@inspector-import-check@@"
# The import smoke test runs in a child interpreter, so that an import that hangs or kills the
# process cannot take this report with it. It imports what the image's command imports first,
# the way that command would (sys.path included), and never calls the application.
# It also lists the application's source files it loaded (under PARAMS["app_roots"]) and whether
# each had a .pyc for this interpreter before the import: what a start of the command compiles.
IMPORT_CHILD = r"""
import ast, importlib, importlib.util, json, os, re, sys, traceback
MARKER = "@@inspector-import-check@@"
target = json.loads(sys.argv[1])
result = {"status": "ok", "imported": [], "exception": None, "message": None,
          "module": None, "library": None, "location": None, "raised_in": None,
          "attribute": None}
OPTIONAL = ("ImportError", "ModuleNotFoundError", "Exception", "BaseException")


def cut(text, limit):
    # As the parent's cut: at a space, so no credential is reported in part.
    if len(text) <= limit:
        return text
    head = text[:limit]
    space = max(head.rfind(" "), head.rfind("\n"))
    return (head[:space] if space > 0 else "") + " ..."


def catches_import(handler):
    kinds = handler.type
    if kinds is None:
        return True
    names = kinds.elts if isinstance(kinds, ast.Tuple) else [kinds]
    return any(getattr(n, "id", getattr(n, "attr", "")) in OPTIONAL for n in names)


def startup_imports(tree):
    # What a file imports as it starts: module level, top-level if/with blocks; a try whose
    # handlers catch ImportError marks its imports optional, so they are left out.
    out = []
    trys = (ast.Try,) + ((ast.TryStar,) if hasattr(ast, "TryStar") else ())

    def walk(body):
        for node in body:
            if isinstance(node, ast.Import):
                out.extend((a.name, (), 0, node.lineno) for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                names = tuple(a.name for a in node.names)
                out.append((node.module or "", names, node.level or 0, node.lineno))
            elif isinstance(node, ast.If):
                walk(node.body)
                walk(node.orelse)
            elif isinstance(node, ast.With):
                walk(node.body)
            elif isinstance(node, trys) and not any(catches_import(h) for h in node.handlers):
                walk(node.body)
    walk(tree.body)
    return out


def run_file(path, package):
    with open(path, "rb") as handle:
        source = handle.read()
    tree = compile(source, path, "exec", ast.PyCF_ONLY_AST)
    compile(tree, path, "exec")
    for module, names, level, lineno in startup_imports(tree):
        if level and not package:
            continue  # a script's relative import cannot work; Python reports that itself
        result["location"] = "%s:%d" % (path, lineno)
        full = importlib.util.resolve_name("." * level + module, package) if level else module
        loaded = importlib.import_module(full)
        for name in names:
            if name == "*" or hasattr(loaded, name):
                continue
            try:
                importlib.import_module(full + "." + name)
            except ModuleNotFoundError as exc:
                if exc.name != full + "." + name:
                    raise
                raise ImportError("cannot import name %r from %r (%s)" % (
                    name, full, getattr(loaded, "__file__", None)), name=full)
        result["imported"].append(full)
    result["location"] = None


def main():
    if target.get("cwd") and os.path.isdir(target["cwd"]):
        os.chdir(target["cwd"])  # a start script's `cd` before it execs the command
    cwd = os.getcwd()
    for kind, value in target["steps"]:
        if kind == "script":
            path = value if os.path.isabs(value) else os.path.join(cwd, value)
            sys.path[0] = os.path.dirname(path)
            run_file(path, None)
        elif kind == "module":
            sys.path[0] = cwd
            spec = importlib.util.find_spec(value)
            if spec is None:
                raise ModuleNotFoundError("No module named %r" % value, name=value)
            origin, package = spec.origin, value.rpartition(".")[0] or None
            if spec.submodule_search_locations is not None:
                importlib.import_module(value)
                result["imported"].append(value)
                main_spec = importlib.util.find_spec(value + ".__main__")
                if main_spec is None:
                    raise ImportError("No module named %s.__main__; %r is a package and cannot "
                                      "be directly executed" % (value, value),
                                      name=value + ".__main__")
                origin, package = main_spec.origin, value
            if origin and origin.endswith(".py"):
                run_file(origin, package)
        elif kind == "import":
            entry = target.get("path_entry")
            for path in ([os.path.join(cwd, entry)] if entry else []) + [cwd]:
                if path not in sys.path:
                    sys.path.insert(0, path)
            importlib.import_module(value)
            result["imported"].append(value)
        elif kind == "path":
            # `fastapi run src/pkg`: the module a path is, its package found as FastAPI's CLI
            # finds it (walking up while the parent holds __init__.py).
            path = os.path.abspath(os.path.join(cwd, value))
            if os.path.basename(path) == "__init__.py":
                path = os.path.dirname(path)
            parts = [os.path.splitext(os.path.basename(path))[0]]
            top = os.path.dirname(path)
            while os.path.isfile(os.path.join(top, "__init__.py")):
                parts.insert(0, os.path.basename(top))
                top = os.path.dirname(top)
            sys.path.insert(0, top)
            module = ".".join(parts)
            importlib.import_module(module)
            result["imported"].append(module)
        elif kind == "attribute":
            # `gunicorn mod:app`: the server looks the name up in the module once it imported.
            module, name = value.split(":", 1)
            module = module or result["imported"][-1]
            loaded = sys.modules[module]
            if not hasattr(loaded, name):
                result["attribute"], result["module"] = name, module
                result["location"] = getattr(loaded, "__file__", None)
                raise AttributeError("module %r has no attribute %r" % (module, name))


def loaded_sources():
    roots = tuple(r.rstrip("/") + "/" for r in target.get("app_roots") or [])
    out = []
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path or not path.endswith(".py") or not path.startswith(roots):
            continue
        try:
            size = os.path.getsize(path)
            cached = os.path.exists(importlib.util.cache_from_source(path))
        except (OSError, ValueError, NotImplementedError):
            continue
        out.append({"path": path, "size": size, "cached": cached})
        if len(out) >= 5000:
            break
    return out


try:
    main()
except BaseException as exc:
    result["status"] = "failed"
    result["exception"] = type(exc).__name__
    result["message"] = cut(str(exc), 1000)
    if isinstance(exc, ImportError):
        result["module"] = exc.name
        found = re.search(r"([^\s:'\"]+\.so[\w.]*): cannot open shared object file", str(exc))
        result["library"] = found.group(1) if found else None
    if isinstance(exc, SyntaxError):
        result["location"] = "%s:%s" % (exc.filename, exc.lineno)
    elif result["attribute"]:
        pass  # the module's file is the place: the name is missing from it
    else:
        # The deepest frame of the image's own code; none means the import statement itself
        # failed, whose place run_file noted.
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if not f[0].startswith("<") and os.sep + "importlib" + os.sep not in f[0]]
        if frames:
            deepest = "%s:%s" % (frames[-1][0], frames[-1][1])
            if result["location"] and result["location"] != deepest:
                result["raised_in"] = deepest
            else:
                result["location"] = deepest
try:
    result["sources"] = loaded_sources()
except Exception:
    result["sources"] = None
sys.stdout.write("\n" + MARKER + json.dumps(result) + "\n")
sys.stdout.flush()
"""


def import_check():
    target = PARAMS.get("imports")
    if not target:
        return None
    import subprocess
    import time

    timeout = PARAMS.get("import_timeout") or 20
    started = time.time()
    try:
        child = subprocess.Popen(
            [sys.executable, "-c", IMPORT_CHILD, json.dumps(target)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as exc:
        return {"status": "not-run", "message": f"cannot start {sys.executable}: {exc}"}
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        return {
            "status": "timeout",
            "seconds": round(time.time() - started, 3),
            "message": f"the imports did not finish within {timeout}s",
        }
    seconds = round(time.time() - started, 3)
    for line in reversed(out.decode("utf-8", "replace").splitlines()):
        if line.startswith(IMPORT_MARKER):
            try:
                found = json.loads(line[len(IMPORT_MARKER) :])
            except ValueError:
                break
            found["seconds"] = seconds
            return found
    tail = err.decode("utf-8", "replace").strip().splitlines()[-5:]
    return {
        "status": "failed",
        "seconds": seconds,
        "exception": None,
        "message": f"the import test exited with {child.returncode} before reporting"
        + (": " + " | ".join(tail) if tail else ""),
    }


# Sources under the application's roots without a .pyc are compiled (never run) to tell the ones
# this interpreter cannot compile at all (newer syntax, a broken file) from uncached ones.
SOURCE_SKIP = ("__pycache__", ".git", "node_modules", ".tox", ".nox", ".cache")


def uncompilable_sources():
    roots = PARAMS.get("app_roots") or []
    if not roots:
        return None
    import importlib.util
    import time

    deadline = time.time() + 10
    report = {"checked": 0, "complete": True, "uncompilable": []}
    budget = 32 * 1024 * 1024
    for root in roots:
        for top, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in SOURCE_SKIP)
            for name in sorted(files):
                if not name.endswith(".py"):
                    continue
                path = os.path.join(top, name)
                try:
                    if os.path.exists(importlib.util.cache_from_source(path)):
                        continue
                    with open(path, "rb") as handle:
                        source = handle.read(budget + 1)
                except (OSError, ValueError, NotImplementedError):
                    continue
                budget -= len(source)
                if budget < 0 or time.time() > deadline:
                    report["complete"] = False
                    return report
                report["checked"] += 1
                try:
                    compile(source, path, "exec", dont_inherit=True)
                except (SyntaxError, ValueError) as exc:
                    line = getattr(exc, "lineno", None)
                    error = type(exc).__name__ + (f" at line {line}" if line else "")
                    msg = getattr(exc, "msg", None) or str(exc)
                    if len(report["uncompilable"]) < 200:
                        error += ": " + cut(msg, 200)
                        report["uncompilable"].append(
                            {"path": path, "size": len(source), "error": error}
                        )
    return report


def main():
    doc = {"probe_version": 1}
    ident = attempt("identity", identity, {})
    doc.update(ident)
    doc.update(attempt("interpreter", interpreter, {}))
    doc["preferred_encoding"] = attempt("preferred_encoding", preferred_encoding)
    doc["marker_environment"] = attempt("marker_environment", marker_environment)
    doc["site_packages"] = attempt("site_packages", site_packages, [])
    doc["app_dir"] = attempt("app_dir", lambda: app_dir(ident.get("cwd")))
    uid, gid = ident.get("uid", -1), ident.get("gid", -1)
    groups = set(ident.get("groups", [])) | {gid}
    paths = list(doc["site_packages"])
    # Where the app imports from: sys.path's directories (zip files and missing entries aside).
    searched = [p for p in sys.path if p and os.path.isdir(p)]
    for extra in (doc["app_dir"], ident.get("home"), "/tmp", *searched):
        if extra and extra not in paths:
            paths.append(extra)
    doc["writable"] = dict((p, writable(p, uid, gid, groups)) for p in paths)
    doc["distributions"] = attempt("distributions", distributions)
    doc["ca_bundle"] = attempt("ca_bundle", ca_bundle)
    doc["timezone_data"] = attempt("timezone_data", timezone_data)
    doc["sys_path"] = list(sys.path)
    doc["imports"] = attempt("imports", import_check)
    doc["app_sources"] = attempt("app_sources", uncompilable_sources)
    doc["errors"] = ERRORS
    sys.stdout.write(MARKER + NONCE + json.dumps(doc) + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    # No atexit hook or finaliser of the image's code may print after the report.
    os._exit(0)


main()
