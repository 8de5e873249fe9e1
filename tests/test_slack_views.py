"""What the app sends Slack, against the devkit's stand-in (devkit/slack_api.py):
views.publish (the App Home tab) and chat.postMessage through slack_sdk's own
WebClient, Slack's errors and limits, the /_devkit/slack page that shows people what
was sent, the Block Kit rendering it shares with `python -m devkit slash`
(devkit/blockkit.py), and the simulator's slash command, App Home and button bodies.
No shared stack: each test starts the stand-in alone on a port of its own."""
import json
import time
import urllib.parse

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from devkit import blockkit, simulate, slack_api
from tests.test_slack_standin import client, error_of, served, workspace

HOME = {"type": "home", "blocks": [
    {"type": "header", "text": {"type": "plain_text", "text": "Emojiboard"}},
    {"type": "section", "text": {"type": "mrkdwn", "text": "*1.* :tada: 12"}},
    {"type": "actions", "elements": [{"type": "button", "action_id": "range", "value": "7d",
                                      "text": {"type": "plain_text", "text": "7 days"}}]}]}
SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "a line"}}


def response_of(call) -> dict:
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value.response.data


def post_form(slack, method: str, **fields) -> requests.Response:
    """A method called with a form body, as Slack's docs show (JSON-encoded strings)."""
    return requests.post(slack.api_url + method, data=fields, timeout=5,
                         headers={"Authorization": f"Bearer {slack.token}"})


# ---- views.publish -------------------------------------------------------------------------


def test_views_publish_answers_the_home_view_and_records_it():
    with served(workspace(10)) as slack:
        web_client = client(slack)
        answer = web_client.views_publish(user_id="U0001", view=HOME)
        view = answer["view"]
        assert answer["ok"] is True
        assert view["type"] == "home" and view["id"].startswith("V") and len(view["id"]) == 11
        assert view["root_view_id"] == view["id"] and view["team_id"] == "T0STANDIN"
        assert [{k: v for k, v in b.items() if k != "block_id"} for b in view["blocks"]] == HOME["blocks"]
        assert all(b["block_id"] for b in view["blocks"])  # Slack names every block
        assert isinstance(view["hash"], str) and view["hash"]
        assert view["state"] == {"values": {}} and view["previous_view_id"] is None
        [record] = slack.published
        assert record["user_id"] == "U0001" and record["view"] == HOME
        assert abs(record["time"] - time.time()) < 5
        # Again with the hash it answered: the same Home view, a new hash.
        again = web_client.views_publish(user_id="U0001", view=HOME, hash=view["hash"])["view"]
        assert again["id"] == view["id"] and again["hash"] != view["hash"]
        # A stale hash: Slack's hash_conflict, and nothing recorded.
        assert error_of(lambda: web_client.views_publish(
            user_id="U0001", view=HOME, hash=view["hash"])) == "hash_conflict"
        # A form body carries the view as a JSON-encoded string.
        form = post_form(slack, "views.publish", user_id="U0002", view=json.dumps(HOME)).json()
        assert form["ok"] is True and form["view"]["id"] != view["id"]
        assert [r["user_id"] for r in slack.published] == ["U0001", "U0001", "U0002"]
        assert [(m, s) for m, _, s in slack.requests] == [("views.publish", 200)] * 4


def test_views_publish_refuses_what_slack_refuses():
    with served(workspace(10)) as slack:
        web_client = client(slack)
        # docs.slack.dev/reference/methods/views.publish's example error for a user it
        # does not know.
        unknown = response_of(lambda: web_client.views_publish(user_id="UNOBODY", view=HOME))
        assert unknown == {"ok": False, "error": "invalid_arguments",
                           "response_metadata": {"messages": ["invalid `user_id`"]}}
        modal = response_of(lambda: web_client.views_publish(
            user_id="U0001", view={**HOME, "type": "modal"}))
        assert modal["error"] == "invalid_arguments"
        assert "/view/type" in modal["response_metadata"]["messages"][0]
        # At most 100 blocks in a Home tab.
        assert web_client.views_publish(user_id="U0001",
                                        view={"type": "home", "blocks": [SECTION] * 100})["ok"]
        too_many = response_of(lambda: web_client.views_publish(
            user_id="U0001", view={"type": "home", "blocks": [SECTION] * 101}))
        assert too_many["error"] == "invalid_arguments"
        assert too_many["response_metadata"]["messages"] == [
            "[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]"]
        for view in ({"type": "home"}, {"type": "home", "blocks": "none"},
                     {"type": "home", "blocks": [{"text": "no type"}]}):
            assert error_of(lambda: web_client.views_publish(user_id="U0001", view=view)) == "invalid_arguments"
        for raw in ("{not json", "[]", ""):
            answer = post_form(slack, "views.publish", user_id="U0001", view=raw).json()
            assert answer["ok"] is False and answer["error"] == "invalid_arguments"
            assert answer["response_metadata"]["messages"]
        big = {"type": "home", "blocks": [{"type": "section", "text": {
            "type": "mrkdwn", "text": "x" * 3000}}] * 90}
        assert error_of(lambda: web_client.views_publish(user_id="U0001", view=big)) == "view_too_large"
        assert len(slack.published) == 1  # only the 100 blocks one


