"""Windlass PEP 517 hook runner: calls one backend hook in this process.

Usage: python hook.py HOOK RESULT_FILE, with a JSON request on stdin:
{"backend": "pkg.mod:obj", "backend_path": [...], "args": [...]}.
The hook's return value is written to RESULT_FILE as JSON; the backend's own
output goes to stdout/stderr untouched.
"""

import importlib
import json
import os
import sys
import traceback


def load_backend(spec, backend_path):
    for entry in reversed(backend_path or []):
        sys.path.insert(0, os.path.abspath(entry))
    module_name, _, attrs = spec.partition(":")
    try:
        obj = importlib.import_module(module_name)
    except ImportError:
        traceback.print_exc()
        sys.exit(3)
    for attr in filter(None, attrs.split(".")):
        obj = getattr(obj, attr)
    return obj


DEFAULTS = {
    "get_requires_for_build_wheel": [],
    "get_requires_for_build_sdist": [],
}


def main():
    hook, result_file = sys.argv[1], sys.argv[2]
    request = json.load(sys.stdin)
    backend = load_backend(request["backend"], request.get("backend_path"))
    func = getattr(backend, hook, None)
    if func is None:
        if hook in DEFAULTS:
            result = DEFAULTS[hook]
        else:
            print(f"backend {request['backend']} has no hook {hook}", file=sys.stderr)
            sys.exit(4)
    else:
        result = func(*request.get("args", []))
    with open(result_file, "w", encoding="utf-8") as f:
        json.dump({"result": result}, f)


if __name__ == "__main__":
    main()
