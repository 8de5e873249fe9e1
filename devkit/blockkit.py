"""Block Kit for people: what the app sends Slack (a Home tab's view, a message's blocks,
a slash command's reply) as plain text for a terminal (`blocks_text`) and as safe HTML
(`blocks_html`) for the devkit's /_devkit/slack page. Both walk the blocks the same way.

The block types the app uses are rendered (docs.slack.dev/reference/block-kit/blocks):
`header` (plain_text), `section` (text, fields, an accessory button), `context` (text
and image elements), `divider`, `actions` (buttons, or a select's placeholder), `image`
(its alt_text) and `markdown` (its text); any other block is named, not guessed at.

mrkdwn (docs.slack.dev/messaging/formatting-message-text): `*bold*`, `_italic_`,
`~strike~` and `` `code` `` are shown as such in HTML and left as they are in text;
`<https://…|label>` links, `<@U123>` mentions, `<#C123|name>` channels and
`<!here>` are resolved; `&amp;`, `&lt;` and `&gt;` (how an app must escape those three
characters) are shown as the characters. `:emoji_name:` stays as text. Everything is
HTML-escaped: names are untrusted."""
import html
import re
from typing import Any, Callable, List, Optional

DIVIDER = "-" * 40
_TOKEN = re.compile(r"<([^<>\n]+)>")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))  # &amp; last: "&amp;lt;" is "&lt;"
_STYLES = [  # (mrkdwn marker, HTML tag): the marker hugs non-space text, not inside a word
    ("`", "code"), ("*", "b"), ("_", "i"), ("~", "s")]


def _unescape(text: str) -> str:
    for entity, char in _ENTITIES:
        text = text.replace(entity, char)
    return text


def _token(inner: str) -> Optional[tuple]:
    """A `<…>` control sequence as (kind, target, label), or None if it is none of
    Slack's (then it is shown literally)."""
    target, _, label = inner.partition("|")
    if target.startswith("@") and len(target) > 1:
        return "user", target[1:], label or target[1:]
    if target.startswith("#") and len(target) > 1:
        return "channel", target[1:], label or target[1:]
    if target.startswith("!") and len(target) > 1:
        name = target[1:].split("^")[0]
        return "special", name, label or name
    if re.match(r"(?i)(https?://|mailto:)", target):
        return "link", target, label or target
    return None


def _styled_html(text: str) -> str:
    """Escaped plain mrkdwn text with its bold, italic, strike and code as HTML."""
    out = html.escape(_unescape(text), quote=True)
    for marker, tag in _STYLES:
        m = re.escape(marker)
        out = re.sub(rf"(?<![\w{m}]){m}(?=\S)([^\n]*?\S){m}(?![\w{m}])", rf"<{tag}>\1</{tag}>", out)
    return out


def mrkdwn_html(text: str) -> str:
    """mrkdwn as safe HTML."""
    parts: List[str] = []
    last = 0
    for match in _TOKEN.finditer(text):
        parts.append(_styled_html(text[last:match.start()]))
        token = _token(match.group(1))
        if token is None:
            parts.append(html.escape(_unescape(match.group(0))))
        else:
            kind, target, label = token
            label_html = html.escape(_unescape(label))
            if kind == "link":
                parts.append(f'<a href="{html.escape(_unescape(target), quote=True)}" '
                             f'rel="noreferrer noopener">{label_html}</a>')
            else:
                prefix = {"user": "@", "channel": "#", "special": "@"}[kind]
                parts.append(f'<span class="mention">{prefix}{label_html}</span>')
        last = match.end()
    parts.append(_styled_html(text[last:]))
    return "".join(parts)


def mrkdwn_text(text: str) -> str:
    """mrkdwn as plain text: links as `label (url)`, mentions as @id, channels as #name."""
    def resolve(match: "re.Match[str]") -> str:
        token = _token(match.group(1))
        if token is None:
            return _unescape(match.group(0))
        kind, target, label = token
        if kind == "link":
            return _unescape(label) if label == target else f"{_unescape(label)} ({_unescape(target)})"
        return {"user": "@", "channel": "#", "special": "@"}[kind] + _unescape(label)
    parts, last = [], 0
    for match in _TOKEN.finditer(text):
        parts.append(_unescape(text[last:match.start()]))
        parts.append(resolve(match))
        last = match.end()
    parts.append(_unescape(text[last:]))
    return "".join(parts)


def _text_of(obj: Any) -> str:
    """A text object's text as plain text (mrkdwn resolved)."""
    if not isinstance(obj, dict):
        return "" if obj is None else str(obj)
    text = str(obj.get("text", ""))
    return mrkdwn_text(text) if obj.get("type") == "mrkdwn" else text


