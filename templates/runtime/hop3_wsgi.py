# hop3 WSGI loader. uWSGI imports this module; it takes the app's environment and entry point
# from a JSON run file so that no user value is ever written into a uWSGI config file.
import importlib
import json
import os
import sys

with open(os.environ["HOP3_RUN_FILE"], encoding="utf-8") as f:
    _run = json.load(f)

# The app sees its own environment only. uWSGI's own variables stay: a vassal that reloads
# re-executes itself and finds its emperor through them (UWSGI_EMPEROR_FD...).
_uwsgi = {k: v for k, v in os.environ.items() if k.startswith("UWSGI_")}
os.environ.clear()
os.environ.update(_uwsgi)
os.environ.update(_run["env"])
os.chdir(_run["cwd"])
sys.path.insert(0, _run["cwd"])
_module, _, _attr = _run["entry"].partition(":")
application = getattr(importlib.import_module(_module), _attr or "application")
