"""CPU per push to a dashboard: a boto3 `apigatewaymanagementapi` client, configured as
chalicelib/services.py configures it, against chalicelib.management.ManagementAPI.

Both post small messages in a row to one real connection of a local gateway (the caller
opens it and reads what arrives). What counts is the CPU time of the calling thread
(time.thread_time), so waiting for the gateway's answer costs nothing and the gateway's
own work, in its own process, is not counted. Runs alternate (boto3, lean, boto3, ...)
so a noisy machine hits both alike.
"""
import time
from typing import Dict, List

import boto3
from botocore.config import Config

from chalicelib.management import ManagementAPI

# What the local Management API checks signatures against.
from .gateway import LOCAL_CREDENTIALS, REGION
MESSAGE = b'{"type": "update", "changes": []}'
WARMUP = 20  # pushes before each client's first run: connection, lazy loading


def _boto3_client(gateway_url: str, pool_size: int = 16):
    # services.get()'s Management API client, with the local credentials given here
    # instead of through the environment.
    return boto3.session.Session().client(
        "apigatewaymanagementapi", endpoint_url=gateway_url, region_name=REGION,
        aws_access_key_id=LOCAL_CREDENTIALS.access_key,
        aws_secret_access_key=LOCAL_CREDENTIALS.secret_key,
        config=Config(connect_timeout=1, read_timeout=2, max_pool_connections=pool_size,
                      retries={"mode": "standard", "max_attempts": 4}))


def _ms_per_push(client, connection_id: str, pushes: int) -> float:
    post = client.post_to_connection
    started = time.thread_time()
    for _ in range(pushes):
        post(ConnectionId=connection_id, Data=MESSAGE)
    return (time.thread_time() - started) / pushes * 1000


def measure(gateway_url: str, connection_id: str, pushes: int = 1000,
            runs: int = 3) -> Dict[str, List[float]]:
    """Milliseconds of CPU per push, one figure per run: {"boto3": [...], "lean": [...]}.
    Sends `2 * (WARMUP + runs * pushes)` messages to `connection_id`, one at a time."""
    clients = {
        "boto3": _boto3_client(gateway_url),
        "lean": ManagementAPI(gateway_url, REGION, credentials=LOCAL_CREDENTIALS),
    }
    try:
        for client in clients.values():
            for _ in range(WARMUP):
                client.post_to_connection(ConnectionId=connection_id, Data=MESSAGE)
        figures: Dict[str, List[float]] = {name: [] for name in clients}
        for _ in range(runs):
            for name, client in clients.items():
                figures[name].append(_ms_per_push(client, connection_id, pushes))
        return figures
    finally:
        for client in clients.values():
            client.close()
