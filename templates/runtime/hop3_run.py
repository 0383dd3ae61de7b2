# hop3 process runner. uWSGI starts it for Procfile command processes (web, worker); it reads
# the command and environment from a JSON run file and replaces itself with `sh -c COMMAND`,
# the Procfile contract, so no user value is ever written into a uWSGI config file.
import ctypes
import json
import os
import signal
import sys

# Die with the vassal's uWSGI master: killed with SIGKILL, it cannot stop its daemons, which would
# keep the app's port and serve old code while the emperor's respawned vassal fails to bind.
# The setting survives execve (PR_SET_PDEATHSIG is 1).
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
except (OSError, AttributeError):
    pass

with open(sys.argv[1], encoding="utf-8") as f:
    run = json.load(f)

os.chdir(run["cwd"])
os.execve("/bin/sh", ["/bin/sh", "-c", run["command"]], run["env"])
