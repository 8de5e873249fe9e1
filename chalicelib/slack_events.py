"""Turn a verified Slack Events API body into one typed value, or a BadRequest.

Only the fields Emojiboard uses are checked; anything else in the body is ignored,
as Slack adds fields over time.
"""
import json
import re
import time
from dataclasses import dataclass
from typing import Any, Optional, Tuple, Union
from urllib.parse import urlsplit

from .names import canonical, name_ok, split_reaction

MAX_ID = 255
SLACKBOT = "USLACKBOT"  # Slack's own bot: users.list lists it with is_bot false
# Slack stamps an event when it happens and signs the request moments later; the
# signature's replay window is 5 minutes, so no genuine event is dated further ahead.
MAX_FUTURE_SECONDS = 300


class BadRequest(ValueError):
    """The body is signed but not a well-formed Slack event; nothing is counted."""


@dataclass(frozen=True)
class UrlVerification:
    challenge: str


@dataclass(frozen=True)
class Ignored:
    reason: str


@dataclass(frozen=True)
class HomeOpened:
    """`app_home_opened`: someone opened the app's Home tab (or its Messages tab,
    `tab: messages`, which has nothing to show)."""
    event_id: str
    team_id: str
    user: str
    tab: str


@dataclass(frozen=True)
class Reaction:
    event_id: str
    team_id: str
    added: bool          # reaction_added (True) or reaction_removed (False)
    user: str
    reaction: str        # e.g. "+1::skin-tone-2": Slack's, standard aliases folded
    item: str            # what was reacted to, e.g. "C123/1700000000.000100"
    event_time: float    # seconds since the epoch
    item_user: Optional[str] = None  # whose message or file it is, when Slack says

    @property
    def channel(self) -> Optional[str]:
        """The conversation of a message reaction; files have none."""
        head, _, rest = self.item.partition("/")
        return head if rest and head not in ("file", "file_comment") else None

    @property
    def emoji(self) -> str:
        """Skin tones fold into the base emoji."""
        return self.reaction.split("::", 1)[0]


@dataclass(frozen=True)
class EmojiChanged:
    """A custom emoji added, removed or renamed: `removed` names go, `added` comes.
    Slack sends `add` {name, value}, `remove` {names} and `rename` {old_name,
    new_name, value}; a value is an image URL or `alias:{other name}`. With no
    subtype, or one this app does not know, Slack's `emoji_changed` page says to
    reload every emoji with `emoji.list`: `reload` is then True and nothing else set."""
    event_id: str
    team_id: str
    removed: Tuple[str, ...]
    added: Optional[Tuple[str, str]]  # (name, value)
    reload: bool = False


@dataclass(frozen=True)
class DirectoryChange:
    """A person or channel as Slack now says it is (user_change, team_join,
    channel_created, channel_rename, group_rename); `updated` orders them."""
    event_id: str
    team_id: str
    kind: str            # "user" or "channel"
    id: str
    name: str
    avatar_url: Optional[str]
    bot: bool
    private: bool
    deleted: bool
    updated: float       # the event's event_ts (or the envelope's event_time)
    created: bool = False  # channel_created: a new public channel, for the app to join


SlackEvent = Union[UrlVerification, Ignored, Reaction, EmojiChanged, DirectoryChange, HomeOpened]
USER_EVENTS = ("user_change", "team_join")
CHANNEL_EVENTS = {"channel_created": False, "channel_rename": False, "group_rename": True}
MAX_EMOJI_VALUE = 1024
MAX_REMOVED = 1000


def _field(obj: dict, name: str, where: str, max_len: int = MAX_ID) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{where}.{name} must be a non-empty string")
    if len(value) > max_len:
        raise BadRequest(f"{where}.{name} is longer than {max_len} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800"): JSON allows it, text does not
        raise BadRequest(f"{where}.{name} is not valid Unicode text") from None
    return value


# Slack's ids are upper-case letters and digits (`U024BE7LH`, `C0123`); this is a
# little wider, but keeps every id free of the `#`, `/` and `:` that join keys.
_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _slack_id(obj: dict, name: str, where: str) -> str:
    value = _field(obj, name, where)
    if not _ID.fullmatch(value):
        raise BadRequest(f"{where}.{name} is not a Slack id (letters and digits)")
    return value


