"""Who people and channels are, for the boards that name them: names and avatars of
people, names of channels and whether they are private, and which users are bots.

Kept in the counts table (docs/architecture.md, "Counts table"):

  pk                  sk        attributes
  USER#{workspace}    {user}    name, avatar_url (http(s) only), bot, deleted, updated
  CHAN#{workspace}    {channel} name, private, updated
  BOTS#{workspace}    BOTS      ids: a string set; the Slack route's transaction checks
                                it (counts.py), so bots count nowhere. rev: bumped by
                                every user event, so the sync's replacement sees them
  DIRREV#{workspace}  REV       synced_at: last users.list; sync_tried_at: the claim

`updated` is when Slack says the fact was true (an event's event_ts, or the time a
list was asked for): a write is conditional on it, so events delivered late or twice
never undo newer ones.

People come from `user_change` / `team_join` events and a daily `users.list` asked on
the read paths (never on the Slack route, with its 3-second deadline). Channels come
from `channel_created` / `channel_rename` / `group_rename` events, and a channel never
heard of is asked of `conversations.info` once, then kept.
"""
import logging
import time
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Dict, Iterable, List, Optional

from botocore.exceptions import BotoCoreError, ClientError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from . import claims
from .slack_events import SLACKBOT, DirectoryChange, _ID, emoji_value_ok

log = logging.getLogger(__name__)

BOTS_ATTRIBUTE = "ids"
BOTS_REV = "rev"
SYNC_EVERY = 24 * 3600
RETRY_SYNC_AFTER = 300  # a claim to ask Slack for users.list lasts this long (seconds)
SLACK_TIMEOUT = 3  # seconds, as emoji.py: asked on read paths a page waits for
USERS_PAGE = 200  # Slack's advice for users.list pages
BATCH_GET_LIMIT = 100
BATCH_ATTEMPTS = 8
# The sync's writes are conditional PutItems (BatchWriteItem takes no condition, and an
# event newer than the list must stand), this many at once.
WRITE_WORKERS = 8
BOTS_ATTEMPTS = 3  # replacing the bots set while user events change it
# Unknown channels asked of Slack per call, how many at once, and how long a read
# waits for them: a board read waits for these answers, so its latency stays bounded
# however many unknown channels a board has (and however slow Slack is); the rest are
# asked on later reads.
MAX_ASKED = 20
ASK_WORKERS = 8
ASK_DEADLINE = SLACK_TIMEOUT + 1  # seconds
MAX_NAME = 255


def bots_key(workspace: str) -> dict:
    return {"pk": {"S": f"BOTS#{workspace}"}, "sk": {"S": "BOTS"}}


def _user_key(workspace: str, user: str) -> dict:
    return {"pk": {"S": f"USER#{workspace}"}, "sk": {"S": user}}


def _channel_key(workspace: str, channel: str) -> dict:
    return {"pk": {"S": f"CHAN#{workspace}"}, "sk": {"S": channel}}


def _marker(workspace: str) -> dict:
    return {"pk": {"S": f"DIRREV#{workspace}"}, "sk": {"S": "REV"}}


def avatar_ok(url: object) -> bool:
    """An http(s) URL a page may put in <img src> (the emoji values' rules)."""
    return isinstance(url, str) and not url.startswith("alias:") and emoji_value_ok(url)


def _text(value: object) -> Optional[str]:
    if isinstance(value, str) and value.strip() and len(value) <= MAX_NAME:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return None
        return value
    return None


def user_name(user: dict) -> Optional[str]:
    """What Slack shows: the display name, else the full name, else the handle."""
    profile = user.get("profile") if isinstance(user.get("profile"), dict) else {}
    for value in (profile.get("display_name"), profile.get("real_name"),
                  user.get("real_name"), user.get("name")):
        if _text(value):
            return value
    return None


def user_avatar(user: dict) -> Optional[str]:
    profile = user.get("profile") if isinstance(user.get("profile"), dict) else {}
    url = profile.get("image_72")
    return url if avatar_ok(url) else None


def is_bot(user: dict) -> bool:
    """Slackbot is listed with is_bot false, yet is one."""
    return user.get("is_bot") is True or user.get("id") == SLACKBOT


def _is_conflict(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code")
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = error.response.get("CancellationReasons") or []
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons) and \
            all(r.get("Code") in ("ConditionalCheckFailed", "None", None) for r in reasons)
    return False


