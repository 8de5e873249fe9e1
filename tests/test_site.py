"""`python -m devkit site build`: the dashboard as static files for S3 or any server."""
import base64
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from devkit import site

ROOT = Path(__file__).resolve().parent.parent
API = "https://abc123.execute-api.eu-west-1.amazonaws.com/api"
WS = "wss://def456.execute-api.eu-west-1.amazonaws.com/api"
FINGERPRINTED = re.compile(r"^(?P<stem>[\w-]+)\.(?P<hash>[0-9a-f]{8})\.(?P<ext>js|css|svg)$")


def config_of(html: str) -> dict:
    match = re.search(r'<script id="emojiboard-config" type="application/json">(.*?)</script>',
                      html, re.S)
    return json.loads(match.group(1))


def build(tmp_path, **kwargs) -> Path:
    args = dict(api_url=API, ws_url=WS, title="Emojiboard", workspace="Acme")
    args.update(kwargs)
    return site.build(tmp_path / "site", **args)


def test_cli_builds_the_site_with_the_urls_given(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "devkit", "site", "build", "--api-url", API, "--ws-url", WS,
         "--out", str(tmp_path / "out"), "--title", "Reactions", "--workspace", "Acme Corp"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "out" / "index.html").read_text()
    assert config_of(html) == {"apiUrl": API, "wsUrl": WS, "title": "Reactions",
                               "workspace": "Acme Corp", "peopleBoards": True}
    assert "<title>Reactions · Acme Corp</title>" in html


def test_assets_are_fingerprinted_by_content_and_all_referenced(tmp_path):
    index = build(tmp_path)
    html = index.read_text()
    built = {p.name for p in index.parent.iterdir() if not p.name.startswith(".")}
    assets = built - {"index.html"}
    sources = {p.name for p in site.ASSETS.iterdir()} | set(site.VENDOR)
    names = {name: FINGERPRINTED.match(name) for name in assets}
    assert all(names.values()), names
    assert {f"{m['stem']}.{m['ext']}" for m in names.values()} == sources
    for name, match in names.items():
        assert match["hash"] == hashlib.sha256((index.parent / name).read_bytes()).hexdigest()[:8]
    # Every module the page imports by its plain name resolves to a fingerprinted file.
    importmap = json.loads(re.search(r'<script type="importmap">(.*?)</script>', html, re.S).group(1))
    modules = {p.name for p in site.ASSETS.glob("*.js")} | {n for n in site.VENDOR if n.endswith(".js")}
    assert set(importmap["imports"]) == {f"./{m}" for m in modules}
    assert all(target[2:] in built for target in importmap["imports"].values())
    for referenced in re.findall(r'(?:src|href)="\./([^"]+)"', html):
        assert referenced in built


def test_nothing_is_loaded_from_elsewhere(tmp_path):
    index = build(tmp_path)
    vendored = {site.fingerprinted(site.NODE_MODULES / path, name)
                for name, path in site.VENDOR.items()}
    for path in index.parent.iterdir():
        if path.suffix not in (".js", ".css"):
            continue
        text = path.read_text()
        if path.name in vendored:
            # The libraries' comments cite web pages and an SVG namespace; what matters
            # is that nothing is imported or fetched from elsewhere.
            assert not re.search(r"""(import|from)\s*\(?\s*["']https?:|@import|url\(\s*["']?https?:|fetch\(""",
                                 text), path.name
        else:
            assert not re.search(r"https?://|//cdn|@import", text), path.name
    html = index.read_text()
    external = set(re.findall(r'(?:src|href)="([^"]+)"', html))
    assert all(url.startswith(("./", "?")) for url in external), external  # "?view=": same page


def test_the_content_security_policy_allows_only_the_page_and_its_api(tmp_path):
    html = build(tmp_path).read_text()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)
    csp = csp.replace("&#39;", "'")
    importmap = re.search(r'<script type="importmap">(.*?)</script>', html, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(importmap.encode()).digest()).decode()
    assert f"script-src 'self' 'sha256-{digest}'" in csp
    assert "connect-src 'self' https://abc123.execute-api.eu-west-1.amazonaws.com " \
           "wss://def456.execute-api.eu-west-1.amazonaws.com" in csp
    assert "unsafe-inline" not in csp


def test_titles_are_data_not_markup(tmp_path):
    evil = '</script><script>alert(1)</script>'
    html = build(tmp_path, title=evil, workspace=evil).read_text()
    assert "<script>alert(1)" not in html
    assert config_of(html)["title"] == evil and config_of(html)["workspace"] == evil


def test_rebuilds_in_place_but_never_wipes_a_foreign_directory(tmp_path):
    first = build(tmp_path)
    stale = first.parent / "app.00000000.js"
    stale.write_text("old")
    build(tmp_path)
    assert not stale.exists()
    foreign = tmp_path / "docs"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(site.SiteError, match="not empty"):
        site.build(foreign, api_url=API, ws_url=WS)
    assert (foreign / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("flag, value, message", [
    ("--api-url", "ftp://example.com", "--api-url must be an absolute http or https URL"),
    ("--ws-url", "https://example.com/ws", "--ws-url must be an absolute ws or wss URL"),
    ("--api-url", "/api", "--api-url must be an absolute"),
])
def test_bad_urls_are_clear_errors(tmp_path, flag, value, message):
    args = {"--api-url": API, "--ws-url": WS, flag: value}
    result = subprocess.run(
        [sys.executable, "-m", "devkit", "site", "build", *[x for kv in args.items() for x in kv],
         "--out", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (tmp_path / "out").exists()
