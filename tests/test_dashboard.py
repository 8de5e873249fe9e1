"""The dashboard in real headless Chromium (Debian's), against the real local stack:
signed events through the gateway, the page's own WebSocket, DynamoDB Local.

Two things here are instrumentation, not stand-ins: an init script records every
connection state the page shows and counts the row animations it starts, and
Playwright's clock moves the page's timers forward (hours of keep-alive in
seconds). One test refuses the WebSocket on purpose (failure injection) to show
the page is useful before its socket opens.
"""
import re
import shutil
import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from chalicelib import services, slack_events
from chalicelib.counts import CountStore
from devkit import simulate, site
from tests.conftest import TEAM
from tests.helpers import post_event, reaction, settled, wait_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps calling out to the network.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
# Room for a loaded CI machine; the "within 2 s" promises keep their own timeouts.
expect.set_options(timeout=10_000)
AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
DAY = 24 * 3600
# The Slack stand-in's demo people and channels (devkit/slack_api.py): names and faces.
ADA, GRACE, ALAN = "UDEMOADA", "UDEMOGRACE", "UDEMOALAN"
GENERAL, RANDOM, SECRET_CHANNEL = "CDEMOGENERAL", "CDEMORANDOM", "CDEMOSECRET"

INSTRUMENT = """
window.__states = [];
window.__moves = 0;
window.__pongs = 0;  // pongs the page has received (its own listener runs right after)
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", (e) => String(e.data).includes('"pong"') && (window.__pongs += 1));
  }
};
document.addEventListener("DOMContentLoaded", () => {
  const status = document.getElementById("status");
  const record = () => {
    const state = status.dataset.state;
    if (window.__states[window.__states.length - 1] !== state) window.__states.push(state);
  };
  record();
  new MutationObserver(record).observe(status, { attributes: true, attributeFilter: ["data-state"] });
});
const animate = Element.prototype.animate;
Element.prototype.animate = function (keyframes, options) {
  if (JSON.stringify(keyframes).includes("translateY")) window.__moves += 1;
  return animate.call(this, keyframes, options);
};
"""


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser, stack):
    """open_page(path, **context options) -> a page on the local stack, instrumented.
    Any uncaught script error fails the test."""
    contexts, errors = [], []

    def open_(path="/", clock=False, **options):
        options.setdefault("viewport", {"width": 1280, "height": 900})
        context = browser.new_context(**options)
        contexts.append(context)
        context.add_init_script(INSTRUMENT)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        if clock:
            page.clock.install()
        page.goto(stack.url + path)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert errors == []


def rows(page):
    return page.locator("#leaderboard li")


def names(page):
    return rows(page).locator(".name")


def expect_live(page, timeout=10_000):
    expect(page.locator("#status")).to_have_attribute("data-state", "live", timeout=timeout)


def post_all(stack, *names_, **kwargs):
    for i, name in enumerate(names_):
        assert post_event(stack, reaction(name, user=f"U{i}", **kwargs)).status_code == 200


def test_first_paint_shows_the_snapshot(stack, open_page):
    post_all(stack, "fire", "fire", "fire", "eyes", "eyes", "zzz-unknown")
    page = open_page("/?window=all")
    expect_live(page)
    expect(names(page)).to_have_text([":fire:", ":eyes:", ":zzz-unknown:"])
    expect(rows(page).locator(".count")).to_have_text(["3", "2", "1"])
    expect(rows(page).locator(".rank")).to_have_text(["1", "2", "3"])
    expect(page.locator("#total")).to_have_text("6")
    expect(page.locator("#total-label")).to_have_text("reactions all time")
    expect(page.locator("#last-update")).to_have_text("just now")
    expect(page.locator("#tab-all")).to_have_attribute("aria-selected", "true")
    # The bar is proportional to the leader.
    shares = [float(rows(page).nth(i).evaluate("e => e.style.getPropertyValue('--share')"))
              for i in range(3)]
    assert shares == pytest.approx([1, 2 / 3, 1 / 3])


def test_the_page_is_useful_before_its_socket_opens(stack, open_page, browser):
    post_all(stack, "tada", "tada")
    context = browser.new_context()
    try:
        # Failure injection: every WebSocket this page opens is refused.
        context.route_web_socket("**/ws", lambda socket: socket.close())
        page = context.new_page()
        page.goto(stack.url + "/?window=24h")
        expect(names(page)).to_have_text([":tada:"])
        expect(page.locator("#total")).to_have_text("2")
        expect(page.locator("#status")).not_to_have_attribute("data-state", "live")
    finally:
        context.close()


def test_a_signed_event_moves_the_page_within_two_seconds(stack, open_page):
    post_all(stack, "fire", "fire", "eyes")
    page = open_page("/?window=24h")
    expect_live(page)
    expect(names(page)).to_have_text([":fire:", ":eyes:"])
    moves_before = page.evaluate("window.__moves")

    for user in ("U7", "U8"):
        post_event(stack, reaction("eyes", user=user))
    expect(names(page)).to_have_text([":eyes:", ":fire:"], timeout=2000)
    expect(rows(page).locator(".count")).to_have_text(["3", "2"], timeout=2000)
    expect(page.locator("#total")).to_have_text("5")
    expect(rows(page).first).to_have_class("row flash")  # the changed count flashes
    assert page.evaluate("window.__moves") > moves_before  # and the rows glided

    post_event(stack, reaction("rocket", user="U9"))  # an emoji new to the page
    expect(names(page)).to_have_text([":eyes:", ":fire:", ":rocket:"], timeout=2000)
    expect(page.locator("#total")).to_have_text("6")


