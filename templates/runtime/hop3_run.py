# hop3 process runner. uWSGI starts it for Procfile command processes (web, worker); it reads
# the command and environment from a JSON run file and replaces itself with `sh -c COMMAND`,
# the Procfile contract, so no user value is ever written into a uWSGI config file.
import json
import os
import sys

with open(sys.argv[1], encoding="utf-8") as f:
    run = json.load(f)

os.chdir(run["cwd"])
os.execve("/bin/sh", ["/bin/sh", "-c", run["command"]], run["env"])
