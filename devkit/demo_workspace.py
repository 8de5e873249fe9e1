"""The demo workspace the Slack stand-in (devkit/slack_api.py) serves by default: the
demo's people, its bot and Slackbot, its channels and DM, and a month of messages in
Slack's own response shapes (a workspace document, see slack_api's module doc).

A few hundred messages over the last 30 days, more on weekdays and in working hours,
busier in #general and #eng than in #design or #secret-plans; threads with replies
(some also sent to the channel); reactions with standard emoji, skin tones (each
person keeps theirs) and the demo's custom emoji, a few by the bot and Slackbot; and
some messages by the bot. The bot starts in #general and, invited, in #secret-plans:
the other public channels it has to join (conversations.join) before it may read them.
No reaction has more than a handful of people: the long lists Slack cuts (slack_api.
REACTION_USERS_CUT) are the tests' to build.

`build(now, ...)` is deterministic: a fixed seed, every timestamp relative to `now`.
"""
import random
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Optional, Tuple

from .slack_api import (BOT, BOT_NAME, CHANNELS, DM, DM_MEMBERS, IMAGES, PEOPLE, SLACKBOT,
                        TEAM, channel_object, im_object, ts_key, user_object)

SEED = 1815  # Ada's birth year
DAYS = 30
TEAM_NAME = "Emojiboard Demo"
TEAM_DOMAIN = "emojiboard-demo"
BOT_ID = "B" + BOT[1:]  # as user_object names a bot's profile.bot_id
APP_ID = "A0EMOJIBOARD"
ARCHIVED = "CDEMOOLDOFFICE"  # a public channel archived 20 days ago: never joinable
ARCHIVED_NAME = "old-office"
# The bot is in these from the start (#general by default, #secret-plans invited).
MEMBER_OF = ("CDEMOGENERAL", "CDEMOSECRET")

ADA, GRACE, ALAN, KATHERINE, LINUS, MARGARET, TIM, BARBARA = PEOPLE
# Who talks where, and how much: messages on a working day (a weekend day has
# WEEKEND_SHARE of that); the share of messages that start a thread.
ROOMS = {  # id -> (members who post, messages per working day, thread share)
    "CDEMOGENERAL": (list(PEOPLE), 4.5, 0.15),
    "CDEMOENG": ([ADA, GRACE, ALAN, LINUS, MARGARET, TIM], 4.0, 0.25),
    "CDEMORANDOM": (list(PEOPLE), 2.5, 0.10),
    "CDEMODESIGN": ([KATHERINE, BARBARA, MARGARET, TIM, ADA], 1.2, 0.20),
    "CDEMOSECRET": ([ADA, GRACE, KATHERINE], 0.6, 0.20),
    DM: (list(DM_MEMBERS), 0.5, 0.0),
    ARCHIVED: ([ALAN, TIM, BARBARA], 1.0, 0.10),
}
WEEKEND_SHARE = 0.15
ARCHIVED_AGO = 20  # days: the archived channel's messages are all older
REACTED_SHARE = 0.5   # of messages with any reaction
REPLY_REACTED_SHARE = 0.25
BROADCAST_SHARE = 0.1  # of replies also sent to the channel

TEXTS = {
    "CDEMOGENERAL": ["Good morning, everyone!", "Reminder: all-hands at 3pm today",
                     "Welcome to the team, say hi!", "Who's up for lunch at 12:30?",
                     "The office wifi is back", "Happy Friday! Great week, all",
                     "New coffee machine on the 2nd floor",
                     "Quarterly numbers are in: we beat the target",
                     "Please fill in the survey by Thursday", "Thanks for the cake!"],
    "CDEMOENG": ["Deploy to production is done", "CI is red on main, looking",
                 "PR up for review: the new importer", "Rolled back the last release, investigating",
                 "Who owns the flaky websocket test?",
                 "Benchmarks: p99 down from 120ms to 45ms", "Postmortem doc is up",
                 "Upgraded the runtime to 3.11 everywhere", "Anyone seen this stack trace before?",
                 "Shipped the rate limit backoff"],
    "CDEMORANDOM": ["Look at this cat", "Anyone watching the match tonight?", "Book club: next pick?",
                    "TIL: the first computer bug was an actual moth", "It's snowing!",
                    "Recommendations for a good keyboard?",
                    "This song has been stuck in my head all day",
                    "Who left their umbrella in room 4?"],
    "CDEMODESIGN": ["New mockups for the dashboard", "Which palette do we like, A or B?",
                    "Updated the icon set", "User testing notes are in the doc",
                    "Dark mode first pass", "Figma file cleaned up"],
    "CDEMOSECRET": ["Surprise party plan for Friday", "Budget approved!", "Don't tell the others yet",
                    "Cake ordered", "Venue confirmed"],
    DM: ["Have you got a minute?", "Thanks for the review", "Lunch?", "Sent you the doc"],
    ARCHIVED: ["Moving boxes arrive Monday", "Keys go back to reception", "Last day in the old office!",
               "Who wants the plants?"],
}
REPLIES = ["+1", "Agreed", "Nice!", "On it", "Thanks!", "Good catch", "Looking now",
           "Can we talk about this tomorrow?", "Done", "Same here", "Ha!", "Love it"]
