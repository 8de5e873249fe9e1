"""A local stand-in for the part of Slack's Web API the app calls: `emoji.list`,
`users.list`, `users.info` and `conversations.info`.

It speaks Slack's protocol (a Bearer token, `{"ok": true, ...}` or `{"ok": false,
"error": "invalid_auth"}`, cursor pagination, HTTP 429 with `Retry-After` over a
method's rate limit), so the app's slack_sdk WebClient runs unchanged against it;
only SLACK_API_URL differs. It also serves the demo workspace's custom emoji images
(hand-written SVGs in `demo_emoji/`) and its people's avatars (SVGs of their
initials), so the dashboard shows real images with no network.

Tests change `emoji` (the workspace's custom emoji), `users` and `channels` (Slack's
user and conversation objects by id), `token`, `page_size` (Slack may return fewer
than `limit` asked), `limits` (requests per minute per method) and `failure` (fault
injection: how Slack fails when it does). `reset()` puts the demo workspace back.
"""
import asyncio
import base64
import binascii
import collections
import html
import json
import math
import time
from pathlib import Path
from typing import Callable, Deque, Dict, Optional

from aiohttp import web

LOCAL_TOKEN = "xoxb-local-emojiboard"
PREFIX = "/slack-api/"
IMAGES = Path(__file__).resolve().parent / "demo_emoji"
AVATAR_PATH = "/demo-avatar/"
# FAULT INJECTION, chosen by a test: how the next calls (of every method) fail.
FAILURES = ("ratelimited", "down", "reset", "slow")
SLOW_SECONDS = 10  # "slow": an answer only after this long (the app gives up sooner)

# Requests per minute Slack allows each method, per app per workspace: Tier 2 = 20+,
# Tier 3 = 50+, Tier 4 = 100+ (docs.slack.dev/apis/web-api/rate-limits; each method's
# page names its tier). emoji.list (Tier 2) is left unlimited here, as before: the
# test suite asks it once per test, faster than any real workspace would.
RATE_LIMITS = {"users.list": 20, "users.info": 100, "conversations.info": 50}
WINDOW = 60.0  # seconds

# The demo workspace (`make run`, devkit/simulate.py): people, its bot, Slackbot, and
# channels, one of them private, and a DM. Ids are Slack-like but never clash with the tests'.
TEAM = "T0DEMO"
PEOPLE = {  # id -> (handle, real name, display name)
    "UDEMOADA": ("ada", "Ada Lovelace", "Ada"),
    "UDEMOGRACE": ("grace", "Grace Hopper", "Grace"),
    "UDEMOALAN": ("alan", "Alan Turing", ""),  # no display name: real name shown
    "UDEMOKATHERINE": ("katherine", "Katherine Johnson", "Katherine J."),
    "UDEMOLINUS": ("linus", "Linus Torvalds", "linus"),
    "UDEMOMARGARET": ("margaret", "Margaret Hamilton", "Margaret"),
    "UDEMOTIM": ("tim", "Tim Berners-Lee", "TimBL"),
    "UDEMOBARBARA": ("barbara", "Barbara Liskov", "Barbara"),
}
BOT = "UDEMOBOT"  # is_bot: its reactions count nowhere once the app knows it
BOT_NAME = "Polly"
SLACKBOT = "USLACKBOT"
CHANNELS = {  # id -> (name, private)
    "CDEMOGENERAL": ("general", False),
    "CDEMORANDOM": ("random", False),
    "CDEMODESIGN": ("design", False),
    "CDEMOENG": ("eng", False),
    "CDEMOSECRET": ("secret-plans", True),
}
DM = "DDEMOADAGRACE"  # a direct message between these two: private, never named
DM_MEMBERS = ("UDEMOADA", "UDEMOGRACE")
CREATED = 1700000000


def user_object(ident: str, handle: str, real_name: str, display_name: str = "",
                avatar: Optional[str] = None, bot: bool = False, team: str = TEAM) -> dict:
    """A user as users.list / users.info / user_change carry it (the fields Slack's
    example payloads have that matter here)."""
    profile = {"title": "", "phone": "", "skype": "", "real_name": real_name,
               "real_name_normalized": real_name, "display_name": display_name,
               "display_name_normalized": display_name, "fields": {}, "status_text": "",
               "status_emoji": "", "status_expiration": 0, "avatar_hash": f"g{ident.lower()}",
               "first_name": real_name.split(" ")[0],
               "last_name": " ".join(real_name.split(" ")[1:]), "team": team}
    if avatar:
        profile.update({f"image_{size}": avatar for size in (24, 32, 48, 72, 192, 512)})
    if bot:
        profile.update({"bot_id": "B" + ident[1:], "always_active": True})
    return {"id": ident, "team_id": team, "name": handle, "deleted": False,
            "color": "4bbe2e", "real_name": real_name, "tz": "Europe/London",
            "tz_label": "Greenwich Mean Time", "tz_offset": 0, "profile": profile,
            "is_admin": False, "is_owner": False, "is_primary_owner": False,
            "is_restricted": False, "is_ultra_restricted": False, "is_bot": bot,
            "is_app_user": False, "updated": CREATED, "is_email_confirmed": not bot}