def _html_of(obj: Any) -> str:
    """A text object as safe HTML: mrkdwn rendered, plain_text escaped."""
    if not isinstance(obj, dict):
        return html.escape("" if obj is None else str(obj))
    text = str(obj.get("text", ""))
    return mrkdwn_html(text) if obj.get("type") == "mrkdwn" else html.escape(text)


def _element_label(element: Any, text_of: Callable[[Any], str]) -> Optional[str]:
    """An interactive element's visible label: a button's text, a select's placeholder,
    an overflow menu; None for what has none."""
    if not isinstance(element, dict):
        return None
    kind = element.get("type", "")
    if kind == "button":
        return text_of(element.get("text"))
    if "placeholder" in element:
        return text_of(element.get("placeholder")) + " \u25be"
    if kind == "overflow":
        return "\u22ef"
    return kind or None


def _blocks(blocks: Any) -> List[dict]:
    return [b for b in blocks if isinstance(b, dict)] if isinstance(blocks, list) else []


def blocks_text(blocks: Any) -> str:
    """Blocks as plain text, one block after another, for a terminal."""
    lines: List[str] = []
    for block in _blocks(blocks):
        kind = block.get("type")
        if kind == "header":
            title = _text_of(block.get("text"))
            lines += [title, "=" * max(3, len(title))]
        elif kind == "section":
            if block.get("text"):
                lines.append(_text_of(block["text"]))
            lines += ["  " + _text_of(f) for f in block.get("fields") or []]
            label = _element_label(block.get("accessory"), _text_of)
            if label and block["accessory"].get("type") != "image":
                lines.append(f"  [{label}]")
        elif kind == "context":
            lines.append("  ".join(
                f"[{e.get('alt_text', 'image')}]" if e.get("type") == "image" else _text_of(e)
                for e in block.get("elements") or [] if isinstance(e, dict)))
        elif kind == "divider":
            lines.append(DIVIDER)
        elif kind == "actions":
            labels = [_element_label(e, _text_of) for e in block.get("elements") or []]
            lines.append(" ".join(f"[{label}]" for label in labels if label))
        elif kind == "image":
            lines.append(f"[image: {block.get('alt_text', '')}]")
        elif kind == "markdown":
            lines.append(str(block.get("text", "")))
        else:
            lines.append(f"[{kind} block]")
    return "\n".join(lines)


def blocks_html(blocks: Any) -> str:
    """Blocks as safe HTML (every string escaped), for the devkit's page."""
    out: List[str] = []
    for block in _blocks(blocks):
        kind = block.get("type")
        if kind == "header":
            out.append(f'<h3 class="bk-header">{_html_of(block.get("text"))}</h3>')
        elif kind == "section":
            inner = ""
            if block.get("text"):
                inner += f'<div class="bk-text">{_html_of(block["text"])}</div>'
            fields = "".join(f"<div>{_html_of(f)}</div>" for f in block.get("fields") or [])
            if fields:
                inner += f'<div class="bk-fields">{fields}</div>'
            accessory = block.get("accessory")
            if isinstance(accessory, dict) and accessory.get("type") == "image":
                inner += f'<span class="bk-image">[{html.escape(str(accessory.get("alt_text", "")))}]</span>'
            else:
                label = _element_label(accessory, _html_of)
                if label:
                    inner += f'<span class="bk-button">{label}</span>'
            out.append(f'<div class="bk-section">{inner}</div>')
        elif kind == "context":
            parts = [f'<span class="bk-image">[{html.escape(str(e.get("alt_text", "image")))}]</span>'
                     if e.get("type") == "image" else f"<span>{_html_of(e)}</span>"
                     for e in block.get("elements") or [] if isinstance(e, dict)]
            out.append(f'<div class="bk-context">{" ".join(parts)}</div>')
        elif kind == "divider":
            out.append('<hr class="bk-divider">')
        elif kind == "actions":
            labels = [_element_label(e, _html_of) for e in block.get("elements") or []]
            buttons = "".join(f'<span class="bk-button">{label}</span>' for label in labels if label)
            out.append(f'<div class="bk-actions">{buttons}</div>')
        elif kind == "image":
            out.append(f'<div class="bk-image">[image: {html.escape(str(block.get("alt_text", "")))}]</div>')
        elif kind == "markdown":
            out.append(f'<div class="bk-text">{html.escape(str(block.get("text", "")))}</div>')
        else:
            out.append(f'<div class="bk-unknown">[{html.escape(str(kind))} block]</div>')
    return "\n".join(out)