BOT_TEXTS = ["Yesterday's top emoji: :tada: ahead of :+1:", "Weekly emoji leaderboard is up",
             "New custom emoji: :party-parrot:"]
SLACKBOT_TEXTS = ["Reminder: stand-up in 5 minutes", "Reminder: submit your timesheet"]

# Reactions: standard emoji by how often teams use them, and the demo's custom ones
# (the stems of demo_emoji/*.svg).
STANDARD = [("+1", 30), ("heart", 14), ("joy", 12), ("tada", 10), ("eyes", 9),
            ("white_check_mark", 8), ("fire", 7), ("raised_hands", 6), ("100", 5),
            ("pray", 4), ("rocket", 4), ("clap", 3), ("thinking_face", 3), ("sob", 2),
            ("wave", 1)]
CUSTOM_WEIGHT = 2
TONED = {"+1", "raised_hands", "pray", "clap", "wave"}
TONES = {GRACE: "::skin-tone-3", LINUS: "::skin-tone-2", KATHERINE: "::skin-tone-5",
         TIM: "::skin-tone-4", BARBARA: "::skin-tone-6"}  # the others use the default
BOT_REACTIONS = 6  # the bot acknowledges a few messages in #general
SLACKBOT_REACTIONS = 2


def custom_emoji() -> List[str]:
    return sorted(path.stem for path in IMAGES.glob("*.svg"))


def build(now: float, image_url: Callable[[str], str], avatar_url: Callable[[str], str]
          ) -> Dict[str, Any]:
    """The demo workspace document as of `now` (Unix seconds): `image_url(name)` is a
    custom emoji's image, `avatar_url(user)` a person's face."""
    return _Builder(now, image_url, avatar_url).build()