def test_reduced_motion_moves_rows_without_animation(stack, open_page):
    post_all(stack, "fire", "fire", "eyes")
    page = open_page("/?window=24h", reduced_motion="reduce")
    expect_live(page)
    for user in ("U7", "U8"):
        post_event(stack, reaction("eyes", user=user))
    expect(names(page)).to_have_text([":eyes:", ":fire:"], timeout=2000)
    assert page.evaluate("window.__moves") == 0


def test_window_tabs_switch_data_and_url(stack, open_page):
    now = time.time()
    post_event(stack, reaction("fire", user="U1"))
    post_event(stack, reaction("tada", user="U2", event_time=now - 3 * DAY))
    post_event(stack, reaction("rocket", user="U3", event_time=now - 12 * DAY))
    page = open_page("/")
    expect_live(page)
    expect(page.locator("#tab-24h")).to_have_attribute("aria-selected", "true")
    expect(names(page)).to_have_text([":fire:"])

    page.get_by_role("tab", name="7 days").click()
    expect(names(page)).to_have_text([":fire:", ":tada:"])
    expect(page.locator("#total-label")).to_have_text("reactions in the last 7 days")
    assert "window=7d" in page.url

    # The keyboard works the tabs as WAI-ARIA describes: arrows, Home, End.
    page.keyboard.press("ArrowRight")
    expect(page.locator("#tab-30d")).to_be_focused()
    expect(page.locator("#tab-30d")).to_have_attribute("aria-selected", "true")
    expect(names(page)).to_have_text([":fire:", ":rocket:", ":tada:"])
    assert "window=30d" in page.url
    page.keyboard.press("End")
    expect(page.locator("#tab-all")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Home")
    expect(page.locator("#tab-24h")).to_have_attribute("aria-selected", "true")
    assert page.locator("[role=tab][tabindex='0']").count() == 1

    # The page follows the view it shows: a window it left is asked for afresh.
    page.get_by_role("tab", name="7 days").click()
    post_event(stack, reaction("fire", user="U4"))
    expect(rows(page).first.locator(".count")).to_have_text("2", timeout=2000)
    page.get_by_role("tab", name="24 h").click()
    expect(rows(page).locator(".count")).to_have_text(["2"])

    # A bookmarked window opens on that window.
    page.goto(stack.url + "/?window=30d")
    expect(page.locator("#tab-30d")).to_have_attribute("aria-selected", "true")
    expect(names(page)).to_have_text([":fire:", ":rocket:", ":tada:"])


def test_tv_mode_is_big_shows_the_top_ten_and_rotates(stack, open_page):
    post_all(stack, *[f"e{i:02d}" for i in range(12)])
    screen = {"width": 1920, "height": 1080}
    normal = open_page("/?window=24h", viewport=screen)
    tv = open_page("/?window=24h&tv=1&rotate=5", viewport=screen)
    expect(rows(normal)).to_have_count(12)
    expect(rows(tv)).to_have_count(10)
    assert tv.evaluate("document.documentElement.classList.contains('tv')")
    expect(tv.locator("#more")).to_have_text("+2 more")  # the cut list says what it left out
    expect(normal.locator("#more")).to_be_hidden()

    def size(page, selector):
        return page.locator(selector).first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert size(tv, "#leaderboard .count") > 1.5 * size(normal, "#leaderboard .count")
    assert size(tv, "#leaderboard .name") >= 44  # twice TV mode's 22 px of before, at 1080p
    # Ten rows fill the screen without scrolling.
    assert tv.evaluate("document.documentElement.scrollHeight") <= screen["height"]
    assert rows(tv).first.bounding_box()["height"] > screen["height"] / 20
    # A wall screen has nothing to click: no tabs, no links in the rows.
    expect(tv.get_by_role("tab")).to_have_count(0)
    expect(tv.locator("nav.views")).to_be_hidden()
    expect(tv.locator("#leaderboard a")).to_have_count(0)

    # One view (the default) rotates through its windows, as TV mode always has.
    expect(tv.locator("#view-title")).to_have_text("Top emoji · 24 hours")
    expect(tv.locator("#view-title")).to_have_text("Top emoji · 7 days", timeout=8000)
    expect(tv.locator("#total-label")).to_have_text("reactions in the last 7 days")


def test_tv_mode_rotates_views_with_countdown_clock_ticker_and_qr(stack, open_page):
    post_event(stack, reaction("fire", user=ADA, channel=GENERAL))
    screen = {"width": 1920, "height": 1080}
    tv = open_page("/?tv=1&views=emoji,givers,channels&rotate=10", viewport=screen)
    expect_live(tv)
    expect(tv.locator("#view-title")).to_have_text("Top emoji · 24 hours")
    expect(tv.locator("#tv-next-view")).to_have_text("Top reaction givers · 24 hours")
    expect(tv.locator("#tv-countdown")).to_have_text(re.compile(r"^([1-9]|10) s$"))
    expect(tv.locator("#tv-time")).to_have_text(re.compile(r"\d{1,2}:\d{2}"))
    expect(tv.locator("#tv-date")).not_to_be_empty()
    # The QR code, drawn in the page, opens this view without TV mode.
    qr = tv.locator("#qr")
    expect(qr).to_have_attribute("data-url", f"{stack.url}/?view=emoji&window=24h")
    box = qr.bounding_box()
    assert box["width"] > 100 and box["height"] > 100
    assert qr.evaluate("c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data"
                       ".some((v, i) => i % 4 === 0 && v === 0)")  # dark modules were drawn

    # The ticker: what the updates of the shown view raised, newest first.
    expect(tv.locator("#ticker-empty")).to_be_visible()
    post_event(stack, reaction("tada", user=GRACE, channel=GENERAL))
    expect(tv.locator("#ticker li .ticker-name")).to_have_text([":tada:"], timeout=3000)
    post_event(stack, reaction("rocket", user=GRACE, channel=GENERAL))
    expect(tv.locator("#ticker li .ticker-name")).to_have_text([":rocket:", ":tada:"], timeout=3000)
    expect(tv.locator("#ticker li .ticker-when").first).to_have_text("now")

    # The next view, with its own title, rows and QR code.
    expect(tv.locator("#view-title")).to_have_text("Top reaction givers · 24 hours", timeout=12000)
    expect(names(tv)).to_have_text(["Grace", "Ada"])
    expect(qr).to_have_attribute("data-url", f"{stack.url}/?view=people&side=given&window=24h")
    expect(tv.locator("#tv-next-view")).to_have_text("Top channels · 24 hours")
    post_event(stack, reaction("eyes", user=ADA, channel=GENERAL))
    expect(tv.locator("#ticker li .ticker-name").first).to_have_text("Ada", timeout=3000)
    expect(tv.locator("#view-title")).to_have_text("Top channels · 24 hours", timeout=12000)
    expect(names(tv)).to_have_text(["#general"])
    assert tv.evaluate("document.documentElement.scrollHeight") <= screen["height"]


def emoji_changed(stack, subtype, **fields):
    """A custom emoji changed in Slack: in its list (the stand-in's), then the event."""
    envelope = simulate.emoji_changed_event(subtype, team_id=TEAM, **fields)
    assert post_event(stack, envelope).status_code == 200
    stack.slack.emoji[fields["name"]] = fields["value"]


@pytest.fixture
def slack(stack):
    yield stack.slack
    stack.slack.reset()


def test_emoji_look_as_in_slack(stack, open_page, slack):
    post_all(stack, "fire", "party-parrot", "partyparrot")
    page = open_page("/?window=24h")
    expect_live(page)
    fire = rows(page).filter(has_text=":fire:")
    expect(fire.locator(".emoji.glyph")).to_have_text("\U0001F525")
    for name in ("party-parrot", "partyparrot"):  # the second is an alias of the first
        image = rows(page).filter(has_text=f":{name}:").locator("img.emoji.image")
        expect(image).to_have_attribute("src", slack.image_url("party-parrot"))
        expect(image).to_have_attribute("alt", f":{name}:")
        assert image.evaluate("i => i.decode().then(() => i.naturalWidth)") > 0

    # An emoji that first appears in an update is drawn from the update's own fields.
    post_event(stack, reaction("shipit", user="U9"))
    image = rows(page).filter(has_text=":shipit:").locator("img.emoji.image")
    expect(image).to_have_attribute("src", slack.image_url("shipit"), timeout=2000)


def test_unknown_emoji_and_lost_images_show_their_name_on_a_badge(stack, open_page, slack):
    emoji_changed(stack, "add", name="vanished", value=slack.image_url("vanished"))  # a 404
    post_all(stack, "vanished", "no-such-emoji-anywhere")
    page = open_page("/?window=24h")
    expect_live(page)
    for name in ("vanished", "no-such-emoji-anywhere"):
        expect(rows(page).filter(has_text=f":{name}:").locator(".emoji.badge")).to_have_text(name)
    expect(page.locator("#leaderboard img")).to_have_count(0)


def test_hostile_names_stay_text(stack, open_page, slack):
    """The Slack route refuses such names now (chalicelib/names.py); rows stored before
    it did, written here through the app's own stores, must still be inert text."""
    evil = "<img src=x onerror=alert(1)>"
    assert requests.get(f"{stack.url}/api/leaderboard", timeout=10).ok  # the day's emoji.list
    services.get().emoji.apply(slack_events.EmojiChanged(
        event_id="EvOLD0", team_id=TEAM, removed=(),
        added=(evil, slack.image_url("party-parrot"))), TEAM)
    for i, name in enumerate([evil, "<b>bold</b>"]):
        services.get().counts.record(slack_events.Reaction(
            event_id=f"EvOLD{i + 1}", team_id=TEAM, added=True, user="U1", reaction=name,
            item=f"C1/{i}.1", event_time=time.time()), TEAM)
    page = open_page("/?window=24h")
    page.on("dialog", lambda dialog: pytest.fail("a name from Slack ran as script"))
    expect_live(page)
    row = rows(page).filter(has_text="onerror")
    expect(row.locator(".name")).to_have_text(f":{evil}:")
    expect(row.locator("img.emoji.image")).to_have_attribute("alt", f":{evil}:")
    expect(rows(page).filter(has_text="bold").locator(".emoji.badge")).to_have_text("<b>bold</b>")
    assert page.locator("#leaderboard b").count() == 0
    assert page.locator("#leaderboard img").count() == 1  # the custom emoji's own image


def test_nothing_loads_from_elsewhere_and_no_policy_is_broken(stack, open_page):
    post_all(stack, "fire")
    page = open_page("/?window=24h")
    requests, problems = [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda m: m.type in ("error", "warning") and problems.append(m.text))
    page.reload()
    expect_live(page)
    expect(names(page)).to_have_text([":fire:"])
    assert requests and all(url.startswith((stack.url, stack.url.replace("http", "ws")))
                            for url in requests), requests
    assert problems == []


def _count_while_away(stack, *events):
    """Events counted while the dashboard's gateway is down: the app's own CountStore
    writing to DynamoDB, as other Lambda containers would."""
    store = CountStore(stack.dynamodb_client(), stack.counts_table)
    for envelope in events:
        assert store.record(slack_events.parse(simulate.encode(envelope)), TEAM).status == "counted"


def test_a_restarted_gateway_shows_reconnecting_then_live_with_exact_counts(stack, open_page):
    fire = [reaction("fire", user=f"U{i}", item_ts="1700000000.000100") for i in range(2)]
    for envelope in fire:
        post_event(stack, envelope)
    page = open_page("/?window=all")
    expect_live(page)
    expect(rows(page).locator(".count")).to_have_text(["2"])

    stack.stop_gateway()
    try:
        expect(page.locator("#status")).to_have_attribute("data-state", "reconnecting")
        expect(page.locator("#status")).to_have_text("reconnecting…")
        page.context.set_offline(True)
        expect(page.locator("#status")).to_have_attribute("data-state", "offline")
        undo = reaction("fire", added=False, user="U0", item_ts="1700000000.000100")
        _count_while_away(stack, *[reaction("eyes", user=f"U{i}") for i in range(3)], undo)
    finally:
        stack.start_gateway()
    page.context.set_offline(False)
    expect_live(page, timeout=20000)
    expect(names(page)).to_have_text([":eyes:", ":fire:"])
    expect(rows(page).locator(".count")).to_have_text(["3", "1"])
    expect(page.locator("#total")).to_have_text("4")
    states = page.evaluate("window.__states")
    # Live, then down: reconnecting, offline; back online, live again. A retry that
    # fires as the browser comes back may fail first (a loaded machine), and shows
    # "reconnecting" once more before "live": that is the page telling the truth.
    after = states[states.index("live") + 1:]
    assert after[:2] == ["reconnecting", "offline"] and after[-1] == "live", states
    assert set(after[2:-1]) <= {"reconnecting", "offline"}, states

    post_event(stack, reaction("eyes", user="U9"))  # the new socket gets updates
    expect(rows(page).first.locator(".count")).to_have_text("4", timeout=2000)


def test_a_screen_left_on_pings_and_hands_over_before_the_two_hour_limit(stack, open_page):
    page = open_page("/?window=24h", clock=True)
    expect_live(page)
    gateway = stack.gateway
    assert wait_for(lambda: len(gateway.connections) == 1)
    [first] = gateway.connections.values()
    connected = first.last_active_at

    page.clock.fast_forward(61_000)  # a ping a minute keeps API Gateway's idle timer off
    assert wait_for(lambda: first.last_active_at > connected)
    # Each jump of the page's clock fires every timer due by then, the pong timer of a
    # ping still in flight too: before jumping again, let the page have its pong.
    assert wait_for(lambda: page.evaluate("window.__pongs") >= 1)

    before = set(gateway.connections)
    page.clock.fast_forward("01:50:00")  # a new socket opens before the 2-hour limit...
    assert wait_for(lambda: set(gateway.connections) - before)
    [second] = set(gateway.connections) - before
    assert wait_for(lambda: page.evaluate("window.__pongs") >= 2)  # this jump's ping
    assert wait_for(lambda: gateway.handled[second] >= 1)  # the page asks there: switched
    page.clock.fast_forward(6_000)  # ...and the old one closes once the new one is live
    assert wait_for(lambda: first.id not in gateway.connections and second in gateway.connections)
    states = page.evaluate("window.__states")
    assert states == ["connecting", "live"], states

    post_event(stack, reaction("fire", user="U1"))
    expect(names(page)).to_have_text([":fire:"], timeout=2000)


def test_a_silent_socket_is_replaced(stack, open_page):
    page = open_page("/?window=24h", clock=True)
    expect_live(page)
    gateway = stack.gateway
    assert wait_for(lambda: len(gateway.connections) == 1)
    [first] = gateway.connections
    gateway.throttle[first] = 1000  # failure injection: no push reaches it, pongs neither

    page.clock.fast_forward(61_000)   # ping...
    time.sleep(0.5)
    page.clock.fast_forward(11_000)   # ...no pong within 10 s: the page gives up on it
    expect(page.locator("#status")).to_have_attribute("data-state", "reconnecting")
    page.clock.fast_forward(2_000)    # the backoff
    expect_live(page)
    assert wait_for(lambda: list(gateway.connections) not in ([], [first]))


def post_demo(stack):
    """A small, realistic workspace's day: people, channels, emoji, custom ones too."""
    plan = [("thumbsup", ADA, GENERAL, GRACE), ("thumbsup", GRACE, GENERAL, ADA),
            ("thumbsup", ALAN, RANDOM, ADA), ("tada", ADA, GENERAL, ALAN),
            ("tada", GRACE, RANDOM, ALAN), ("fire", ADA, RANDOM, GRACE),
            ("party-parrot", GRACE, GENERAL, ADA), ("eyes", ALAN, GENERAL, GRACE),
            ("rocket", ADA, SECRET_CHANNEL, GRACE), ("zzz-unknown", ALAN, RANDOM, ADA)]
    for emoji, user, channel, author in plan:
        assert post_event(stack, reaction(emoji, user=user, channel=channel,
                                          item_user=author)).status_code == 200


VIEWS = {  # name -> path, the rows it must show once post_demo ran
    "emoji": ("/?view=emoji&window=24h", [":+1:", ":tada:", ":eyes:", ":fire:", ":party-parrot:",
                                         ":rocket:", ":zzz-unknown:"]),
    "given": ("/?view=people&side=given&window=24h", ["Ada", "Alan Turing", "Grace"]),
    "received": ("/?view=people&side=received&window=24h", ["Ada", "Grace", "Alan Turing"]),
    "channels": ("/?view=channels&window=24h", ["#general", "#random"]),
    "unused": ("/?view=unused&window=30d", None),
    "filtered": (f"/?view=emoji&channel={GENERAL}&window=24h",
                 [":+1:", ":eyes:", ":party-parrot:", ":tada:"]),
    "detail": ("/?view=emoji&emoji=tada", None),
}


def test_each_view_shows_its_rows_from_real_events(stack, open_page, slack):
    post_demo(stack)
    for name, (path, expected) in VIEWS.items():
        page = open_page(path)
        expect_live(page)
        if expected:
            expect(names(page)).to_have_text(expected)
    people = open_page(VIEWS["given"][0])
    expect(rows(people).locator(".count")).to_have_text(["4", "3", "3"])
    expect(people.locator("#total-label")).to_have_text("reactions given in the last 24 hours")
    # Faces: an avatar only from an http(s) URL, drawn from the person's row.
    ada = rows(people).filter(has_text="Ada").locator("img.face")
    expect(ada).to_have_attribute("src", slack.avatar_url(ADA))
    channels = open_page(VIEWS["channels"][0])
    expect(rows(channels).locator(".count")).to_have_text(["5", "4"])  # #secret-plans: never
    expect(channels.locator("#leaderboard")).not_to_contain_text("secret")
    # The unused board: the workspace's custom emoji no one reacted with, by name.
    unused = open_page(VIEWS["unused"][0])
    expect(rows(unused).first).to_be_visible()
    listed = names(unused).all_text_contents()
    assert listed == sorted(listed) and listed
    assert ":party-parrot:" not in listed
    expect(rows(unused).first.locator("img.emoji.image")).to_be_visible()
    expect(unused.get_by_role("tab", name="24 h")).to_be_hidden()  # no such window there
    # Live: a reaction with one takes it off the list; removing it puts it back.
    first = listed[0].strip(":")
    use = reaction(first, user=ADA, channel=GENERAL, item_ts="1700000000.000200")
    post_event(stack, use)
    expect(names(unused)).to_have_text(listed[1:], timeout=10_000)
    post_event(stack, reaction(first, added=False, user=ADA, channel=GENERAL,
                               item_ts="1700000000.000200"))
    expect(names(unused)).to_have_text(listed, timeout=10_000)


def test_tied_counts_share_a_rank_and_both_get_gold(stack, open_page):
    post_all(stack, "fire", "fire", "eyes", "eyes", "tada")
    page = open_page("/?view=emoji&window=24h")
    expect_live(page)
    expect(rows(page).locator(".rank")).to_have_text(["1", "1", "3"])
    gold = [rows(page).nth(i).locator(".rank").evaluate("e => getComputedStyle(e).backgroundColor")
            for i in range(2)]
    assert gold[0] == gold[1] != "rgba(0, 0, 0, 0)"
    expect(rows(page).nth(2)).to_have_attribute("data-rank", "3")  # bronze, not silver


def test_a_cut_list_says_how_many_more_there_are(stack, open_page):
    post_all(stack, *[f"e{i:02d}" for i in range(53)])
    page = open_page("/?view=emoji&window=24h")
    expect_live(page)
    expect(rows(page)).to_have_count(50)
    expect(page.locator("#more")).to_have_text("+3 more")
    post_event(stack, reaction("one-more", user="U99"))
    expect(page.locator("#more")).to_have_text("+4 more", timeout=3000)


def test_clicking_a_channel_or_a_person_narrows_the_emoji_board(stack, open_page):
    post_demo(stack)
    page = open_page("/?view=channels&window=24h")
    expect_live(page)
    rows(page).filter(has_text="#general").click()
    expect(page).to_have_url(re.compile(rf"\?view=emoji&channel={GENERAL}&window=24h$"))
    chip = page.get_by_role("link", name=re.compile(r"in #general"))
    expect(chip).to_be_visible()
    expect(names(page)).to_have_text(VIEWS["filtered"][1])
    expect(page.locator("#total")).to_have_text("5")
    expect(page.locator("#total-label")).to_have_text("reactions in #general in the last 24 hours")
    chip.click()  # the chip's × clears the filter
    expect(page).to_have_url(re.compile(r"\?view=emoji&window=24h$"))
    expect(page.locator("#filter")).to_be_hidden()
    expect(rows(page)).to_have_count(7)
    page.go_back()
    expect(chip).to_be_visible()
    expect(names(page)).to_have_text(VIEWS["filtered"][1])
    page.go_back()
    expect(names(page)).to_have_text(["#general", "#random"])

    page.get_by_role("link", name="People").click()
    page.get_by_role("link", name="Received").click()
    expect(page).to_have_url(re.compile(r"\?view=people&side=received&window=24h$"))
    rows(page).filter(has_text="Grace").click()
    expect(page).to_have_url(re.compile(rf"\?view=emoji&receiver={GRACE}&window=24h$"))
    expect(page.get_by_role("link", name=re.compile("received by Grace"))).to_be_visible()
    expect(names(page)).to_have_text([":+1:", ":eyes:", ":fire:", ":rocket:"])
    page.get_by_role("link", name="People").click()
    rows(page).filter(has_text="Ada").click()  # given: what Ada reacted with
    expect(page.get_by_role("link", name=re.compile("given by Ada"))).to_be_visible()
    expect(names(page)).to_have_text([":+1:", ":fire:", ":rocket:", ":tada:"])


def test_the_url_keeps_the_view_and_round_trips(stack, open_page):
    post_demo(stack)
    cases = {
        "/?view=people&side=received&window=7d": ("Received", "7 days"),
        f"/?view=emoji&channel={GENERAL}&window=30d": ("Emoji", "30 days"),
        "/?view=channels&window=all": ("Channels", "All time"),
        "/?view=unused&window=all": ("Unused emoji", "All time"),
    }
    for path, (current, tab) in cases.items():
        page = open_page(path)
        expect_live(page)
        assert page.url == stack.url + path
        expect(page.locator("[aria-current]").filter(has_text=current)).to_have_count(1)
        expect(page.get_by_role("tab", name=tab)).to_have_attribute("aria-selected", "true")
    page = open_page("/?view=emoji&emoji=tada&trend=12m")
    expect(page.locator("#detail-name")).to_have_text(":tada:")
    expect(page.get_by_role("tab", name="12 months")).to_have_attribute("aria-selected", "true")
    # An old bookmark opens, tidied into today's form; nonsense falls back to a default.
    page = open_page("/?window=7d")
    expect(page).to_have_url(re.compile(r"\?view=emoji&window=7d$"))
    page = open_page("/?view=nope&window=1y&channel=not-an-id")
    expect(page).to_have_url(re.compile(r"\?view=emoji&window=24h$"))
    expect(names(page)).to_have_count(7)


def test_an_emoji_opens_its_detail_with_its_trend_chart(stack, open_page):
    post_demo(stack)
    post_event(stack, reaction("tada", user=ALAN, event_time=time.time() - 3 * DAY))
    page = open_page("/?view=emoji&window=24h")
    expect_live(page)
    rows(page).filter(has_text=":tada:").click()
    expect(page).to_have_url(re.compile(r"\?view=emoji&emoji=tada$"))
    expect(page.locator("#detail-name")).to_have_text(":tada:")
    expect(page.locator("#detail-look .emoji.glyph")).to_have_text("\U0001F389")
    expect(page.locator("#detail-24h")).to_have_text("2")
    expect(page.locator("#detail-7d")).to_have_text("3")
    expect(page.locator("#detail-30d")).to_have_text("3")
    expect(page.locator("#detail-all")).to_have_text("3")
    canvas = page.locator("#chart canvas").first
    expect(canvas).to_be_visible()
    box = canvas.bounding_box()
    assert box["width"] > 300 and box["height"] > 100
    expect(page.locator("#chart")).to_have_attribute("aria-label", re.compile(
        r"^Reactions with :tada: per day over the last 30 days: 3 reactions in all"))

    page.get_by_role("tab", name="24 h").click()
    expect(page).to_have_url(re.compile(r"\?view=emoji&emoji=tada&trend=24h$"))
    expect(page.locator("#chart")).to_have_attribute("aria-label", re.compile("per hour"))
    page.keyboard.press("ArrowRight")  # the trend tabs work as the window tabs do
    expect(page.get_by_role("tab", name="30 days")).to_be_focused()

    # A reaction with it refetches the trend (debounced) and the totals follow.
    post_event(stack, reaction("tada", user=GRACE, channel=GENERAL))
    expect(page.locator("#detail-24h")).to_have_text("3", timeout=5000)
    expect(page.locator("#detail-all")).to_have_text("4")
    expect(page.locator("#chart")).to_have_attribute("aria-label", re.compile("4 reactions in all"))

    page.get_by_role("link", name="All emoji").click()
    expect(page).to_have_url(re.compile(r"\?view=emoji&window=24h$"))
    page.go_back()
    expect(page.locator("#detail")).to_be_visible()


def test_live_updates_reach_pages_narrowed_to_a_channel_or_a_person(stack, open_page):
    post_demo(stack)
    channel = open_page(f"/?view=emoji&channel={GENERAL}&window=24h")
    person = open_page(f"/?view=emoji&giver={ADA}&window=24h")
    givers = open_page("/?view=people&side=given&window=24h")
    for page in (channel, person, givers):
        expect_live(page)
    expect(person.locator("#total")).to_have_text("4")

    post_event(stack, reaction("sparkles", user=ADA, channel=GENERAL, item_user=GRACE))
    expect(channel.locator("#leaderboard")).to_contain_text(":sparkles:", timeout=2000)
    expect(person.locator("#leaderboard")).to_contain_text(":sparkles:", timeout=2000)
    expect(person.locator("#total")).to_have_text("5")
    expect(rows(givers).filter(has_text="Ada").locator(".count")).to_have_text("5", timeout=2000)

    # Someone else, elsewhere: neither narrowed page moves.
    post_event(stack, reaction("snail", user=GRACE, channel=RANDOM, item_user=ADA))
    expect(rows(givers).filter(has_text="Grace").locator(".count")).to_have_text("4", timeout=2000)
    settled(stack)
    expect(channel.locator("#leaderboard")).not_to_contain_text(":snail:")
    expect(person.locator("#leaderboard")).not_to_contain_text(":snail:")
    expect(channel.locator("#total")).to_have_text("6")


def test_rising_now_needs_three_in_a_day_above_the_monthly_pace(stack, open_page):
    ten_days_ago = time.time() - 10 * DAY
    for i in range(12):
        post_event(stack, reaction("fire", user=f"U{i}", event_time=ten_days_ago))
    post_all(stack, "fire", "fire", "fire", "tada", "tada", "tada", "eyes", "eyes")
    page = open_page("/?view=emoji&window=24h")
    expect_live(page)
    items = page.locator("#rising li")
    expect(items.locator(".rising-name")).to_have_text([":tada:", ":fire:"])  # eyes: only 2
    expect(items.first).to_contain_text("3 in 24 h · 30× usual")
    expect(items.nth(1)).to_contain_text("3 in 24 h · 6× usual")
    items.first.click()
    expect(page).to_have_url(re.compile(r"\?view=emoji&emoji=tada$"))


def test_people_boards_off_hides_people_everywhere(stack, browser, tmp_path):
    """The page built with people_boards off (what PEOPLE_BOARDS=off deploys), served in
    place of the stack's own page: the same assets, its own config."""
    post_demo(stack)
    index = site.build(tmp_path / "site", people_boards=False).index
    context = browser.new_context()
    try:
        context.route(re.compile(r"^[^?]*/(\?.*)?$"), lambda route: route.fulfill(
            body=index.read_text(), content_type="text/html"))
        page = context.new_page()
        page.goto(f"{stack.url}/?view=people&side=given&window=24h")
        expect(page).to_have_url(re.compile(r"\?view=emoji&window=24h$"))
        expect(page.locator("nav.views a")).to_have_text(["Emoji", "Channels", "Unused emoji"])
        expect(names(page)).to_have_count(7)
        page.goto(f"{stack.url}/?view=emoji&giver={ADA}&window=24h")  # a person filter: ignored
        expect(page.locator("#filter")).to_be_hidden()
        expect(names(page)).to_have_count(7)
        page.goto(f"{stack.url}/?tv=1&views=givers,channels,emoji&rotate=5")
        expect(page.locator("#view-title")).to_have_text("Top channels · 24 hours")
        expect(page.locator("#tv-next-view")).to_have_text("Top emoji · 24 hours")
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_accessible_in_both_themes(stack, open_page, scheme):
    """axe-core's WCAG 2 A/AA rules (contrast, names, roles) over every view, live."""
    post_demo(stack)
    for name, (path, _) in [*VIEWS.items(), ("tv", ("/?tv=1&views=emoji,givers", None))]:
        # The page's CSP runs only its own scripts: bypassed here to inject axe.
        page = open_page(path, color_scheme=scheme, reduced_motion="reduce", bypass_csp=True)
        expect_live(page)
        if name == "detail":
            expect(page.locator("#chart canvas").first).to_be_visible()
        else:
            expect(rows(page).first).to_be_visible()
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("""() => axe.run(document, {
            runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})""")
        problems = [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]]
        assert problems == [], name
        assert result["passes"], "axe checked nothing"
        page.context.close()