# ---- chat.postMessage ------------------------------------------------------------------------


def test_chat_post_message_posts_where_the_bot_is_and_records_it():
    with served(workspace(10)) as slack:
        slack.limits["chat.postMessage"] = 1000  # this test is not about the rate limit
        web_client = client(slack)
        blocks = [{"type": "header", "text": {"type": "plain_text", "text": "Weekly digest"}}]
        answer = web_client.chat_postMessage(channel="CSMALL", text="Weekly digest", blocks=blocks)
        assert answer["ok"] is True and answer["channel"] == "CSMALL"
        slack_api.ts_key(answer["ts"])  # a Slack timestamp
        message = answer["message"]
        assert message["ts"] == answer["ts"] and message["type"] == "message"
        assert message["text"] == "Weekly digest" and message["bot_id"] and message["user"] == "UBOT"
        assert message["blocks"][0]["text"] == blocks[0]["text"]
        assert slack.posted == [{"channel": "CSMALL", "text": "Weekly digest", "blocks": blocks,
                                 "ts": answer["ts"]}]
        # The message is in the channel now, as on Slack.
        history = web_client.conversations_history(channel="CSMALL")["messages"]
        assert history[0]["ts"] == answer["ts"] and history[0]["bot_id"]
        # Text only, by channel name, and in a private channel the bot is in; ts unique.
        by_name = web_client.chat_postMessage(channel="#csmall", text="hello")
        assert by_name["channel"] == "CSMALL" and by_name["ts"] > answer["ts"]
        assert web_client.chat_postMessage(channel="CPRIV", text="psst")["channel"] == "CPRIV"
        assert [p["blocks"] for p in slack.posted] == [blocks, None, None]
        # 50 blocks at most.
        assert web_client.chat_postMessage(channel="CSMALL", text="t", blocks=[SECTION] * 50)["ok"]
        too_many = response_of(lambda: web_client.chat_postMessage(
            channel="CSMALL", text="t", blocks=[SECTION] * 51))
        assert too_many["error"] == "invalid_blocks"
        assert too_many["response_metadata"]["messages"] == [
            "[ERROR] no more than 50 items allowed [json-pointer:/blocks]"]
        for ident, error in (("CBIG", "not_in_channel"), ("CHIDDEN", "channel_not_found"),
                             ("CNONE", "channel_not_found"), ("#nowhere", "channel_not_found"),
                             ("CARCH", "is_archived")):
            assert error_of(lambda: web_client.chat_postMessage(channel=ident, text="x")) == error
        with pytest.warns(UserWarning):  # slack_sdk warns of a message with no text
            assert error_of(lambda: web_client.chat_postMessage(channel="CSMALL")) == "no_text"
            assert error_of(lambda: web_client.chat_postMessage(channel="CSMALL", text="",
                                                                blocks=[])) == "no_text"
        assert post_form(slack, "chat.postMessage", channel="CSMALL",
                         blocks="[{not json").json()["error"] == "invalid_blocks_format"
        assert len(slack.posted) == 4  # nothing refused was recorded


def test_chat_post_message_allows_one_message_a_second_per_channel():
    with served(workspace(10)) as slack:
        session = requests.Session()

        def post(channel):
            return session.post(slack.api_url + "chat.postMessage", timeout=5,
                                json={"channel": channel, "text": "hi"},
                                headers={"Authorization": f"Bearer {slack.token}"})

        first, second = post("CSMALL"), post("CSMALL")
        assert first.status_code == 200 and first.json()["ok"]
        assert second.status_code == 429 and second.json() == {"ok": False, "error": "ratelimited"}
        assert second.headers["Retry-After"] == "1"
        assert post("CPRIV").status_code == 200  # another channel: a limit of its own
        time.sleep(slack.post_window)
        assert post("CSMALL").status_code == 200
        assert [s for _, _, s in slack.requests] == [200, 429, 200, 200]
        assert [p["channel"] for p in slack.posted] == ["CSMALL", "CPRIV", "CSMALL"]
        # views.publish is Tier 4, counted per method as every tier is.
        assert slack.limits["views.publish"] == 100
        slack.limits["views.publish"] = 2
        web_client = client(slack)
        for _ in range(2):
            web_client.views_publish(user_id="U0001", view=HOME)
        assert error_of(lambda: web_client.views_publish(user_id="U0001", view=HOME)) == "ratelimited"


