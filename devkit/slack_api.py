"""A local stand-in for the part of Slack's Web API the app calls: `emoji.list`.

It speaks Slack's protocol (a Bearer token, `{"ok": true, ...}` or `{"ok": false,
"error": "invalid_auth"}`), so the app's slack_sdk WebClient runs unchanged against
it; only SLACK_API_URL differs. It also serves the demo workspace's custom emoji
images, so the dashboard shows real images with no network.
"""
from pathlib import Path
from typing import Dict

from aiohttp import web

LOCAL_TOKEN = "xoxb-local-emojiboard"
PREFIX = "/slack-api/"
IMAGES = Path(__file__).resolve().parent / "demo_emoji"


class SlackWebAPI:
    def __init__(self, base_url: str, token: str = LOCAL_TOKEN):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.emoji: Dict[str, str] = {}  # name -> image URL or alias:name; tests change it
        self.calls = 0
        self.reset()

    def reset(self) -> None:
        """The demo workspace: the custom emoji the simulator reacts with, and an alias."""
        self.emoji = {path.stem: self.image_url(path.stem) for path in IMAGES.glob("*.svg")}
        self.emoji["partyparrot"] = "alias:party-parrot"

    def image_url(self, name: str) -> str:
        return f"{self.base_url}/demo-emoji/{name}.svg"

    @property
    def api_url(self) -> str:
        return self.base_url + PREFIX

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", PREFIX + "emoji.list", self.emoji_list)
        app.router.add_route("*", PREFIX + "{method}", self.unknown_method)
        app.router.add_get("/demo-emoji/{file}", self.image)

    async def emoji_list(self, request: web.Request) -> web.Response:
        self.calls += 1
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        return web.json_response({"ok": True, "emoji": dict(self.emoji)})

    async def unknown_method(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": False, "error": "unknown_method"}, status=404)

    async def image(self, request: web.Request) -> web.StreamResponse:
        path = IMAGES / request.match_info["file"]
        if path.parent != IMAGES or path.suffix != ".svg" or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Content-Type": "image/svg+xml"})
