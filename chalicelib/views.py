"""What a page can show: a board in a window, optionally narrowed, and the topic a
page showing it subscribes to. The HTTP API, snapshots and the fan-out share it.

  board       rows keyed by  counters (scope)             narrowed by (emoji only)
  emoji       emoji          all, C:{c}, G:{u}, R:{u}     channel, giver, receiver
  channels    channel id     channels
  givers      user id        givers
  receivers   user id        receivers
  unused      emoji          all (custom emoji at 0)
"""
import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Tuple

from . import connections
from .counts import CHANNELS, GIVERS, RECEIVERS, SCOPE
from .windows import WINDOWS

BOARDS = ("emoji", "channels", "givers", "receivers", "unused")
PEOPLE = ("givers", "receivers")
FILTERS = {"channel": "C", "giver": "G", "receiver": "R"}  # filter -> scope prefix
PERSON_FILTERS = ("giver", "receiver")
UNUSED_WINDOWS = ("30d", "all")
ROW_KEY = {"emoji": "emoji", "unused": "emoji", "channels": "channel",
           "givers": "user", "receivers": "user"}
_BOARD_SCOPE = {"channels": CHANNELS, "givers": GIVERS, "receivers": RECEIVERS,
                "unused": SCOPE}
# The same rule the Slack route applies to the ids it counts (slack_events._ID).
_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
DEFAULT_WINDOW = "all"
# The topic of a page that has not said which view it shows, and of pages of earlier
# releases (whose snapshot requests name no board): the emoji board in every window.
EVERY_WINDOW = connections.EVERY_WINDOW


class BadQuery(ValueError):
    pass


@dataclass(frozen=True)
class View:
    board: str
    window: Optional[str]  # None: every window (the EVERY_WINDOW topic)
    narrowed: Optional[Tuple[str, str]] = None  # ("channel", "C123"), emoji board only

    @property
    def scope(self) -> str:
        """The counters this view's rows are."""
        if self.narrowed:
            kind, ident = self.narrowed
            return f"{FILTERS[kind]}:{ident}"
        return _BOARD_SCOPE.get(self.board, SCOPE)

    @property
    def row_key(self) -> str:
        return ROW_KEY[self.board]

    @property
    def topic(self) -> str:
        """What the connections table records for a page showing this view."""
        if self.window is None:
            return EVERY_WINDOW
        base = f"{self.board}/{self.window}"
        return f"{base}/{self.narrowed[0]}={self.narrowed[1]}" if self.narrowed else base

    def head(self) -> dict:
        """The fields that say which view a message is about."""
        head = {"board": self.board}
        if self.window is not None:
            head["window"] = self.window
        if self.narrowed:
            head[self.narrowed[0]] = self.narrowed[1]
        return head


def _text(value: Any, name: str) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadQuery(f"{name} must be text; got {type(value).__name__}")
    return value


def _shown(value: str) -> str:
    return value if len(value) <= 20 else value[:20] + "…"


def parse_view(params: Mapping[str, Any], people_boards: bool = True) -> View:
    """The view a request asks for (`board`, `window`, at most one of `channel`,
    `giver`, `receiver`), or a BadQuery that says what is wrong. Whether a channel
    filter names a private conversation is for the caller to check (it needs the
    directory)."""
    board = _text(params.get("board"), "board")
    board = "emoji" if board is None else board
    if board not in BOARDS:
        raise BadQuery(f"board must be one of {', '.join(BOARDS)}; got {_shown(board)!r}")
    window = _text(params.get("window"), "window")
    window = DEFAULT_WINDOW if window is None else window
    if window not in WINDOWS:
        raise BadQuery(f"window must be one of {', '.join(WINDOWS)}; got {_shown(window)!r}")
    if board == "unused" and window not in UNUSED_WINDOWS:
        raise BadQuery(f"the unused board's window is one of {', '.join(UNUSED_WINDOWS)}; "
                       f"got {window!r}")
    given = [(k, _text(params.get(k), k)) for k in FILTERS if params.get(k) is not None]
    if not people_boards and (board in PEOPLE or any(k in PERSON_FILTERS for k, _ in given)):
        raise BadQuery("people boards are turned off in this workspace")
    if len(given) > 1:
        raise BadQuery(f"narrow by one of channel, giver, receiver, not "
                       f"{' and '.join(k for k, _ in given)}")
    if given and board != "emoji":
        raise BadQuery(f"{given[0][0]} narrows the emoji board only, not {board}")
    if given and not _ID.fullmatch(given[0][1]):
        raise BadQuery(f"{given[0][0]} must be a Slack id such as "
                       f"{'C0123ABCD' if given[0][0] == 'channel' else 'U0123ABCD'}; "
                       f"got {_shown(given[0][1])!r}")
    return View(board, window, given[0] if given else None)


def from_topic(topic: str) -> Optional[View]:
    """A connection's topic back as its view; None for one this code does not know
    (a record written by another release)."""
    if topic == EVERY_WINDOW:
        return View("emoji", None)
    parts = topic.split("/")
    params = dict(zip(("board", "window"), parts[:2]))
    for extra in parts[2:3]:
        kind, _, ident = extra.partition("=")
        params[kind] = ident
    try:
        view = parse_view(params)
    except BadQuery:
        return None
    return view if view.topic == topic else None
