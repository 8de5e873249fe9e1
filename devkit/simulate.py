"""Realistic Slack reaction traffic, signed exactly as Slack signs it."""
import json
import random
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple

import requests
from slack_sdk.signature import SignatureVerifier

from . import slack_api

# Roughly how often teams use these (a long tail, a few favourites).
POPULAR = [("thumbsup", 30), ("heart", 14), ("joy", 12), ("tada", 10), ("eyes", 9),
           ("white_check_mark", 8), ("fire", 7), ("raised_hands", 6), ("100", 5),
           ("pray", 4), ("rocket", 4), ("clap", 3), ("thinking_face", 3), ("sob", 2),
           ("party-parrot", 2), ("shipit", 2), ("+1", 1), ("wave", 1)]
SKIN_TONES = ["", "::skin-tone-2", "::skin-tone-3", "::skin-tone-4", "::skin-tone-5",
              "::skin-tone-6"]
TONED = {"thumbsup", "raised_hands", "pray", "clap", "wave", "+1"}


def signed_headers(body: bytes, secret: str, timestamp: Optional[int] = None,
                   retry: Optional[int] = None) -> Dict[str, str]:
    """The headers Slack sends, signed with slack_sdk's own signer."""
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": timestamp,
               "X-Slack-Signature": signature}
    if retry is not None:
        headers["X-Slack-Retry-Num"] = str(retry)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return headers


def reaction_event(reaction: str, *, added: bool = True, team_id: str = "T0DEMO",
                   user: str = "U0DEMO", channel: str = "C0DEMO",
                   item_ts: Optional[str] = None, event_time: Optional[float] = None,
                   event_id: Optional[str] = None, item_user: Optional[str] = "U0AUTHOR"
                   ) -> dict:
    """An Events API envelope around a reaction_added / reaction_removed event."""
    now = time.time() if event_time is None else event_time
    return {
        "token": "unused", "team_id": team_id, "api_app_id": "A0EMOJIBOARD",
        "type": "event_callback", "event_id": event_id or "Ev" + uuid.uuid4().hex[:16].upper(),
        "event_time": int(now),
        "event": {
            "type": "reaction_added" if added else "reaction_removed",
            "user": user, "reaction": reaction,
            **({"item_user": item_user} if item_user else {}),
            "item": {"type": "message", "channel": channel, "ts": item_ts or f"{now:.6f}"},
            "event_ts": f"{now:.6f}",
        },
    }


def emoji_changed_event(subtype: str, *, team_id: str = "T0DEMO",
                        event_id: Optional[str] = None, **fields) -> dict:
    """An Events API envelope around an emoji_changed event: subtype `add` (name,
    value), `remove` (names) or `rename` (old_name, new_name, value)."""
    now = time.time()
    return {
        "token": "unused", "team_id": team_id, "api_app_id": "A0EMOJIBOARD",
        "type": "event_callback", "event_id": event_id or "Ev" + uuid.uuid4().hex[:16].upper(),
        "event_time": int(now),
        "event": {"type": "emoji_changed", "subtype": subtype, "event_ts": f"{now:.6f}", **fields},
    }


def encode(envelope: dict) -> bytes:
    return json.dumps(envelope).encode("utf-8")


# The demo workspace's people and channels (the Slack stand-in's, devkit/slack_api.py):
# with the local stack's token the app learns their names, faces and which channel is
# private from it, so every board has something to show.
DEMO_PEOPLE = list(slack_api.PEOPLE)
DEMO_CHANNELS = list(slack_api.CHANNELS) + [slack_api.DM]
BOT_SHARE = 0.03  # now and then the demo bot reacts: it counts nowhere once known
NO_AUTHOR_SHARE = 0.05  # item_user is optional: now and then Slack names no author
DM_SHARE = 0.05  # now and then a reaction in a DM: in every total, on no channel board


