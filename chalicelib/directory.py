"""PLACEHOLDER written by the integrator so counts.py imports; the directory helper
replaces this file with the real module (names from Slack, cached)."""
from typing import Dict, List

BOTS_ATTRIBUTE = "ids"


def bots_key(workspace: str) -> dict:
    return {"pk": {"S": f"BOTS#{workspace}"}, "sk": {"S": "BOTS"}}


class Directory:
    def __init__(self, client, table, slack_token=None, slack_api_url=None, clock=None):
        self._db, self._table = client, table

    def people(self, workspace: str, ids: List[str]) -> Dict[str, dict]:
        return {i: {"name": i, "avatar_url": None} for i in ids}

    def channels(self, workspace: str, ids: List[str]) -> Dict[str, dict]:
        return {i: {"name": i, "private": i.startswith("D")} for i in ids}

    def refresh_if_stale(self, workspace: str) -> None:
        pass
