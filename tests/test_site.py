"""`python -m devkit site build`: the dashboard as static files, served on the app's
own origin (CloudFront, or the local gateway) with the headers `site.security_headers`
gives."""
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
FINGERPRINTED = re.compile(r"^(?P<stem>[\w-]+)\.(?P<hash>[0-9a-f]{8})\.(?P<ext>js|css|svg)$")


def config_of(html: str) -> dict:
    match = re.search(r'<script id="emojiboard-config" type="application/json">(.*?)</script>',
                      html, re.S)
    return json.loads(match.group(1))


def build(tmp_path, **kwargs) -> Path:
    args = dict(title="Emojiboard", workspace="Acme")
    args.update(kwargs)
    return site.build(tmp_path / "site", **args).index


def test_cli_builds_the_site_and_prints_its_policy(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "devkit", "site", "build",
         "--out", str(tmp_path / "out"), "--title", "Reactions", "--workspace", "Acme Corp"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "out" / "index.html").read_text()
    # Nothing in the page names a host: it talks to its own origin.
    assert config_of(html) == {"title": "Reactions", "workspace": "Acme Corp", "peopleBoards": True}
    assert "<title>Reactions · Acme Corp</title>" in html
    assert "Screens · Reactions · Acme Corp" in (tmp_path / "out" / "settings.html").read_text()
    assert f"Content-Security-Policy: {site.build(tmp_path / 'again', title='Reactions', workspace='Acme Corp').csp}" \
        in result.stdout


def test_assets_are_fingerprinted_by_content_and_all_referenced(tmp_path):
    index = build(tmp_path)
    html = index.read_text()
    built = {p.name for p in index.parent.iterdir() if not p.name.startswith(".")}
    assets = built - {"index.html", "settings.html"}
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
    # "?view=": the same page; "/auth/…": the app's routes on the same origin.
    assert all(url.startswith(("./", "?", "/auth/")) for url in external), external


def test_the_content_security_policy_allows_only_the_pages_and_their_origin(tmp_path):
    built = site.build(tmp_path / "site", title="Emojiboard")
    csp = built.csp
    for page in ("index.html", "settings.html"):
        html = (tmp_path / "site" / page).read_text()
        assert "http-equiv" not in html  # a header, where frame-ancestors works too
        importmap = re.search(r'<script type="importmap">(.*?)</script>', html, re.S).group(1)
        digest = base64.b64encode(hashlib.sha256(importmap.encode()).digest()).decode()
        assert f"script-src 'self' 'sha256-{digest}'" in csp  # the same map in both pages
    assert "connect-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "http" not in csp.replace("https:", "")
    headers = site.security_headers(csp)
    assert headers["Content-Security-Policy"] == csp
    assert headers["Strict-Transport-Security"].startswith("max-age=63072000")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


def test_the_local_gateway_sends_the_security_headers(stack):
    import requests
    for path in ("/", "/settings.html", "/api/leaderboard"):
        answer = requests.get(stack.url + path, timeout=10)
        assert answer.status_code == 200, path
        assert "connect-src 'self'" in answer.headers["Content-Security-Policy"], path
        assert answer.headers["X-Frame-Options"] == "DENY", path


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
        site.build(foreign)
    assert (foreign / "notes.txt").read_text() == "mine"


def test_a_bad_people_boards_value_is_a_clear_error(tmp_path):
    with pytest.raises(site.SiteError, match="--people-boards must be on or off"):
        site.build(tmp_path / "out", people_boards="maybe")


def test_a_deploy_keeps_the_previous_build_s_scripts_allowed(tmp_path):
    """Pages and header change apart during a deploy (S3, then CloudFront's edges): the
    new CSP also allows the import map of the build before it, and only that one."""
    csp = site.build(tmp_path / "site").csp

    def hashes(policy):
        return re.findall(r"'sha256-[^']+'", policy)
    mine = hashes(csp)
    assert len(mine) == 1
    before = csp.replace(mine[0], "'sha256-BEFORE='")  # deployed before: other assets
    merged = site.with_earlier_scripts(csp, before)
    assert hashes(merged) == mine + ["'sha256-BEFORE='"]
    # The next deploy keeps this build's hash, not the one before it.
    later = site.with_earlier_scripts(csp.replace(mine[0], "'sha256-LATER='"), merged)
    assert hashes(later) == ["'sha256-LATER='"] + mine
    assert site.with_earlier_scripts(csp, csp) == csp
    assert site.with_earlier_scripts(csp, None) == csp
