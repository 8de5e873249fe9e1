"""A local stand-in for the part of Slack's Web API the app calls: `emoji.list`.

It speaks Slack's protocol (a Bearer token, `{"ok": true, ...}` or `{"ok": false,
"error": "invalid_auth"}`), so the app's slack_sdk WebClient runs unchanged against
it; only SLACK_API_URL differs. It also serves the demo workspace's custom emoji
images (hand-written SVGs in `demo_emoji/`), so the dashboard shows real images
with no network. Tests change `emoji` (the workspace's custom emoji), `token`, and
`failure` (fault injection: how Slack fails when it does).
"""
from pathlib import Path
from typing import Dict, Optional

from aiohttp import web

LOCAL_TOKEN = "xoxb-local-emojiboard"
PREFIX = "/slack-api/"
IMAGES = Path(__file__).resolve().parent / "demo_emoji"
# FAULT INJECTION, chosen by a test: how the next emoji.list calls fail.
FAILURES = ("ratelimited", "down", "reset")


class SlackWebAPI:
    def __init__(self, base_url: Optional[str] = None, token: str = LOCAL_TOKEN):
        """`base_url` is the gateway's own origin, where the demo images are; when it is
        not known up front, the first request's origin is used."""
        self.base_url = base_url.rstrip("/") if base_url else None
        self.token = token
        self.emoji: Dict[str, str] = {}  # name -> image URL or alias:name; tests change it
        self.failure: Optional[str] = None  # one of FAILURES, or None: Slack works
        self.calls = 0
        if self.base_url:
            self.reset()

    def reset(self) -> None:
        """The demo workspace: the custom emoji the simulator reacts with, and an alias."""
        self.emoji = {path.stem: self.image_url(path.stem) for path in IMAGES.glob("*.svg")}
        self.emoji["partyparrot"] = "alias:party-parrot"
        self.failure = None

    def image_url(self, name: str) -> str:
        return f"{self.base_url}/demo-emoji/{name}.svg"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}{PREFIX}"

    def add_routes(self, app: web.Application) -> None:
        """Before any catch-all route of `app`."""
        app.router.add_route("*", PREFIX + "emoji.list", self.emoji_list)
        app.router.add_route("*", PREFIX + "{method}", self.unknown_method)
        app.router.add_get("/demo-emoji/{file}", self.image)

    async def emoji_list(self, request: web.Request) -> web.StreamResponse:
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
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        return web.json_response({"ok": True, "emoji": dict(self.emoji)})

    async def unknown_method(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": False, "error": "unknown_method"}, status=404)

    async def image(self, request: web.Request) -> web.StreamResponse:
        path = IMAGES / request.match_info["file"]
        if path.parent != IMAGES or path.suffix != ".svg" or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Content-Type": "image/svg+xml",
                                               "Cache-Control": "max-age=86400"})
