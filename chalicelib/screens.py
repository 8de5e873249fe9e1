"""Screen links, managed by workspace admins: GET, POST /api/screens and
DELETE /api/screens/{id}.

An office TV cannot sign in with Slack, so an admin (Slack's `is_admin` / `is_owner`,
asked again on every change, or a member in DASHBOARD_ADMINS) makes it a link: a
256-bit random token, shown once, that signs a screen in read-only (it can watch the
boards, never manage links). The link is listed with who made it and when it was last
used; revoking it deletes its record, so its sessions stop at their next request, and
closes its open dashboards at once.
"""
import re
import time
from typing import Optional, Tuple

from . import access, signin
from .access import Viewer

NAME_MAX = 60
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _admin(viewer: Viewer, services) -> Optional[Tuple[int, dict]]:
    """None if `viewer` may manage screen links, else the refusal."""
    if viewer.kind == "public":
        return 403, {"error": "screen links need ACCESS=slack: with ACCESS=public anyone "
                              "can see the boards"}
    if viewer.kind != "person":
        return 403, {"error": "a screen cannot manage screen links"}
    s = services.settings
    if viewer.user in s.dashboard_admins or (
            s.slack_bot_token and signin.is_admin(viewer.user, s.slack_bot_token, s.slack_api_url)):
        return None
    return 403, {"error": "only workspace admins (or DASHBOARD_ADMINS) manage screen links"}


def listing(viewer: Viewer, services) -> Tuple[int, dict]:
    refused = _admin(viewer, services)
    return refused or (200, {"screens": services.access.screens()})


def create(viewer: Viewer, body, services) -> Tuple[int, dict]:
    refused = _admin(viewer, services)
    if refused:
        return refused
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > NAME_MAX \
            or _CONTROL.search(name):
        return 400, {"error": f"name the screen: 1 to {NAME_MAX} characters, e.g. \"Kitchen TV\""}
    name = name.strip()
    token = services.access.create_screen(name, viewer.user, viewer.name, time.time())
    return 201, {"id": access.screen_id(token), "name": name, "token": token}


def revoke(viewer: Viewer, ident: str, services) -> Tuple[int, dict]:
    refused = _admin(viewer, services)
    if refused:
        return refused
    if not re.fullmatch(r"[0-9a-f]{32}", ident) or not services.access.revoke_screen(ident):
        return 404, {"error": "no such screen link"}
    closed = access.close_sockets(services, f"screen:{ident}")
    return 200, {"revoked": ident, "closed": closed}
