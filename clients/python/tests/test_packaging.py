"""`pip install ./clients/python` into a fresh virtual environment, offline,
and the program of docs/clients.md run with what it installed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import unittest

from support import CLIENT_ROOT, REPOSITORY, ServerTestCase

DOCS = os.path.join(REPOSITORY, "docs", "clients.md")


def example_program() -> str:
    """The first Python block of docs/clients.md."""
    with open(DOCS, encoding="utf-8") as file:
        found = re.search(r"```python\n(.*?)```", file.read(), re.DOTALL)
    if not found:
        raise AssertionError("docs/clients.md has no ```python block")
    return found.group(1)


class PackagingTests(ServerTestCase):
    def test_pip_install_offline_and_the_documented_program(self) -> None:
        with tempfile.TemporaryDirectory(prefix="cairn-py-venv-") as directory:
            environment = os.path.join(directory, "venv")
            python = os.path.join(environment, "bin", "python")
            env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_INDEX_URL")}
            env["PIP_NO_INDEX"] = "1"  # offline: nothing may be fetched
            env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
            # Quick: an environment without pip of its own, filled by this Python's pip
            # (pip 22.3 or later); else one with pip, which takes some seconds more.
            pip = [sys.executable, "-m", "pip", "--python", python]
            made = subprocess.run(
                [sys.executable, "-m", "venv", "--without-pip", environment], capture_output=True, text=True
            )
            if made.returncode != 0 or subprocess.run(pip + ["--version"], capture_output=True, env=env).returncode:
                made = subprocess.run(
                    [sys.executable, "-m", "venv", "--clear", environment], capture_output=True, text=True
                )
                if made.returncode != 0:
                    self.skipTest(f"python3 cannot make a virtual environment here (python3-venv?): {made.stderr}")
                pip = [python, "-m", "pip"]
            installed = subprocess.run(
                pip + ["install", "--no-index", "--quiet", CLIENT_ROOT],
                capture_output=True,
                text=True,
                env=env,
                cwd=directory,
            )
            self.assertEqual(installed.returncode, 0, installed.stdout + installed.stderr)

            key = os.path.join(directory, "cosign.pub")
            with open(key, "wb") as file:
                file.write(
                    b"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"
                )
            env["CAIRN_SOCKET"] = self.server.socket_path
            run = subprocess.run(
                [python, "-c", example_program(), key], capture_output=True, text=True, env=env, cwd=directory
            )
            self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
            self.assertIn("stored ", run.stdout)
            where = subprocess.run(
                [python, "-c", "import cairn_client; print(cairn_client.__file__)"],
                capture_output=True,
                text=True,
                env=env,
                cwd=directory,
            )
            self.assertTrue(where.stdout.startswith(environment), where.stdout + where.stderr)


if __name__ == "__main__":
    unittest.main()