def _item_key(item: Any) -> str:
    if not isinstance(item, dict):
        raise BadRequest("event.item must be an object")
    kind = _field(item, "type", "event.item")
    if kind == "message":
        return f"{_slack_id(item, 'channel', 'event.item')}/{_field(item, 'ts', 'event.item')}"
    if kind == "file":
        return f"file/{_field(item, 'file', 'event.item')}"
    if kind == "file_comment":
        return f"file_comment/{_field(item, 'file_comment', 'event.item')}"
    raise BadRequest(f"event.item.type {kind!r} is not one Slack sends for reactions")


def _event_time(event: dict, envelope: dict, now: float) -> float:
    raw = event.get("event_ts", envelope.get("event_time"))
    if isinstance(raw, bool):
        raw = None
    try:
        value = float(raw)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an integer like 10**400
        raise BadRequest("event.event_ts must be a Slack timestamp such as '1700000000.000100'") from None
    if not 0 < value < 1e11:
        raise BadRequest("event.event_ts is out of range")
    if value > now + MAX_FUTURE_SECONDS:
        # Refused, not clamped: a date Slack cannot have sent says the event is not
        # genuine, and counting it at another time would be a guess.
        raise BadRequest("event.event_ts is in the future")
    return value


def _emoji_name(obj: dict, name: str, where: str = "event") -> str:
    value = _field(obj, name, where)
    if not name_ok(value):
        raise BadRequest(f"{where}.{name} is not an emoji name (lower case, no spaces or "
                         "punctuation but _ + - ', one script)")
    return value


def parse(body: bytes, now: Optional[float] = None) -> SlackEvent:
    try:
        envelope = json.loads(body)
    except (ValueError, RecursionError):
        raise BadRequest("body is not valid JSON") from None
    if not isinstance(envelope, dict):
        raise BadRequest("body must be a JSON object")
    kind = _field(envelope, "type", "body")
    if kind == "url_verification":
        return UrlVerification(_field(envelope, "challenge", "body", max_len=1024))
    if kind != "event_callback":
        return Ignored(f"envelope type {kind!r}")

    event = envelope.get("event")
    if not isinstance(event, dict):
        raise BadRequest("body.event must be an object")
    event_type = _field(event, "type", "event")
    if event_type == "emoji_changed":
        return _emoji_changed(envelope, event)
    if event_type in USER_EVENTS or event_type in CHANNEL_EVENTS:
        return _directory_change(envelope, event, time.time() if now is None else now)
    if event_type == "app_home_opened":
        return HomeOpened(_field(envelope, "event_id", "body"), _field(envelope, "team_id", "body"),
                          _slack_id(event, "user", "event"), _field(event, "tab", "event"))
    if event_type not in ("reaction_added", "reaction_removed"):
        return Ignored(f"event type {event_type!r}")

    reaction = reaction_name(_field(event, "reaction", "event", max_len=1024))
    if reaction is None:
        raise BadRequest("event.reaction is not an emoji name (lower case, no spaces or "
                         "punctuation but _ + - ', one script, then ::skin-tone-N)")
    if event.get("user") == SLACKBOT:
        return Ignored("a reaction by Slackbot")
    return Reaction(
        event_id=_field(envelope, "event_id", "body"),
        team_id=_field(envelope, "team_id", "body"),
        added=event_type == "reaction_added",
        user=_slack_id(event, "user", "event"),
        reaction=reaction,
        item=_item_key(event.get("item")),
        event_time=_event_time(event, envelope, time.time() if now is None else now),
        item_user=_slack_id(event, "item_user", "event") if event.get("item_user") else None,
    )


def reaction_name(raw: str) -> Optional[str]:
    """A reaction as Slack names it (`thumbsup::skin-tone-2`), with the standard alias
    folded (`+1::skin-tone-2`); None if it is no emoji name."""
    parts = split_reaction(raw)
    return None if parts is None else "::".join((canonical(parts[0]),) + parts[1])


