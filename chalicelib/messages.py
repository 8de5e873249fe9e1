"""The JSON messages a dashboard receives over its WebSocket.

API Gateway caps a WebSocket frame at 32 KB (and a message at 128 KB), so every
message is built to stay under one frame: long row lists are split into parts.
"""
import json
from typing import Iterable, List

MAX_MESSAGE_BYTES = 32 * 1024


def encode(message: dict) -> bytes:
    text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (the Slack route refuses them, but a row stored before it
        # did may hold one) has no UTF-8 form; JSON's \u escapes carry it instead, so
        # the message still goes out rather than blanking a page's board.
        return json.dumps(message, separators=(",", ":")).encode("ascii")


def pong() -> bytes:
    return encode({"type": "pong"})


def error(text: str) -> bytes:
    return encode({"type": "error", "message": text})


def update(head: dict, changes: Iterable[dict]) -> List[bytes]:
    """`{"type": "update", <view>, "changes": [...]}`, as many as the size limit
    needs. `head` says which view (board, window, filter) the changes are of."""
    return _split({"type": "update", **head}, "changes", list(changes))


def snapshot(head: dict, rows: List[dict], total: int, size: int) -> List[bytes]:
    """`{"type": "snapshot", <view>, "total": t, "size": n, "leaderboard": [...]}`;
    when split, each part carries `part` and `parts` so the page can tell it has the
    whole board. `total` counts over the whole board, `size` its rows, not only these."""
    head = {"type": "snapshot", **head, "total": total, "size": size}
    chunks = _chunks({**head, "part": 999, "parts": 999}, "leaderboard", rows)
    return [encode({**head, "leaderboard": chunk,
                    **({"part": i + 1, "parts": len(chunks)} if len(chunks) > 1 else {})})
            for i, chunk in enumerate(chunks)]


def _split(head: dict, key: str, rows: List[dict]) -> List[bytes]:
    return [encode({**head, key: chunk}) for chunk in _chunks(head, key, rows)]


def _chunks(head: dict, key: str, rows: List[dict]) -> List[List[dict]]:
    """Greedy packing of rows into lists whose message stays under the limit."""
    budget = MAX_MESSAGE_BYTES - len(encode({**head, key: []}))
    chunks, current, size = [], [], 0
    for row in rows:
        row_size = len(encode(row)) + 1  # the comma
        if row_size > budget:
            raise ValueError(f"a single row is larger than {MAX_MESSAGE_BYTES} bytes")
        if current and size + row_size > budget:
            chunks.append(current)
            current, size = [], 0
        current.append(row)
        size += row_size
    chunks.append(current)
    return chunks