class _Builder:
    def __init__(self, now: float, image_url: Callable[[str], str],
                 avatar_url: Callable[[str], str]):
        self.now = now
        self.image_url, self.avatar_url = image_url, avatar_url
        self.rng = random.Random(SEED)
        self.stamps: Dict[str, set] = {}
        self.emoji_names, self.emoji_weights = zip(
            *STANDARD, *[(name, CUSTOM_WEIGHT) for name in custom_emoji()])

    def build(self) -> Dict[str, Any]:
        users = [user_object(ident, handle, real, display, self.avatar_url(ident))
                 for ident, (handle, real, display) in PEOPLE.items()]
        users.append(user_object(BOT, "polly", BOT_NAME, BOT_NAME, self.avatar_url(BOT), bot=True))
        # Slackbot is listed with is_bot false (Slack's own quirk).
        users.append(user_object(SLACKBOT, "slackbot", "Slackbot", "Slackbot",
                                 self.avatar_url(SLACKBOT)))
        channels = [channel_object(ident, name, private, member=ident in MEMBER_OF)
                    for ident, (name, private) in CHANNELS.items()]
        channels.append(im_object(DM, DM_MEMBERS[1]))  # not the bot's: it never sees it
        channels.append(channel_object(ARCHIVED, ARCHIVED_NAME, archived=True))
        history: Dict[str, List[dict]] = {}
        replies: Dict[str, List[dict]] = {}
        for channel in ROOMS:
            history[channel], threads = self.channel(channel)
            replies.update(threads)
        self.bot_and_slackbot(history["CDEMOGENERAL"])
        for channel in history:  # as conversations.history answers: newest first
            history[channel].sort(key=lambda m: ts_key(m["ts"]), reverse=True)
        emoji = {name: self.image_url(name) for name in custom_emoji()}
        emoji["partyparrot"] = "alias:party-parrot"
        return {"team": {"id": TEAM, "name": TEAM_NAME, "domain": TEAM_DOMAIN},
                "users": users, "channels": channels, "history": history,
                "replies": replies, "emoji": emoji}

    # ---- time -----------------------------------------------------------------

    def ts(self, channel: str, at: float) -> str:
        """A timestamp unique in the channel, Slack's shape."""
        stamps = self.stamps.setdefault(channel, set())
        micro = self.rng.randrange(1, 1000) * 100
        while True:
            ts = f"{int(at)}.{micro:06d}"
            if ts not in stamps:
                stamps.add(ts)
                return ts
            micro += 1

    def moment(self, day: datetime) -> float:
        """A time of that (UTC, as London in winter) day: mostly working hours."""
        if self.rng.random() < 0.88:
            hour = self.rng.choices(range(9, 18), [3, 5, 5, 4, 2, 4, 5, 4, 2])[0]
        else:
            hour = self.rng.choice([7, 8, 18, 19, 20, 21, 22])
        return (day + timedelta(hours=hour, seconds=self.rng.randrange(3600))).timestamp()

    def days(self, channel: str) -> List[Tuple[datetime, float]]:
        """Each day of the last DAYS (oldest first) and how many messages it has."""
        _, per_day, _ = ROOMS[channel]
        today = datetime.fromtimestamp(self.now, timezone.utc).replace(
            hour=0, minute=0, second=0, microsecond=0)
        days = []
        for ago in range(DAYS, -1, -1):
            if channel == ARCHIVED and ago < ARCHIVED_AGO:
                continue
            day = today - timedelta(days=ago)
            rate = per_day * (WEEKEND_SHARE if day.weekday() >= 5 else 1.0)
            rate *= self.rng.uniform(0.4, 1.6)
            days.append((day, int(rate) + (self.rng.random() < rate - int(rate))))
        return days

    # ---- messages -------------------------------------------------------------

    def message(self, channel: str, user: str, text: str, at: float) -> dict:
        return {"type": "message", "user": user, "text": text, "ts": self.ts(channel, at),
                "team": TEAM, "client_msg_id": "%08x-%04x-4%03x-8%03x-%012x" % (
                    self.rng.getrandbits(32), self.rng.getrandbits(16), self.rng.getrandbits(12),
                    self.rng.getrandbits(12), self.rng.getrandbits(48))}

    def channel(self, channel: str) -> Tuple[List[dict], Dict[str, List[dict]]]:
        members, _, thread_share = ROOMS[channel]
        history: List[dict] = []
        threads: Dict[str, List[dict]] = {}
        for day, count in self.days(channel):
            for _ in range(count):
                at = self.moment(day)
                if at >= self.now - 60:
                    continue  # not yet said
                author = self.rng.choice(members)
                message = self.message(channel, author, self.rng.choice(TEXTS[channel]), at)
                if self.rng.random() < REACTED_SHARE:
                    self.react(message, members)
                history.append(message)
                if self.rng.random() < thread_share:
                    thread, broadcasts = self.thread(channel, message, members)
                    if thread:
                        threads[f"{channel}/{message['ts']}"] = [message, *thread]
                        history.extend(broadcasts)
        return history, threads

    def thread(self, channel: str, parent: dict, members: List[str]
               ) -> Tuple[List[dict], List[dict]]:
        """Replies to `parent` (oldest first) and those of them also sent to the channel;
        the parent gets Slack's thread fields."""
        count = min(1 + int(self.rng.expovariate(0.45)), 8)
        at = float(parent["ts"].split(".")[0])
        thread, broadcasts = [], []
        for _ in range(count):
            at += self.rng.uniform(60, 90 * 60)
            if at >= self.now - 60:
                break
            reply = self.message(channel, self.rng.choice(members), self.rng.choice(REPLIES), at)
            reply["thread_ts"], reply["parent_user_id"] = parent["ts"], parent["user"]
            if self.rng.random() < REPLY_REACTED_SHARE:
                self.react(reply, members, most=2)
            if self.rng.random() < BROADCAST_SHARE:
                reply["subtype"] = "thread_broadcast"
                reply["root"] = {k: parent[k] for k in ("type", "user", "text", "ts", "team")}
                broadcasts.append(reply)
            thread.append(reply)
        if thread:
            repliers = list(dict.fromkeys(r["user"] for r in thread))
            parent.update({"thread_ts": parent["ts"], "reply_count": len(thread),
                           "reply_users_count": len(repliers), "reply_users": repliers[:5],
                           "latest_reply": thread[-1]["ts"], "is_locked": False,
                           "subscribed": False})
            for broadcast in broadcasts:
                broadcast["root"].update({"thread_ts": parent["ts"], "reply_count": len(thread)})
        return thread, broadcasts

    def react(self, message: dict, members: List[str], most: int = 4) -> None:
        """Reactions by the channel's members (rarely the author), each person in the
        skin tone they use; in the order they were first added, as Slack lists them."""
        kinds = self.rng.choices([1, 2, 3, 4], [60, 28, 10, 2])[0]
        others = [m for m in members if m != message["user"]] or members
        for name in dict.fromkeys(self.rng.choices(self.emoji_names, self.emoji_weights,
                                                   k=min(kinds, most))):
            people = self.rng.sample(others, min(len(others), 1 + int(self.rng.expovariate(0.8))))
            if self.rng.random() < 0.05:
                people.append(message["user"])  # now and then one's own message
            for person in people:
                self.add_reaction(message, name + TONES.get(person, "") if name in TONED else name,
                                  person)

    @staticmethod
    def add_reaction(message: dict, name: str, user: str) -> None:
        reactions = message.setdefault("reactions", [])
        for reaction in reactions:
            if reaction["name"] == name:
                if user not in reaction["users"]:
                    reaction["users"].append(user)
                    reaction["count"] = len(reaction["users"])
                return
        reactions.append({"name": name, "users": [user], "count": 1})

    def bot_and_slackbot(self, general: List[dict]) -> None:
        """In #general: the bot's joining, its posts (each Monday morning and a few
        more), Slackbot's reminders, and their reactions."""
        first = (min(ts_key(m["ts"]) for m in general)[0] if general else int(self.now) - 86400 * DAYS)
        general.append({"type": "message", "subtype": "channel_join", "user": BOT,
                        "text": f"<@{BOT}> has joined the channel",
                        "ts": self.ts("CDEMOGENERAL", first - 3600)})
        today = datetime.fromtimestamp(self.now, timezone.utc).replace(
            hour=0, minute=0, second=0, microsecond=0)
        posts: List[Tuple[float, str]] = []
        for ago in range(DAYS - 1, -1, -1):
            day = today - timedelta(days=ago)
            if day.weekday() == 0:
                posts.append(((day + timedelta(hours=9)).timestamp(), BOT_TEXTS[1]))
            elif self.rng.random() < 0.08:
                posts.append((self.moment(day), self.rng.choice([BOT_TEXTS[0], BOT_TEXTS[2]])))
        for at, text in posts:
            if at >= self.now - 60:
                continue
            message = {"type": "message", "user": BOT, "bot_id": BOT_ID, "app_id": APP_ID,
                       "text": text, "ts": self.ts("CDEMOGENERAL", at), "team": TEAM,
                       "bot_profile": {"id": BOT_ID, "app_id": APP_ID, "name": BOT_NAME,
                                       "deleted": False, "team_id": TEAM,
                                       "icons": {"image_48": self.avatar_url(BOT)}}}
            if self.rng.random() < 0.6:
                self.react(message, list(PEOPLE), most=2)
            general.append(message)
        for text in SLACKBOT_TEXTS:
            day = today - timedelta(days=self.rng.randrange(1, DAYS))
            general.append({"type": "message", "user": SLACKBOT, "text": text,
                            "ts": self.ts("CDEMOGENERAL", self.moment(day)), "team": TEAM})
        people = [m for m in general if m.get("user") in PEOPLE and not m.get("subtype")]
        for message in self.rng.sample(people, min(BOT_REACTIONS, len(people))):
            self.add_reaction(message, self.rng.choice(["white_check_mark", "eyes"]), BOT)
        for message in self.rng.sample(people, min(SLACKBOT_REACTIONS, len(people))):
            self.add_reaction(message, "wave", SLACKBOT)