def emoji_value_ok(value: str) -> bool:
    """An image URL Slack could serve (http or https, nothing a page could run), or an alias."""
    if value.startswith("alias:"):
        return name_ok(value[len("alias:"):])
    if len(value) > MAX_EMOJI_VALUE or any(c.isspace() or ord(c) < 32 or c == "\x7f"
                                           for c in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:  # e.g. "http://[::1" (an unclosed IPv6 host)
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _emoji_value(event: dict) -> str:
    value = _field(event, "value", "event", max_len=MAX_EMOJI_VALUE)
    if not emoji_value_ok(value):
        raise BadRequest("event.value must be an http(s) image URL or alias:name")
    return value


def _emoji_changed(envelope: dict, event: dict) -> EmojiChanged:
    ids = dict(event_id=_field(envelope, "event_id", "body"),
               team_id=_field(envelope, "team_id", "body"))
    subtype = event.get("subtype")
    if subtype == "add":
        return EmojiChanged(**ids, removed=(), added=(_emoji_name(event, "name"),
                                                      _emoji_value(event)))
    if subtype == "remove":
        names = event.get("names")
        if not isinstance(names, list) or not 0 < len(names) <= MAX_REMOVED:
            raise BadRequest(f"event.names must be a list of 1 to {MAX_REMOVED} emoji names")
        if not all(name_ok(n) for n in names):
            raise BadRequest("event.names must hold emoji names")
        return EmojiChanged(**ids, removed=tuple(dict.fromkeys(names)), added=None)
    if subtype == "rename":
        old, new = _emoji_name(event, "old_name"), _emoji_name(event, "new_name")
        return EmojiChanged(**ids, removed=(old,), added=(new, _emoji_value(event)))
    # Slack: "an absent subtype or unrecognized subtype should be handled by reloading
    # all emojis via the emoji.list method" (Events API, emoji_changed).
    return EmojiChanged(**ids, removed=(), added=None, reload=True)


def _directory_change(envelope: dict, event: dict, now: float) -> DirectoryChange:
    # Shapes per Slack's event pages (docs.slack.dev/reference/events/user_change,
    # team_join, channel_created, channel_rename, group_rename): `user` is a full user
    # object; `channel` is {id, name, created, ...}.
    kind = event["type"]
    ids = dict(event_id=_field(envelope, "event_id", "body"),
               team_id=_field(envelope, "team_id", "body"),
               updated=_event_time(event, envelope, now))
    if kind in USER_EVENTS:
        user = event.get("user")
        if not isinstance(user, dict):
            raise BadRequest("event.user must be a user object")
        profile = user.get("profile", {})
        if not isinstance(profile, dict):
            raise BadRequest("event.user.profile must be an object")
        ident = _slack_id(user, "id", "event.user")
        name = next((_field(obj, key, where) for obj, key, where in (
            (profile, "display_name", "event.user.profile"),
            (profile, "real_name", "event.user.profile"),
            (user, "real_name", "event.user"), (user, "name", "event.user"))
            if isinstance(obj.get(key), str) and obj[key].strip()), None)
        if name is None:
            raise BadRequest("event.user has no name (profile.display_name, "
                             "profile.real_name or name)")
        avatar = profile.get("image_72")
        avatar = avatar if isinstance(avatar, str) and not avatar.startswith("alias:") \
            and emoji_value_ok(avatar) else None
        return DirectoryChange(**ids, kind="user", id=ident, name=name, avatar_url=avatar,
                               bot=user.get("is_bot") is True or ident == SLACKBOT,
                               private=False, deleted=user.get("deleted") is True)
    channel = event.get("channel")
    if not isinstance(channel, dict):
        raise BadRequest("event.channel must be a channel object")
    return DirectoryChange(**ids, kind="channel", id=_slack_id(channel, "id", "event.channel"),
                           name=_field(channel, "name", "event.channel"), avatar_url=None,
                           bot=False, private=CHANNEL_EVENTS[kind], deleted=False,
                           created=kind == "channel_created")