SHOTS = {  # name -> path, and whether it is TV mode
    **{name: path for name, (path, _) in VIEWS.items()},
    "tv": "/?tv=1&views=emoji,givers,channels",
}


@pytest.mark.parametrize("name, options", [
    ("light", {"color_scheme": "light"}),
    ("dark", {"color_scheme": "dark"}),
    ("phone", {"color_scheme": "light", "viewport": {"width": 390, "height": 844},
               "device_scale_factor": 2}),
])
def test_screenshots(stack, open_page, name, options):
    """Not a pixel comparison: pictures in tests/artifacts/ for people to look at, of
    every view, and of TV mode at 1920x1080."""
    weights = {"thumbsup": 9, "tada": 7, "heart": 6, "eyes": 5, "fire": 4, "rocket": 3,
               "party-parrot": 3, "white_check_mark": 2, "100": 2, "pray": 1,
               "some-deleted-emoji": 1}
    people = [ADA, GRACE, ALAN, "UDEMOKATHERINE", "UDEMOLINUS"]
    channels = [GENERAL, RANDOM, "CDEMODESIGN", SECRET_CHANNEL]
    i = 0
    for emoji, n in weights.items():
        for _ in range(n):
            i += 1
            post_event(stack, reaction(emoji, user=people[i % 5], channel=channels[i % 4],
                                       item_user=people[(i * 3) % 5],
                                       event_time=time.time() - (i % 9) * 3000))
    ARTIFACTS.mkdir(exist_ok=True)
    shots = {"emoji": SHOTS["emoji"]} if name == "phone" else SHOTS
    for view, path in shots.items():
        tv = view == "tv"
        if tv and name == "light":
            continue  # TV mode once, in the dark a wall screen usually has
        extra = {"viewport": {"width": 1920, "height": 1080}} if tv else {}
        page = open_page(path, reduced_motion="reduce", **{**options, **extra})
        expect_live(page)
        if view == "detail":
            expect(page.locator("#chart canvas").first).to_be_visible()
        else:
            expect(rows(page).first).to_be_visible()
        if tv:  # a reaction for the ticker
            post_event(stack, reaction("tada", user=ADA, channel=GENERAL))
            expect(page.locator("#ticker li")).to_have_count(1, timeout=3000)
        # (wait_for_function polls with eval, which the page's CSP refuses)
        assert wait_for(lambda: page.evaluate("[...document.images].every(i => i.complete)"))
        page.wait_for_timeout(300)
        file = f"dashboard-{view}.png" if tv else f"dashboard-{view}-{name}.png"
        page.screenshot(path=ARTIFACTS / file, full_page=not tv)
        page.context.close()