def size(workspace: Dict[str, Any]) -> Dict[str, int]:
    """How big a workspace document is: messages (in history, broadcasts included),
    replies, reactions, reaction-user pairs, and those by `BOT` (messages, reactions)."""
    seen: Dict[Tuple[str, str], dict] = {}
    for channel, messages in workspace.get("history", {}).items():
        for message in messages:
            seen[(channel, message["ts"])] = message
    replies = 0
    for key, thread in workspace.get("replies", {}).items():
        channel = key.partition("/")[0]
        for message in thread[1:]:
            replies += (channel, message["ts"]) not in seen
            seen[(channel, message["ts"])] = message
    reactions = [r for m in seen.values() for r in m.get("reactions", [])]
    return {"messages": sum(len(ms) for ms in workspace.get("history", {}).values()),
            "replies": replies,
            "reactions": len(reactions),
            "reaction_users": sum(len(r["users"]) for r in reactions),
            "bot_messages": sum(m.get("user") == BOT and "bot_id" in m for m in seen.values()),
            "bot_reactions": sum(BOT in r["users"] for r in reactions),
            "slackbot_reactions": sum(SLACKBOT in r["users"] for r in reactions)}


def main(argv: Optional[List[str]] = None) -> None:  # pragma: no cover - a look at it
    """`python -m devkit.demo_workspace [FILE]`: write the demo workspace as JSON (to
    FILE or stdout), e.g. as a start for a workspace of one's own."""
    import json
    import sys
    import time
    args = sys.argv[1:] if argv is None else argv
    base = "http://127.0.0.1:8000"
    workspace = build(time.time(), lambda n: f"{base}/demo-emoji/{n}.svg",
                      lambda u: f"{base}/demo-avatar/{u}.svg")
    text = json.dumps(workspace, indent=1)
    if args:
        with open(args[0], "w", encoding="utf-8") as out:
            out.write(text + "\n")
        print(size(workspace), file=sys.stderr)
    else:
        print(text)


if __name__ == "__main__":  # pragma: no cover
    main()