@dataclass
class Traffic:
    """A random walk of a team reacting: mostly adds, some removals of earlier ones."""
    team_id: str = "T0DEMO"
    seed: Optional[int] = None
    users: List[str] = field(default_factory=lambda: list(DEMO_PEOPLE))
    channels: List[str] = field(default_factory=lambda: list(DEMO_CHANNELS))
    bot: Optional[str] = slack_api.BOT
    removal_share: float = 0.15

    def __post_init__(self):
        self._random = random.Random(self.seed)
        # (user, channel, ts, reaction, item_user)
        self._live: List[Tuple[str, str, str, str, Optional[str]]] = []

    def events(self) -> Iterator[dict]:
        names, weights = zip(*POPULAR)
        while True:
            if self._live and self._random.random() < self.removal_share:
                user, channel, ts, reaction, author = self._live.pop(
                    self._random.randrange(len(self._live)))
                yield reaction_event(reaction, added=False, team_id=self.team_id, user=user,
                                     channel=channel, item_ts=ts, item_user=author)
                continue
            name = self._random.choices(names, weights)[0]
            if name in TONED and self._random.random() < 0.4:
                name += self._random.choice(SKIN_TONES)
            rooms = [c for c in self.channels if c != slack_api.DM] or self.channels
            user, channel = self._random.choice(self.users), self._random.choice(rooms)
            if self.bot and self._random.random() < BOT_SHARE:
                user = self.bot
            # Someone else's message (or now and then the bot's), so receivers fill too.
            author = self._random.choice([u for u in self.users if u != user] or self.users)
            if self.bot and self._random.random() < BOT_SHARE:
                author = self.bot
            if self._random.random() < NO_AUTHOR_SHARE:
                author = None
            if slack_api.DM in self.channels and self._random.random() < DM_SHARE:
                # Only its two members react in a DM, to each other's messages.
                channel = slack_api.DM
                user, author = self._random.sample(slack_api.DM_MEMBERS, 2)
            ts = f"{time.time() - self._random.random() * 3600:.6f}"
            self._live.append((user, channel, ts, name, author))
            yield reaction_event(name, team_id=self.team_id, user=user, channel=channel,
                                 item_ts=ts, item_user=author)


# What the Slack route answers for an event it applied (`{"ok": true, "result": ...}`).
# The demo bot's reactions are ignored once the app knows it is one: expected too.
APPLIED = {"counted", "duplicate", "unchanged", "applied", "reload", "stale",
           f"ignored: user {slack_api.BOT} is a bot"}


def outcome(response: requests.Response) -> str:
    """What the route did with one event: its `result` ("counted", "duplicate"...),
    "ignored: <reason>" (e.g. another workspace's event), or the HTTP status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 200 and isinstance(body, dict):
        if "result" in body:
            return str(body["result"])
        if "ignored" in body:
            return f"ignored: {body['ignored']}"
    return str(response.status_code)


def describe(outcome_: str) -> str:
    """An outcome for people: "ignored (team T0DEMO is not this deployment's: pass
    --team-id)" says how to make such events count."""
    if outcome_.startswith("ignored: "):
        reason = outcome_[len("ignored: "):]
        hint = ": pass --team-id" if reason.startswith("team ") else ""
        return f"ignored ({reason}{hint})"
    return outcome_


def send(url: str, secret: str, rate: float, count: Optional[int], team_id: str = "T0DEMO",
         stop=None, session: Optional[requests.Session] = None, echo=None) -> Dict[str, int]:
    """POST signed events to `url` at `rate` per second; returns how many of each
    outcome (`outcome`: "counted", "ignored: ...", "401", "no answer"...)."""
    session = session or requests.Session()
    outcomes: Dict[str, int] = {}
    interval = 1.0 / rate if rate > 0 else 0.0
    next_at = time.monotonic()
    for sent, envelope in enumerate(Traffic(team_id=team_id).events()):
        if (count is not None and sent >= count) or (stop is not None and stop.is_set()):
            break
        body = encode(envelope)
        try:
            response = session.post(url, data=body, headers=signed_headers(body, secret),
                                     timeout=10)
            result, status = outcome(response), response.status_code
        except requests.RequestException as error:
            result, status = "no answer", 0
            if echo:
                echo(f"request failed: {error}")
        outcomes[result] = outcomes.get(result, 0) + 1
        if echo and status and status != 200:
            echo(f"{envelope['event']['type']} :{envelope['event']['reaction']}: -> {status}")
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            (stop.wait(delay) if stop is not None else time.sleep(delay))
    return outcomes


# ---- Emojiboard inside Slack: a slash command, the App Home, its buttons ----------------
# What Slack sends the app's other Request URLs, as its docs show them. Each body is
# signed as events are (`signed_headers`); `form_headers` also says it is a form.

APP_ID = "A0EMOJIBOARD"  # the api_app_id reaction_event uses
TEAM_DOMAIN = "emojiboard-demo"  # the demo workspace's (devkit/demo_workspace.py)


def form_headers(body: bytes, secret: str, timestamp: Optional[int] = None) -> Dict[str, str]:
    """`signed_headers` for a form-encoded body (a slash command, an interaction)."""
    return {**signed_headers(body, secret, timestamp),
            "Content-Type": "application/x-www-form-urlencoded"}


def _digits(n: int) -> str:
    return "".join(random.choice("0123456789") for _ in range(n))


def _trigger_id() -> str:
    """Slack's shape: "13345224609.738474920.8088930838d88f008e0"."""
    return f"{_digits(11)}.{_digits(9)}.{uuid.uuid4().hex}"


def _user_name(user: str) -> str:
    return slack_api.PEOPLE[user][0] if user in slack_api.PEOPLE else user.lower()


def _channel_name(channel: str) -> str:
    """As a slash command names it: a DM is "directmessage", a group DM "privategroup"."""
    if channel in slack_api.CHANNELS:
        return slack_api.CHANNELS[channel][0]
    if channel.startswith("D"):
        return "directmessage"
    return channel.lower()


