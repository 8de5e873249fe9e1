"""The dashboard in real headless Chromium (Debian's), against the local stack."""
import shutil

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.helpers import post_event, reaction

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps calling out to the network.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    page.close()
    assert errors == []


def test_page_shows_the_board_and_moves_live(stack, page):
    post_event(stack, reaction("fire", user="U1"))
    post_event(stack, reaction("fire", user="U2"))
    post_event(stack, reaction("eyes", user="U1"))
    page.goto(stack.url + "/")
    expect(page.locator("#status")).to_have_attribute("data-state", "live")
    rows = page.locator("#leaderboard li")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator(".name")).to_have_text(":fire:")
    expect(rows.nth(0).locator(".count")).to_have_text("2")

    for user in ("U2", "U3"):
        post_event(stack, reaction("eyes", user=user))
    expect(rows.nth(0).locator(".name")).to_have_text(":eyes:", timeout=2000)
    expect(rows.nth(0).locator(".count")).to_have_text("3", timeout=2000)


def test_names_render_as_text_never_markup(stack, page):
    post_event(stack, reaction("<img src=x onerror=alert(1)>"))
    page.on("dialog", lambda dialog: pytest.fail("a user's emoji name ran as script"))
    page.goto(stack.url + "/")
    expect(page.locator("#leaderboard li .name")).to_have_text(":<img src=x onerror=alert(1)>:")
    assert page.locator("#leaderboard img").count() == 0


def test_empty_board_says_so(stack, page):
    page.goto(stack.url + "/")
    expect(page.locator("#status")).to_have_attribute("data-state", "live")
    expect(page.locator("#empty")).to_be_visible()
