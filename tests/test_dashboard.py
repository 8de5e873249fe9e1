"""The dashboard in real headless Chromium (Debian's), against the real local stack:
signed events through the gateway, the page's own WebSocket, DynamoDB Local.

Two things here are instrumentation, not stand-ins: an init script records every
connection state the page shows and counts the row animations it starts, and
Playwright's clock moves the page's timers forward (hours of keep-alive in
seconds). One test refuses the WebSocket on purpose (failure injection) to show
the page is useful before its socket opens.
"""
import shutil
import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from chalicelib import services, slack_events
from chalicelib.counts import CountStore
from devkit import simulate
from tests.conftest import TEAM
from tests.helpers import post_event, reaction, wait_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps calling out to the network.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
# Room for a loaded CI machine; the "within 2 s" promises keep their own timeouts.
expect.set_options(timeout=10_000)
AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
DAY = 24 * 3600

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

    # A board once shown stays live: it is right the moment its tab comes back.
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

    def size(page, selector):
        return page.locator(selector).first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert size(tv, "#leaderboard .count") > size(normal, "#leaderboard .count")
    assert size(tv, "#leaderboard .name") > size(normal, "#leaderboard .name")
    # Ten rows fill the screen without scrolling.
    assert tv.evaluate("document.documentElement.scrollHeight") <= screen["height"]
    assert rows(tv).first.bounding_box()["height"] > screen["height"] / 20

    expect(tv.locator("#tab-7d")).to_have_attribute("aria-selected", "true", timeout=8000)
    expect(tv.locator("#total-label")).to_have_text("reactions in the last 7 days")


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
    assert states[-4:] == ["live", "reconnecting", "offline", "live"], states

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


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_accessible_in_both_themes(stack, open_page, scheme):
    """axe-core's WCAG 2 A/AA rules (contrast, names, roles) over a live board."""
    post_all(stack, "fire", "fire", "zzz-unknown", "tada")
    # The page's CSP runs only its own scripts: bypassed here to inject axe.
    page = open_page("/?window=24h", color_scheme=scheme, reduced_motion="reduce", bypass_csp=True)
    expect_live(page)
    expect(rows(page)).to_have_count(3)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""() => axe.run(document, {
        runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})""")
    problems = [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]]
    assert problems == []
    assert result["passes"], "axe checked nothing"


@pytest.mark.parametrize("name, options", [
    ("light", {"color_scheme": "light"}),
    ("dark", {"color_scheme": "dark"}),
    ("tv", {"color_scheme": "dark", "viewport": {"width": 1920, "height": 1080}}),
    ("phone", {"color_scheme": "light", "viewport": {"width": 390, "height": 844},
               "device_scale_factor": 2}),
])
def test_screenshots(stack, open_page, name, options):
    """Not a pixel comparison: pictures in tests/artifacts/ for people to look at."""
    weights = {"thumbsup": 9, "tada": 7, "heart": 6, "eyes": 5, "fire": 4, "rocket": 3,
               "party-parrot": 3, "white_check_mark": 2, "100": 2, "pray": 1,
               "some-deleted-emoji": 1}
    user = 0
    for emoji, n in weights.items():
        for _ in range(n):
            user += 1
            post_event(stack, reaction(emoji, user=f"U{user}"))
    path = "/?window=24h" + ("&tv=1" if name == "tv" else "")
    page = open_page(path, reduced_motion="reduce", **options)
    expect_live(page)
    expect(rows(page)).to_have_count(10 if name == "tv" else len(weights))
    page.wait_for_function("[...document.images].every(i => i.complete)")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"dashboard-{name}.png", full_page=name == "phone")


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