def slash_command(text: str, *, user: str = "UDEMOADA", channel: str = "CDEMOGENERAL",
                  team_id: str = "T0DEMO", command: str = "/emojiboard",
                  enterprise_id: Optional[str] = None) -> bytes:
    """The form-encoded body Slack POSTs to a slash command's Request URL, every field
    of docs.slack.dev/interactivity/implementing-slash-commands ("token=…&team_id=…&
    team_domain=…&enterprise_id=…&enterprise_name=…&channel_id=…&channel_name=…&user_id=
    …&user_name=…&command=…&text=…&api_app_id=…&is_enterprise_install=…&response_url=…&
    trigger_id=…"); the enterprise fields only for an Enterprise organization's."""
    fields: List[Tuple[str, str]] = [("token", "unused"), ("team_id", team_id),
                                     ("team_domain", TEAM_DOMAIN)]
    if enterprise_id:
        fields += [("enterprise_id", enterprise_id), ("enterprise_name", "Demo Enterprise")]
    fields += [("channel_id", channel), ("channel_name", _channel_name(channel)),
               ("user_id", user), ("user_name", _user_name(user)), ("command", command),
               ("text", text), ("api_app_id", APP_ID), ("is_enterprise_install", "false"),
               ("response_url", f"https://hooks.slack.com/commands/{team_id}/{_digits(13)}/"
                                f"{uuid.uuid4().hex[:24]}"),
               ("trigger_id", _trigger_id())]
    return urllib.parse.urlencode(fields).encode("utf-8")


def app_home_opened_event(user: str, *, team_id: str = "T0DEMO", tab: str = "home",
                          channel: Optional[str] = None, view: Optional[dict] = None,
                          event_id: Optional[str] = None) -> dict:
    """An Events API envelope around app_home_opened (docs.slack.dev/reference/events/
    app_home_opened): the user, the app's DM with them (`channel`), the `tab` opened
    ("home" or "messages"), and `view`, the Home tab's current view, which Slack sends
    only once one was published (pass what views.publish answered)."""
    now = time.time()
    event: Dict[str, Any] = {"type": "app_home_opened", "user": user,
                             "channel": channel or "D" + user[1:], "tab": tab,
                             "event_ts": f"{now:.6f}"}
    if view is not None and tab == "home":
        event["view"] = view
    return {
        "token": "unused", "team_id": team_id, "api_app_id": APP_ID,
        "type": "event_callback", "event_id": event_id or "Ev" + uuid.uuid4().hex[:16].upper(),
        "event_time": int(now), "event": event,
    }


def block_action(action_id: str, value: str, *, user: str = "UDEMOADA",
                 team_id: str = "T0DEMO", view_id: Optional[str] = None,
                 block_id: Optional[str] = None, text: Optional[str] = None,
                 view: Optional[dict] = None) -> bytes:
    """The form-encoded body (`payload=` JSON) Slack POSTs to the Interactivity Request
    URL when someone presses a button on the app's Home tab: a block_actions payload
    (docs.slack.dev/reference/interaction-payloads/block_actions-payload) from a
    container of type "view". `view`: the Home view as views.publish answered it, else
    an empty one with `view_id`."""
    now = time.time()
    view_id = (view or {}).get("id") or view_id or "V" + uuid.uuid4().hex[:10].upper()
    home = view if view is not None else {
        "id": view_id, "team_id": team_id, "type": "home", "blocks": [],
        "private_metadata": "", "callback_id": "", "state": {"values": {}},
        "hash": f"{int(now)}.{_digits(8)}", "clear_on_close": False, "notify_on_close": False, "close": None, "submit": None,
        "previous_view_id": None, "root_view_id": view_id, "app_id": APP_ID,
        "external_id": "", "app_installed_team_id": team_id, "bot_id": "B" + slack_api.BOT[1:]}
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": _user_name(user), "name": _user_name(user),
                 "team_id": team_id},
        "api_app_id": APP_ID, "token": "unused",
        "container": {"type": "view", "view_id": view_id},
        "trigger_id": _trigger_id(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None, "is_enterprise_install": False,
        "view": home,
        "actions": [{"action_id": action_id, "block_id": block_id or uuid.uuid4().hex[:5],
                     "text": {"type": "plain_text", "text": text or value, "emoji": True},
                     "value": value, "type": "button", "action_ts": f"{now:.6f}"}],
        "state": {"values": {}},
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode("utf-8")


def post_slash(url: str, secret: str, text: str, *, session: Optional[requests.Session] = None,
               timeout: float = 10, **fields) -> requests.Response:
    """POST a signed slash command to `url` (the app's /slack/commands)."""
    body = slash_command(text, **fields)
    return (session or requests).post(url, data=body, headers=form_headers(body, secret),
                                      timeout=timeout)