class Directory:
    def __init__(self, client, table: str, slack_token: Optional[str] = None,
                 slack_api_url: Optional[str] = None, clock=time.time):
        self._db = client
        self._table = table
        self._token = slack_token
        self._slack_api_url = slack_api_url
        self._clock = clock

    # ---- reads ----------------------------------------------------------------

    def people(self, workspace: str, ids: Iterable[str]) -> Dict[str, dict]:
        """{id: {"name", "avatar_url"}} for every id; an unknown person's name is the id."""
        ids = list(dict.fromkeys(ids))
        found = self._get(workspace, "USER", ids)
        answer = {}
        for user in ids:
            item = found.get(user, {})
            avatar = item.get("avatar_url", {}).get("S")
            answer[user] = {"name": item.get("name", {}).get("S") or user,
                            "avatar_url": avatar if avatar_ok(avatar) else None}
        return answer

    def channels(self, workspace: str, ids: Iterable[str]) -> Dict[str, dict]:
        """{id: {"name", "private"}} for every id. A channel not yet known is asked of
        Slack and kept; if Slack cannot say, its id is its name (not kept: asked again)."""
        ids = list(dict.fromkeys(ids))
        answer = {c: {"name": c, "private": True} for c in ids if c.startswith("D")}  # DMs
        wanted = [c for c in ids if c not in answer]
        found = self._get(workspace, "CHAN", wanted)
        unknown = []
        for channel in wanted:
            item = found.get(channel)
            if item is None:
                unknown.append(channel)
                continue
            answer[channel] = {"name": item.get("name", {}).get("S") or channel,
                               "private": item.get("private", {}).get("BOOL", False)}
        asked = self._ask_channels(workspace, unknown[:MAX_ASKED]) if self._token else {}
        for channel in unknown:
            answer[channel] = asked.get(channel) or {"name": channel, "private": False}
        return {c: answer[c] for c in ids}

    def _get(self, workspace: str, kind: str, ids: List[str]) -> Dict[str, dict]:
        """The stored items of `ids` (BatchGetItem, 100 keys a call). Keys DynamoDB
        keeps refusing are answered as unknown: names only decorate a board."""
        found: Dict[str, dict] = {}
        keys = [{"pk": {"S": f"{kind}#{workspace}"}, "sk": {"S": i}} for i in ids]
        for start in range(0, len(keys), BATCH_GET_LIMIT):
            request = {self._table: {
                "Keys": keys[start:start + BATCH_GET_LIMIT],
                "ProjectionExpression": "sk, #name, avatar_url, #private",
                "ExpressionAttributeNames": {"#name": "name", "#private": "private"}}}
            for attempt in range(BATCH_ATTEMPTS):
                answer = self._db.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table, []):
                    found[item["sk"]["S"]] = item
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(1.0, 0.05 * 2 ** attempt))
            else:
                log.warning("DynamoDB kept refusing %d directory reads; shown by id",
                            len(request[self._table]["Keys"]))
        return found

    def _ask_channels(self, workspace: str, ids: List[str]) -> Dict[str, dict]:
        """Slack's answers for `ids`, each kept as it comes. Whatever has not come by
        ASK_DEADLINE is answered as unknown now (and kept when it comes, for later reads)."""
        if not ids:
            return {}
        pool = ThreadPoolExecutor(max_workers=min(ASK_WORKERS, len(ids)))
        futures = {pool.submit(self._learn_channel, workspace, c): c for c in ids}
        done, _ = wait(futures, timeout=ASK_DEADLINE)
        pool.shutdown(wait=False)
        answers = {}
        for future in done:
            try:
                info = future.result()
            except (ClientError, BotoCoreError) as error:  # could not keep it: asked again
                log.warning("could not keep channel %s: %s", futures[future], error)
                continue
            if info is not None:
                answers[futures[future]] = info
        return answers

    def _learn_channel(self, workspace: str, channel: str) -> Optional[dict]:
        info = self._conversation_info(channel)
        if info is not None:
            self._put_if_newer(_channel_key(workspace, channel), {
                "name": {"S": info["name"]}, "private": {"BOOL": info["private"]}},
                self._clock())
        return info

    def _conversation_info(self, channel: str) -> Optional[dict]:
        """{"name", "private"} from Slack's conversations.info, or None if Slack cannot
        say (channel_not_found, e.g. a private channel the app is not in; rate limits;
        the network)."""
        try:
            response = self._slack().conversations_info(channel=channel)
        except SlackApiError as error:
            log.warning("conversations.info %s refused: %s", channel,
                        error.response.get("error"))
            return None
        except (SlackClientError, OSError, ValueError) as error:
            log.warning("conversations.info %s failed: %r", channel, error)
            return None
        info = response.get("channel")
        if not isinstance(info, dict):
            return None
        private = any(info.get(flag) is True for flag in ("is_private", "is_im", "is_mpim"))
        return {"name": _text(info.get("name")) or channel, "private": private}

    def _slack(self) -> WebClient:
        return WebClient(token=self._token, base_url=self._slack_api_url, timeout=SLACK_TIMEOUT)

    # ---- writes ---------------------------------------------------------------

    def apply(self, change: DirectoryChange, workspace: str) -> str:
        """One user or channel event: "applied", or "stale" when something newer is
        already known. A retry of the same event applies again (harmlessly)."""
        if change.kind == "channel":
            fields = {"name": {"S": change.name}, "private": {"BOOL": change.private}}
            applied = self._put_if_newer(_channel_key(workspace, change.id), fields,
                                         change.updated)
            return "applied" if applied else "stale"
        item = {**_user_key(workspace, change.id), **self._person(
            change.name, change.avatar_url, change.bot, change.deleted, change.updated)}
        # rev changes even when ids does not (a DELETE of an id not in it): the sync
        # replaces the set only if no user event came since it read the people.
        bots = {"TableName": self._table, "Key": bots_key(workspace),
                "UpdateExpression": "ADD #ids :one, #rev :step" if change.bot else
                                    "DELETE #ids :one ADD #rev :step",
                "ExpressionAttributeNames": {"#ids": BOTS_ATTRIBUTE, "#rev": BOTS_REV},
                "ExpressionAttributeValues": {":one": {"SS": [change.id]}, ":step": {"N": "1"}}}
        try:
            # One transaction: two events about one person (a bot and then not) can
            # never leave the bots set saying other than the newer one's item.
            self._db.transact_write_items(TransactItems=[
                {"Put": {"TableName": self._table, "Item": item,
                         "ConditionExpression": "attribute_not_exists(updated) OR updated <= :t",
                         "ExpressionAttributeValues": {":t": {"N": repr(change.updated)}}}},
                {"Update": bots}])
        except ClientError as error:
            if _is_conflict(error):
                return "stale"
            raise
        return "applied"

    @staticmethod
    def _person(name: str, avatar: Optional[str], bot: bool, deleted: bool,
                updated: float) -> dict:
        fields = {"name": {"S": name}, "bot": {"BOOL": bot}, "deleted": {"BOOL": deleted},
                  "updated": {"N": repr(float(updated))}}
        if avatar_ok(avatar):
            fields["avatar_url"] = {"S": avatar}
        return fields

    def _put_if_newer(self, key: dict, fields: dict, updated: float) -> bool:
        try:
            self._db.put_item(
                TableName=self._table,
                Item={**key, **fields, "updated": {"N": repr(float(updated))}},
                ConditionExpression="attribute_not_exists(updated) OR updated <= :t",
                ExpressionAttributeValues={":t": {"N": repr(float(updated))}})
            return True
        except ClientError as error:
            if _is_conflict(error):
                return False
            raise

    # ---- the daily users.list -------------------------------------------------

    def refresh_if_stale(self, workspace: str) -> None:
        """On the read paths of the people and channel boards: one GetItem while the
        copy is under a day old; otherwise one caller claims asking Slack and syncs.
        Never raises: names only decorate a board."""
        if not self._token:
            return
        try:
            marker = self._db.get_item(TableName=self._table, Key=_marker(workspace)
                                       ).get("Item") or {}
            synced_at = float(marker["synced_at"]["N"]) if "synced_at" in marker else None
            if synced_at is not None and self._clock() - synced_at <= SYNC_EVERY:
                return
            if self._claim_sync(workspace):
                self.sync(workspace)
        except (ClientError, BotoCoreError, RuntimeError) as error:
            log.warning("directory sync skipped: %s", error)

    def _claim_sync(self, workspace: str) -> bool:
        return claims.claim(self._db, self._table, _marker(workspace), int(self._clock()),
                            RETRY_SYNC_AFTER)

    def sync(self, workspace: str) -> bool:
        """Every person from Slack's users.list, and the bots set; False if Slack said no
        (logged in one line; asked again once the claim lapses)."""
        asked_at = self._clock()
        members = self._list_users()
        if members is None:
            return False
        listed = {}
        for member in members:
            record = self._listed_person(member, asked_at)
            if record is not None:
                listed[record[0]] = record[1]
        for _ in range(BOTS_ATTEMPTS):
            before = self._read_bots(workspace)  # before the people: see _replace_bots
            writes, bots = self._plan(workspace, listed, asked_at)
            self._write_people(workspace, writes, asked_at)
            if self._replace_bots(workspace, before, bots):
                break
        else:
            log.warning("user events kept changing the bots set during the users.list sync; "
                        "syncing again in %d s", RETRY_SYNC_AFTER)
            return False
        self._db.update_item(TableName=self._table, Key=_marker(workspace),
                             UpdateExpression="SET synced_at = :at",
                             ExpressionAttributeValues={":at": {"N": str(int(asked_at))}})
        log.info("directory synced from Slack: %d people listed, %d differed, %d bots",
                 len(listed), len(writes), len(bots))
        return True

    def _plan(self, workspace: str, listed: Dict[str, dict], asked_at: float):
        """The people to write ({id: fields}, those that differ) and the bots set, from
        the list and what is stored: a person an event told of after the list was
        asked stands."""
        stored = self._read_people(workspace)
        writes, bots = {}, set()
        for user, fields in listed.items():
            current = stored.get(user)
            if current is not None and float(current.get("updated", {}).get("N", 0)) > asked_at:
                bot = current.get("bot", {}).get("BOOL", False)
            else:
                bot = fields["bot"]["BOOL"]
                if current is None or any(current.get(k) != fields.get(k) for k in
                                          ("name", "avatar_url", "bot", "deleted")):
                    writes[user] = fields
            if bot:
                bots.add(user)
        # People only events told of (another team's, with SLACK_TEAM_ID unset) stay bots.
        bots |= {u for u, item in stored.items()
                 if u not in listed and item.get("bot", {}).get("BOOL")}
        return writes, bots

    def _read_bots(self, workspace: str) -> Optional[dict]:
        """The bots item's `rev` (None before any user event)."""
        item = self._db.get_item(TableName=self._table, Key=bots_key(workspace),
                                 ConsistentRead=True).get("Item") or {}
        return item.get(BOTS_REV)

    def _replace_bots(self, workspace: str, before: Optional[dict], bots: set) -> bool:
        """The bots set, replaced only if no user event came since its `rev` was read
        as `before` (an event's person and rev change in one transaction, so every
        event before that is in the people read after it); False if one came."""
        item = dict(bots_key(workspace))
        if bots:  # a string set cannot be empty: no bots, no attribute
            item[BOTS_ATTRIBUTE] = {"SS": sorted(bots)}
        if before is not None:
            item[BOTS_REV] = before
        condition = {"ConditionExpression": "attribute_not_exists(#rev)"} if before is None else {
            "ConditionExpression": "#rev = :before",
            "ExpressionAttributeValues": {":before": before}}
        try:
            self._db.put_item(TableName=self._table, Item=item,
                              ExpressionAttributeNames={"#rev": BOTS_REV}, **condition)
            return True
        except ClientError as error:
            if _is_conflict(error):
                return False
            raise

    def _listed_person(self, member: object, updated: float):
        if not isinstance(member, dict):
            return None
        user = member.get("id")
        if not isinstance(user, str) or not _ID.fullmatch(user):
            return None
        return user, self._person(user_name(member) or user, user_avatar(member),
                                  is_bot(member), member.get("deleted") is True, updated)

    def _list_users(self) -> Optional[List[dict]]:
        members: List[dict] = []
        cursor = None
        client = self._slack()
        try:
            while True:
                page = client.users_list(limit=USERS_PAGE, **({"cursor": cursor} if cursor else {}))
                listed = page.get("members")
                if not isinstance(listed, list):
                    log.warning("users.list answered without a members list")
                    return None
                members += listed
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    return members
        except SlackApiError as error:  # invalid_auth, missing_scope, ratelimited, a 5xx...
            log.warning("users.list refused after %d people: %s", len(members),
                        error.response.get("error"))
        except (SlackClientError, OSError, ValueError) as error:  # network, garbled body
            log.warning("users.list failed after %d people: %r", len(members), error)
        return None

    def _read_people(self, workspace: str) -> Dict[str, dict]:
        people = {}
        for page in self._db.get_paginator("query").paginate(
                TableName=self._table, KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": f"USER#{workspace}"}},
                ConsistentRead=True):  # sees every event committed before it
            for item in page["Items"]:
                people[item["sk"]["S"]] = item
        return people

    def _write_people(self, workspace: str, people: Dict[str, dict], asked_at: float) -> int:
        """Each listed person's item, unless an event newer than the list wrote it
        meanwhile; how many were written. Store errors raise (the sync is retried)."""
        if not people:
            return 0
        with ThreadPoolExecutor(max_workers=min(WRITE_WORKERS, len(people))) as pool:
            results = list(pool.map(
                lambda user: self._put_if_newer(_user_key(workspace, user), people[user],
                                                asked_at), people))
        return sum(results)
