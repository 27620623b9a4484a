#!/usr/bin/env python3
"""Runs the README's shell tour as typed: the first ```sh block under "## A quick tour", in a
fresh bash from the checkout (where `swift build --show-bin-path` answers), and checks it prints
the Welcome. The tour makes its own empty folder."""
import re
import subprocess
import sys

readme = open("README.md").read()
section = readme.split("## A quick tour", 1)[1]
match = re.search(r"```sh\n(.*?)```", section, re.S)
if not match:
    sys.exit("README's quick tour has no ```sh block")
tour = match.group(1)
run = subprocess.run(["bash", "-euo", "pipefail", "-c", tour], capture_output=True, text=True, timeout=300)
if run.returncode != 0 or "hello_welcome.Welcome" not in run.stdout:
    sys.exit(f"README's shell tour failed (exit {run.returncode}):\n{run.stdout}{run.stderr}")
print("downstream: README's shell tour runs as typed")