def test_a_board_that_cannot_load_says_so_instead_of_live(stack, open_page):
    """FAULT INJECTION: the store refuses the leaderboard's reads (the app's boto3
    client patched in-process, as in test_faults.py), so the first paint over HTTP and
    the snapshot over the socket both fail. The header must not claim "live" over an
    empty board; once the store is back the page loads by itself."""
    from tests.test_faults import _failing
    post_all(stack, "fire")
    with _failing("Query"):
        page = open_page("/?window=24h")
        status = page.locator("#status")
        expect(status).to_have_attribute("data-state", "trouble")
        expect(status).to_contain_text("can't load the board")
        page.wait_for_timeout(1500)
        assert "live" not in page.evaluate("window.__states")
    expect_live(page)  # retried every few seconds
    expect(names(page)).to_have_text([":fire:"])


def test_a_snapshot_answer_lost_on_the_way_says_so_then_loads(stack, open_page):
    """FAULT INJECTION: the local Management API throttles every attempt to push the
    answer to one snapshot request (Gateway.throttle), so it never arrives. After 30 s
    (the page's clock, moved) the header says so and the page asks again."""
    post_all(stack, "fire", event_time=time.time() - 3 * DAY)
    page = open_page("/?window=24h", clock=True)
    expect_live(page)
    gateway = stack.gateway
    [connection_id] = wait_for(lambda: list(gateway.connections))
    gateway.throttle[connection_id] = 4  # botocore's standard mode tries 4 times
    page.get_by_role("tab", name="7 days").click()
    assert wait_for(lambda: gateway.throttle[connection_id] == 0, timeout=30)
    status = page.locator("#status")
    expect(status).to_have_attribute("data-state", "live")  # 30 s are not up yet
    page.clock.fast_forward(31_000)
    expect(status).to_have_attribute("data-state", "trouble")
    expect_live(page)  # the second request's answer arrives
    expect(names(page)).to_have_text([":fire:"])