def test_faults_and_reset_apply_to_what_the_app_sends():
    with served(workspace(10)) as slack:
        web_client = client(slack)
        web_client.views_publish(user_id="U0001", view=HOME)
        posted = web_client.chat_postMessage(channel="CSMALL", text="hi")
        slack.failure = "ratelimited"
        assert error_of(lambda: web_client.views_publish(user_id="U0001", view=HOME)) == "ratelimited"
        slack.failure = "down"
        with pytest.raises(SlackApiError):
            web_client.chat_postMessage(channel="CPRIV", text="hi")
        assert len(slack.published) == 1 and len(slack.posted) == 1
        slack.failure = None
        assert error_of(lambda: WebClient(token="xoxb-wrong", base_url=slack.api_url).chat_postMessage(
            channel="CPRIV", text="hi")) == "invalid_auth"
        slack.reset()
        assert slack.published == [] and slack.posted == [] and slack.requests == []
        assert all(m["ts"] != posted["ts"] for m in slack.history["CSMALL"])
        # The Home view is gone too: its old hash no longer matches anything.
        assert error_of(lambda: web_client.views_publish(
            user_id="U0001", view=HOME, hash="1.2")) == "hash_conflict"


# ---- /_devkit/slack --------------------------------------------------------------------------


def test_the_devkit_page_shows_what_was_sent_escaped_and_newest_first():
    with served(workspace(10)) as slack:
        page_url = slack.base_url + "/_devkit/slack"
        empty = requests.get(page_url, timeout=5)
        assert empty.status_code == 200 and "No Home tab published yet" in empty.text
        slack.limits["chat.postMessage"] = 1000
        slack.users["U0001"]["profile"] = {"display_name": "<script>alert(1)</script>"}
        slack.channels["CSMALL"]["name"] = "<img src=x onerror=alert(2)>"
        web_client = client(slack)
        web_client.views_publish(user_id="U0001", view={"type": "home", "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "an older view"}}]})
        web_client.views_publish(user_id="U0001", view={"type": "home", "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Board of <b>Ada</b>"}},
            {"type": "section", "text": {"type": "mrkdwn",
                                         "text": "*1.* :tada: by &lt;script&gt; <@U0002|grace>"},
             "fields": [{"type": "mrkdwn", "text": "*Given*"}, {"type": "plain_text", "text": "12"}]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "last 7 days"}]},
            {"type": "divider"},
            {"type": "actions", "elements": [{"type": "button", "action_id": "r", "value": "30d",
                                              "text": {"type": "plain_text", "text": "30 days"}}]},
            {"type": "image", "image_url": "https://example.com/c.png", "alt_text": "a chart"}]})
        web_client.views_publish(user_id="U0002", view={"type": "home", "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "Grace's home"}}]})
        web_client.chat_postMessage(channel="CSMALL", text="first digest")
        web_client.chat_postMessage(channel="CPRIV", text="fallback", blocks=[
            {"type": "section", "text": {"type": "mrkdwn", "text": "second <script>x</script>"}}])
        page = requests.get(page_url, timeout=5)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        assert "default-src 'none'" in page.headers["Content-Security-Policy"]
        text = page.text
        assert "<script" not in text and "<img" not in text and "onerror=alert(2)>" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # the name, as text
        assert "&lt;img src=x onerror=alert(2)&gt;" in text
        assert "Board of &lt;b&gt;Ada&lt;/b&gt;" in text  # plain_text is literal
        assert "<b>1.</b> :tada: by &lt;script&gt;" in text  # mrkdwn: bold, entities shown
        assert '<span class="mention">@grace</span>' in text and "<b>Given</b>" in text
        assert "last 7 days" in text and '<hr class="bk-divider">' in text
        assert '<span class="bk-button">30 days</span>' in text and "[image: a chart]" in text
        assert "second &lt;script&gt;x&lt;/script&gt;" in text
        assert "Notification text: fallback" in text
        assert "an older view" not in text  # the latest view per person only
        # Newest first: Grace's Home before Ada's, the second message before the first.
        assert text.index("Grace&#x27;s home") < text.index("Board of")
        assert text.index("second &lt;script") < text.index("first digest")
        raw = requests.get(page_url + ".json", timeout=5).json()
        assert [r["user_id"] for r in raw["published"]] == ["U0001", "U0001", "U0002"]
        assert [p["text"] for p in raw["posted"]] == ["first digest", "fallback"]
        assert raw["posted"][1]["blocks"][0]["type"] == "section"
        # The page is the devkit's: not a Slack method, not in the request log.
        assert [m for m, _, _ in slack.requests].count("views.publish") == 3


# ---- Block Kit as text ---------------------------------------------------------------------


def test_blocks_text_renders_every_block_the_app_uses():
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Top emoji"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*1.* :tada: &lt;b&gt; &amp; co"},
         "fields": [{"type": "mrkdwn", "text": "<@U1|ada>"}, {"type": "plain_text", "text": "12"}],
         "accessory": {"type": "button", "text": {"type": "plain_text", "text": "More"}}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "in <#C1|general>"},
                                         {"type": "image", "image_url": "u", "alt_text": "tada"}]},
        {"type": "divider"},
        {"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "7 days"}},
            {"type": "static_select", "placeholder": {"type": "plain_text", "text": "Channel"}}]},
        {"type": "image", "image_url": "u", "alt_text": "a chart"},
        {"type": "section", "text": {"type": "mrkdwn", "text": "see <https://e.com/x|the board>"}},
        {"type": "rich_text", "elements": []},
    ]
    assert blockkit.blocks_text(blocks) == "\n".join([
        "Top emoji", "=========",
        "*1.* :tada: <b> & co", "  @ada", "  12", "  [More]",
        "in #general  [tada]",
        "-" * 40,
        "[7 days] [Channel \u25be]",
        "[image: a chart]",
        "see the board (https://e.com/x)",
        "[rich_text block]"])
    assert blockkit.blocks_text([]) == "" and blockkit.blocks_text(None) == ""


