"""Build the dashboard: `frontend/` rendered with jinja2 into a static site.

The same files work behind CloudFront and from the local gateway: the page talks
only to its own origin (`/api/…`, `/auth/…`, the WebSocket at `/ws`), so nothing in
it names a host. Assets get content fingerprints in
their names (`app.3f9a12bc.js`), so a host may cache them forever while
`index.html`, which names them, is never cached. ES modules import each other by
plain names (`./board.js`); an import map in the page points those names at the
fingerprinted files, so no bundler and no rewriting of the modules is needed.
Libraries the page uses (uPlot for charts, qrcode-generator for TV mode's QR code)
come from npm, pinned in package-lock.json, and ship in the site like its own assets:
nothing is loaded from a CDN.
"""
import base64
import hashlib
import json
import shutil
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Union

from jinja2 import Environment, FileSystemLoader, StrictUndefined

FRONTEND = Path(__file__).resolve().parent.parent / "frontend"
# Template -> page: the dashboard, and the screen links' settings page.
PAGES = {"index.html.j2": "index.html", "settings.html.j2": "settings.html"}
ASSETS = FRONTEND / "assets"
MARKER = ".emojiboard-site"  # marks a directory this builder may wipe and rebuild
NODE_MODULES = FRONTEND.parent / "node_modules"
# Site name -> the npm package file it is (ES modules and uPlot's stylesheet).
VENDOR = {
    "uplot.js": "uplot/dist/uPlot.esm.js",
    "uplot.css": "uplot/dist/uPlot.min.css",
    "qrcode.js": "qrcode-generator/dist/qrcode.mjs",
}


class SiteError(ValueError):
    """Bad build input: the message says what to fix."""


def fingerprinted(path: Path, name: Optional[str] = None) -> str:
    """`name` (the file's own by default) with its content's digest: `app.3f9a12bc.js`."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    named = Path(name or path.name)
    return f"{named.stem}.{digest}{named.suffix}"


class Built(NamedTuple):
    index: Path  # the dashboard's index.html; the other pages sit beside it
    csp: str     # the Content-Security-Policy its pages need, sent as a header


def _csp(importmap: str) -> str:
    """Only our own files run; the only inline script is the import map, by hash.
    The page talks to its own origin alone (CSP 3's 'self' covers ws: and wss: to it).
    Custom emoji images and avatars come from Slack's servers, hence any https image.
    Forms post only to the app's own /auth/ routes (sign-out)."""
    importmap_hash = base64.b64encode(hashlib.sha256(importmap.encode()).digest()).decode()
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'sha256-{importmap_hash}'",
        "connect-src 'self'",
        "img-src 'self' https: data:",
        "style-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def with_earlier_scripts(csp: str, earlier: Optional[str]) -> str:
    """`csp`, whose scripts also allow the import map of the build deployed before it
    (its own first hash in `earlier`). A deploy changes the pages and the header apart
    (S3, then CloudFront's edges, minutes apart): for that while, a new page under the
    old header, or an old page under the new one, still starts. Only one build back, so
    the list never grows."""
    def hashes(policy: str) -> List[str]:
        for directive in policy.split(";"):
            words = directive.split()
            if words[:1] == ["script-src"]:
                return [v for v in words[1:] if v.startswith("'sha256-")]
        return []
    previous = hashes(earlier or "")[:1]
    if not previous or previous[0] in hashes(csp):
        return csp
    return "; ".join(f"{d.strip()} {previous[0]}" if d.split()[0] == "script-src" else d.strip()
                     for d in csp.split(";"))


def security_headers(csp: str) -> Dict[str, str]:
    """The headers every response of the site's origin carries: CloudFront's response
    headers policy on AWS (devkit/infra.py), the local gateway's static files."""
    return {
        "Content-Security-Policy": csp,
        "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
    }


def _prepare(out_dir: Path) -> None:
    if out_dir.exists():
        if (out_dir / MARKER).exists():
            shutil.rmtree(out_dir)
        elif any(out_dir.iterdir()):
            raise SiteError(f"{out_dir} is not empty and holds no earlier build: "
                            "choose an empty or new directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MARKER).write_text("built by `python -m devkit site build`; rebuilt in place\n")


def _vendored() -> Dict[str, Path]:
    files = {name: NODE_MODULES / path for name, path in VENDOR.items()}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise SiteError(f"the dashboard's libraries are not installed ({', '.join(missing)}): "
                        "run `npm ci` (or `make install`)")
    return files


def build(out_dir: Path, *, title: str = "Emojiboard", workspace: str = "",
          people_boards: Union[bool, str] = True) -> Built:
    """Render the dashboard into `out_dir`: its index.html and the CSP it needs.
    `people_boards` off (False or "off", as PEOPLE_BOARDS=off) leaves the People view
    and the person filters out of the page."""
    if isinstance(people_boards, str):
        if people_boards not in ("on", "off"):
            raise SiteError(f"--people-boards must be on or off; got {people_boards!r}")
        people_boards = people_boards == "on"
    if not title.strip():
        raise SiteError("--title must not be empty")
    out_dir = Path(out_dir)
    sources = {p.name: p for p in sorted(ASSETS.iterdir()) if p.is_file()}
    sources.update(_vendored())
    _prepare(out_dir)

    names: Dict[str, str] = {}
    for name, source in sources.items():
        names[name] = fingerprinted(source, name)
        shutil.copyfile(source, out_dir / names[name])
    importmap = json.dumps({"imports": {f"./{name}": f"./{hashed}"
                                        for name, hashed in names.items()
                                        if name.endswith(".js")}}, indent=1)

    env = Environment(loader=FileSystemLoader(FRONTEND), autoescape=True,
                      undefined=StrictUndefined, keep_trailing_newline=True)
    config = {"title": title, "workspace": workspace, "peopleBoards": bool(people_boards)}
    for template, page in PAGES.items():
        html = env.get_template(template).render(
            asset=lambda name: "./" + names[name], config=config, title=title,
            workspace=workspace, importmap=importmap)
        (out_dir / page).write_text(html, encoding="utf-8")
    return Built(out_dir / "index.html", _csp(importmap))