def channel_object(ident: str, name: str, private: bool = False) -> dict:
    """A conversation as conversations.info answers it (a channel, public or private)."""
    return {"id": ident, "name": name, "name_normalized": name, "is_channel": not private,
            "is_group": private, "is_im": False, "is_mpim": False, "is_private": private,
            "created": CREATED, "is_archived": False, "is_general": name == "general",
            "unlinked": 0, "is_shared": False, "is_ext_shared": False, "is_org_shared": False,
            "is_pending_ext_shared": False, "creator": "UDEMOADA",
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0}}


def im_object(ident: str, user: str) -> dict:
    """A DM as conversations.info answers it: no name, the other member's id."""
    return {"id": ident, "created": CREATED, "is_archived": False, "is_im": True,
            "is_org_shared": False, "context_team_id": TEAM, "updated": CREATED,
            "user": user, "is_user_deleted": False, "priority": 0}


def _cursor(user: str) -> str:
    return base64.b64encode(f"user:{user}".encode()).decode()  # Slack's own shape


class SlackWebAPI:
    def __init__(self, base_url: Optional[str] = None, token: str = LOCAL_TOKEN):
        """`base_url` is the gateway's own origin, where the demo images are; when it is
        not known up front, the first request's origin is used."""
        self.base_url = base_url.rstrip("/") if base_url else None
        self.token = token
        self.emoji: Dict[str, str] = {}  # name -> image URL or alias:name; tests change it
        self.users: Dict[str, dict] = {}  # id -> user object, in users.list's order
        self.channels: Dict[str, dict] = {}  # id -> conversation object
        self.page_size: Optional[int] = None  # at most this many per users.list page
        self.limits: Dict[str, int] = dict(RATE_LIMITS)
        self.failure: Optional[str] = None  # one of FAILURES, or None: Slack works
        self.calls = 0  # emoji.list calls
        self.method_calls: "collections.Counter[str]" = collections.Counter()
        self._recent: Dict[str, Deque[float]] = {}  # method -> times of accepted calls
        self.clock: Callable[[], float] = time.monotonic
        if self.base_url:
            self.reset()

    def reset(self) -> None:
        """The demo workspace: the custom emoji the simulator reacts with, an alias, its
        people, bot and channels; Slack working, every rate limit window empty."""
        self.emoji = {path.stem: self.image_url(path.stem) for path in IMAGES.glob("*.svg")}
        self.emoji["partyparrot"] = "alias:party-parrot"
        self.users = {ident: user_object(ident, handle, real, display, self.avatar_url(ident))
                      for ident, (handle, real, display) in PEOPLE.items()}
        self.users[BOT] = user_object(BOT, "polly", BOT_NAME, BOT_NAME,
                                      self.avatar_url(BOT), bot=True)
        # Slackbot is listed with is_bot false (Slack's own quirk).
        self.users[SLACKBOT] = user_object(SLACKBOT, "slackbot", "Slackbot", "Slackbot",
                                           self.avatar_url(SLACKBOT))
        self.channels = {ident: channel_object(ident, name, private)
                         for ident, (name, private) in CHANNELS.items()}
        self.channels[DM] = im_object(DM, DM_MEMBERS[1])
        self.page_size = None
        self.limits = dict(RATE_LIMITS)
        self.failure = None
        self._recent = {}

    def image_url(self, name: str) -> str:
        return f"{self.base_url}/demo-emoji/{name}.svg"

    def avatar_url(self, user: str) -> str:
        return f"{self.base_url}{AVATAR_PATH}{user}.svg"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}{PREFIX}"

    def add_routes(self, app: web.Application) -> None:
        """Before any catch-all route of `app`."""
        for method, answer in (("emoji.list", self._emoji_list),
                               ("users.list", self._users_list),
                               ("users.info", self._users_info),
                               ("conversations.info", self._conversations_info)):
            app.router.add_route("*", PREFIX + method, self._method(method, answer))
        app.router.add_route("*", PREFIX + "{method}", self.unknown_method)
        app.router.add_get("/demo-emoji/{file}", self.image)
        app.router.add_get(AVATAR_PATH + "{file}", self.avatar)

    # ---- the protocol, shared by every method -------------------------------

    def _method(self, method: str, answer: Callable[[Dict[str, str]], web.Response]):
        async def handle(request: web.Request) -> web.StreamResponse:
            self.method_calls[method] += 1
            if method == "emoji.list":
                self.calls += 1
            if self.base_url is None:
                self.base_url = f"{request.scheme}://{request.host}"
                self.reset()
            if self.failure == "ratelimited":  # what Slack answers over its rate limit
                return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                         headers={"Retry-After": "30"})
            if self.failure == "down":  # a load balancer's page, not Slack's JSON
                return web.Response(status=503, text="<html><body>503 Service Unavailable</body></html>",
                                    content_type="text/html")
            if self.failure == "reset":  # the connection drops before any answer
                request.transport.close()
                raise web.HTTPServiceUnavailable()
            if self.failure == "slow":
                await asyncio.sleep(SLOW_SECONDS)
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                return web.json_response({"ok": False, "error": "invalid_auth"})
            wait = self._over_limit(method)
            if wait is not None:
                return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                         headers={"Retry-After": str(wait)})
            return answer(await self._arguments(request))
        return handle

    def _over_limit(self, method: str) -> Optional[int]:
        """Seconds until the method may be called again, or None (and the call is
        counted): a sliding minute per method, as Slack's per-minute tiers."""
        limit = self.limits.get(method)
        if limit is None:
            return None
        now = self.clock()
        recent = self._recent.setdefault(method, collections.deque())
        while recent and recent[0] <= now - WINDOW:
            recent.popleft()
        if len(recent) >= limit:
            return max(1, math.ceil(recent[0] + WINDOW - now))
        recent.append(now)
        return None

    @staticmethod
    async def _arguments(request: web.Request) -> Dict[str, str]:
        """Slack takes arguments in the query string, a form body or a JSON body."""
        args = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = json.loads(await request.read() or b"{}")
                except ValueError:
                    body = {}
                if isinstance(body, dict):
                    args.update({k: str(v) for k, v in body.items()})
            else:
                args.update({k: str(v) for k, v in (await request.post()).items()})
        return args

    # ---- the methods ----------------------------------------------------------

    def _emoji_list(self, args: Dict[str, str]) -> web.Response:
        return web.json_response({"ok": True, "emoji": dict(self.emoji)})

    def _users_list(self, args: Dict[str, str]) -> web.Response:
        ids = list(self.users)
        start = 0
        if args.get("cursor"):
            try:
                kind, _, user = base64.b64decode(args["cursor"], validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                kind, user = "", ""
            if kind != "user" or user not in self.users:
                return web.json_response({"ok": False, "error": "invalid_cursor"})
            start = ids.index(user)
        try:
            limit = int(args.get("limit") or 0)
        except ValueError:
            return web.json_response({"ok": False, "error": "invalid_arguments"})
        # No limit: Slack tries to answer the whole list. It may answer fewer than asked.
        size = len(ids) - start if limit <= 0 else limit
        if self.page_size:
            size = min(size, self.page_size)
        page = ids[start:start + max(1, size)]
        rest = ids[start + len(page):]
        return web.json_response({
            "ok": True, "members": [self.users[u] for u in page], "cache_ts": int(time.time()),
            "response_metadata": {"next_cursor": _cursor(rest[0]) if rest else ""}})

    def _users_info(self, args: Dict[str, str]) -> web.Response:
        user = self.users.get(args.get("user", ""))
        if user is None:
            return web.json_response({"ok": False, "error": "user_not_found"})
        return web.json_response({"ok": True, "user": user})

    def _conversations_info(self, args: Dict[str, str]) -> web.Response:
        channel = self.channels.get(args.get("channel", ""))
        if channel is None:
            return web.json_response({"ok": False, "error": "channel_not_found"})
        return web.json_response({"ok": True, "channel": channel})

    async def unknown_method(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": False, "error": "unknown_method"}, status=404)

    # ---- demo images ----------------------------------------------------------

    async def image(self, request: web.Request) -> web.StreamResponse:
        path = IMAGES / request.match_info["file"]
        if path.parent != IMAGES or path.suffix != ".svg" or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Content-Type": "image/svg+xml",
                                               "Cache-Control": "max-age=86400"})

    async def avatar(self, request: web.Request) -> web.Response:
        """A person's initials on a colour of their own: no image files to keep."""
        ident, dot, suffix = request.match_info["file"].rpartition(".")
        user = self.users.get(ident)
        if not dot or suffix != "svg" or user is None:
            raise web.HTTPNotFound()
        name = user["profile"].get("real_name") or user["name"]
        initials = "".join(word[0] for word in name.split()[:2]).upper() or "?"
        hue = sum(map(ord, ident)) * 47 % 360
        svg = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 72 72">'
               f'<rect width="72" height="72" rx="12" fill="hsl({hue},55%,45%)"/>'
               '<text x="36" y="46" font-family="sans-serif" font-size="28" font-weight="bold" '
               f'fill="#fff" text-anchor="middle">{html.escape(initials)}</text></svg>')
        return web.Response(text=svg, content_type="image/svg+xml",
                            headers={"Cache-Control": "max-age=86400"})
