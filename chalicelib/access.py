"""The gate: who may read the boards, and the records that say so.

ACCESS=public lets everyone in. ACCESS=slack (the default) lets in a request whose
session cookie verifies (chalicelib/sessions.py) and whose record still exists:

  table        pk                    sk        attributes
  connections  LOGIN#{state}         LOGIN     nonce, next, expires_at (TTL)
  connections  SESSION#{sid}         SESSION   user, name, admin, expires_at (TTL)
  counts       SCREEN#{workspace}    {id}      name, created_by, created_by_name,
                                               created_at, last_used_at

Sessions and sign-ins are short-lived, so they live with the connections; screen
links are the workspace's own settings and live with its counts (kept by a destroy
without --delete-data). A screen link's id is a digest of its token, so the table
never holds a token. TTL deletes late, so every read checks `expires_at` itself.

Each WebSocket connection records the grant it came in with (`person:{sid}` or
`screen:{id}`), so signing out or revoking a link closes that grant's open sockets.
"""
import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import List, Mapping, Optional

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from . import sessions
from .sessions import Claims, Invalid, Keyring

log = logging.getLogger(__name__)
LOGIN_SECONDS = 600  # to come back from Slack's authorize page


@dataclass(frozen=True)
class Viewer:
    kind: str  # "person", "screen" or "public"
    sid: str = ""
    user: str = ""
    name: str = ""
    admin: bool = False

    @property
    def grant(self) -> str:
        """What a connection records, so ending the grant can close it."""
        return f"{self.kind}:{self.sid}" if self.sid else self.kind


PUBLIC = Viewer("public")


def screen_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def new_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


class AccessStore:
    def __init__(self, client, connections_table: str, counts_table: str, workspace: str):
        self._db = client
        self._connections = connections_table
        self._counts = counts_table
        self._screens_pk = f"SCREEN#{workspace}"

    # ---- signing in ------------------------------------------------------------------

    def begin_login(self, state: str, nonce: str, next_path: str, now: float) -> None:
        self._db.put_item(TableName=self._connections, Item={
            "pk": {"S": f"LOGIN#{state}"}, "sk": {"S": "LOGIN"}, "nonce": {"S": nonce},
            "next": {"S": next_path}, "expires_at": {"N": str(int(now) + LOGIN_SECONDS)}})

    def finish_login(self, state: str, now: float) -> Optional[dict]:
        """The sign-in `state` began (nonce, next), once: the record is deleted by the
        first callback that names it, so a replayed callback finds nothing."""
        try:
            old = self._db.delete_item(
                TableName=self._connections, Key={"pk": {"S": f"LOGIN#{state}"}, "sk": {"S": "LOGIN"}},
                ConditionExpression="attribute_exists(pk)", ReturnValues="ALL_OLD")["Attributes"]
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        if int(old["expires_at"]["N"]) <= now:
            return None
        return {"nonce": old["nonce"]["S"], "next": old["next"]["S"]}

    # ---- sessions --------------------------------------------------------------------

    def open_session(self, user: str, name: str, admin: bool, expires_at: int) -> str:
        sid = secrets.token_urlsafe(18)
        self._db.put_item(TableName=self._connections, Item={
            "pk": {"S": f"SESSION#{sid}"}, "sk": {"S": "SESSION"}, "user": {"S": user},
            "name": {"S": name}, "admin": {"BOOL": admin},
            "expires_at": {"N": str(expires_at)}})
        return sid

    def session(self, sid: str, now: float) -> Optional[dict]:
        item = self._db.get_item(TableName=self._connections, ConsistentRead=True,
                                 Key={"pk": {"S": f"SESSION#{sid}"}, "sk": {"S": "SESSION"}}).get("Item")
        if not item or int(item["expires_at"]["N"]) <= now:
            return None
        return {"user": item["user"]["S"], "name": item["name"]["S"], "admin": item["admin"]["BOOL"]}

    def end_session(self, sid: str) -> None:
        self._db.delete_item(TableName=self._connections,
                             Key={"pk": {"S": f"SESSION#{sid}"}, "sk": {"S": "SESSION"}})

    # ---- screen links ----------------------------------------------------------------

    def create_screen(self, name: str, user: str, user_name: str, now: float) -> str:
        token = new_token()
        self._db.put_item(TableName=self._counts, Item={
            "pk": {"S": self._screens_pk}, "sk": {"S": screen_id(token)}, "name": {"S": name},
            "created_by": {"S": user}, "created_by_name": {"S": user_name},
            "created_at": {"N": str(int(now))}},
            ConditionExpression="attribute_not_exists(pk)")
        return token

    def screen(self, ident: str) -> Optional[dict]:
        item = self._db.get_item(TableName=self._counts, ConsistentRead=True,
                                 Key={"pk": {"S": self._screens_pk}, "sk": {"S": ident}}).get("Item")
        return _screen(item) if item else None

    def screens(self) -> List[dict]:
        found = []
        for page in self._db.get_paginator("query").paginate(
                TableName=self._counts, KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": {"S": self._screens_pk}}, ConsistentRead=True):
            found.extend(_screen(item) for item in page["Items"])
        return sorted(found, key=lambda s: s["created_at"])

    def used_screen(self, ident: str, now: float) -> None:
        """Note the link's last use, if it still exists (a revoked one stays revoked)."""
        try:
            self._db.update_item(
                TableName=self._counts, Key={"pk": {"S": self._screens_pk}, "sk": {"S": ident}},
                UpdateExpression="SET last_used_at = :t", ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":t": {"N": str(int(now))}})
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def revoke_screen(self, ident: str) -> bool:
        try:
            self._db.delete_item(TableName=self._counts, ConditionExpression="attribute_exists(pk)",
                                 Key={"pk": {"S": self._screens_pk}, "sk": {"S": ident}})
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True