def test_a_running_history_import_shows_a_quiet_progress_line(stack, open_page):
    from devkit import importer
    from tests import test_history
    stack.slack.load_workspace(test_history.workspace())
    # One history page per 6 s: the import runs long enough to be seen.
    stack.slack.window = 6.0
    stack.slack.limits["conversations.history"] = 1
    try:
        idle = open_page("/")
        expect_live(idle)
        expect(idle.locator("#importing")).to_be_hidden()
        importer.request(importer.Target.local(stack.url), 30, lambda *a, **k: None)
        wait_for(lambda: requests.get(f"{stack.url}/api/history", timeout=10).json()["state"]
                 == "running", timeout=30)
        page = open_page("/")
        line = page.locator("#importing")
        expect(line).to_be_visible(timeout=10_000)
        expect(line).to_have_text(re.compile(
            r"Importing history since (\d+ \w+\.?|\w+\.? \d+): (\d+ of \d+ channels|finding "
            r"channels), "
            r"[\d,]+ reactions so far"))
        page.screenshot(path=str(ARTIFACTS / "dashboard-importing.png"))
        wait_for(lambda: requests.get(f"{stack.url}/api/history", timeout=10).json()["state"]
                 == "done", timeout=120, interval=0.5)
        expect(line).to_be_hidden(timeout=10_000)
    finally:
        stack.slack.reset()