def test_mrkdwn_html_escapes_everything_and_links_only_to_the_web():
    assert blockkit.mrkdwn_html("<javascript:alert(1)|click>") == "&lt;javascript:alert(1)|click&gt;"
    assert blockkit.mrkdwn_html('<https://e.com/?a=1&amp;b="|x>') == (
        '<a href="https://e.com/?a=1&amp;b=&quot;" rel="noreferrer noopener">x</a>')
    assert blockkit.mrkdwn_html("*a* _b_ ~c~ `d` snake_case 2*3*4") == (
        "<b>a</b> <i>b</i> <s>c</s> <code>d</code> snake_case 2*3*4")
    assert blockkit.mrkdwn_html("<!here> &lt;i&gt;") == '<span class="mention">@here</span> &lt;i&gt;'


# ---- the simulator's bodies ----------------------------------------------------------------


def test_the_simulator_sends_what_slack_sends_for_commands_homes_and_buttons():
    body = simulate.slash_command("7d #general", user="UDEMOGRACE", channel="CDEMORANDOM")
    fields = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
    assert list(fields) == ["token", "team_id", "team_domain", "channel_id", "channel_name",
                            "user_id", "user_name", "command", "text", "api_app_id",
                            "is_enterprise_install", "response_url", "trigger_id"]
    assert (fields["command"], fields["text"], fields["user_name"], fields["channel_name"]) == (
        "/emojiboard", "7d #general", "grace", "random")
    assert fields["response_url"].startswith("https://hooks.slack.com/commands/T0DEMO/")
    headers = simulate.form_headers(body, "s3cret")
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert SignatureVerifier("s3cret").is_valid_request(body, headers)
    enterprise = dict(urllib.parse.parse_qsl(simulate.slash_command("", enterprise_id="E1").decode(),
                                             keep_blank_values=True))
    assert enterprise["enterprise_id"] == "E1" and enterprise["text"] == ""

    opened = simulate.app_home_opened_event("UDEMOADA")
    assert opened["type"] == "event_callback" and opened["team_id"] == "T0DEMO"
    assert set(opened["event"]) == {"type", "user", "channel", "tab", "event_ts"}
    assert (opened["event"]["type"], opened["event"]["tab"]) == ("app_home_opened", "home")
    view = {"id": "V1", "type": "home", "blocks": []}
    assert simulate.app_home_opened_event("UDEMOADA", view=view)["event"]["view"] == view

    pressed = simulate.block_action("range", "30d", view_id="VHOME")
    payload = json.loads(dict(urllib.parse.parse_qsl(pressed.decode()))["payload"])
    assert payload["type"] == "block_actions"
    assert payload["user"] == {"id": "UDEMOADA", "username": "ada", "name": "ada", "team_id": "T0DEMO"}
    assert payload["container"] == {"type": "view", "view_id": "VHOME"}
    assert (payload["view"]["id"], payload["view"]["type"]) == ("VHOME", "home")
    [action] = payload["actions"]
    assert (action["action_id"], action["value"], action["type"]) == ("range", "30d", "button")
    assert action["block_id"] and action["action_ts"] and payload["trigger_id"]
    assert SignatureVerifier("s").is_valid_request(pressed, simulate.form_headers(pressed, "s"))
