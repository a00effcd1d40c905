"""Starts and stops moto in server mode as a child process (real HTTP, real boto3 clients).

The child is local.moto_atomic: moto's own server app, with DynamoDB requests serialised so that
conditional writes are atomic as they are in DynamoDB (see that module for why).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent

FAKE_CREDENTIALS = {
    # moto accepts any credentials; these are placeholders so boto3 never looks for real ones.
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "ap-northeast-1",
    "AWS_REGION": "ap-northeast-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class MotoServer:
    port: int = 0
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 20.0) -> MotoServer:
        self.port = self.port or free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local.moto_atomic", "-H", "127.0.0.1", "-p", str(self.port)],
            cwd=_ROOT,  # where `-m local.moto_atomic` is found, whatever the caller's directory and PYTHONPATH
            env={**os.environ, **FAKE_CREDENTIALS},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto server exited with code {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1):  # noqa: S310 - loopback only
                    return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("moto server did not become ready in time")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def env(self) -> dict[str, str]:
        """Environment that points every boto3 client at this server."""
        return {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": self.url}

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