def _screen(item: dict) -> dict:
    return {"id": item["sk"]["S"], "name": item["name"]["S"],
            "created_by": item["created_by"]["S"], "created_by_name": item["created_by_name"]["S"],
            "created_at": int(item["created_at"]["N"]),
            "last_used_at": int(item["last_used_at"]["N"]) if "last_used_at" in item else None}


def identify(headers: Mapping[str, str], services, now: float) -> Optional[Viewer]:
    """Who the request is from, or None: no cookie, a forged, expired or foreign one,
    or one whose session was ended or whose screen link was revoked."""
    settings = services.settings
    if settings.access == "public":
        return PUBLIC
    token = sessions.cookies(headers).get(sessions.SESSION_COOKIE)
    if not token:
        return None
    try:
        claims = services.keyring.verify(token, services.workspace, now)
    except Invalid as error:
        log.info("session refused: %s", error)
        return None
    if claims.kind == "screen":
        return Viewer("screen", claims.sid, claims.user, claims.name) \
            if services.access.screen(claims.sid) else None
    record = services.access.session(claims.sid, now)
    if record is None or record["user"] != claims.user:
        return None
    admin = record["admin"] or claims.user in settings.dashboard_admins
    return Viewer("person", claims.sid, record["user"], record["name"], admin)


def session_cookie(keyring: Keyring, viewer: Viewer, team: str, now: float) -> str:
    """The Set-Cookie that carries `viewer`'s session (a screen's is renewed on use)."""
    seconds = sessions.SCREEN_SECONDS if viewer.kind == "screen" else sessions.PERSON_SECONDS
    token = keyring.sign(Claims(viewer.kind, viewer.sid, viewer.user, viewer.name, team,
                                int(now) + seconds))
    return sessions.set_cookie(sessions.SESSION_COOKIE, token, seconds)


def close_sockets(services, grant: str) -> int:
    """Close every open dashboard that came in with `grant` (a session signed out, a
    link revoked): API Gateway's DeleteConnection, which runs $disconnect as for any
    close. Rare, so the full boto3 client: the fan-out's fast one only posts."""
    closed = 0
    client = _management_client(services)
    for connection_id in services.connections.with_grant(grant):
        try:
            client.delete_connection(ConnectionId=connection_id)
            closed += 1
        except client.exceptions.GoneException:
            pass
        except (ClientError, BotoCoreError) as error:
            log.error("could not close connection %s: %s", connection_id, error)
        services.connections.remove(connection_id)
    return closed


def _management_client(services):
    settings = services.settings
    return boto3.session.Session().client(
        "apigatewaymanagementapi", endpoint_url=settings.management_endpoint(),
        region_name=settings.region or "us-east-1")
