"""Upload a built dashboard (`devkit/site.py`) to the site bucket, with the headers
that make caching safe: pages are revalidated on every load, fingerprinted assets
(`app.3f9a12bc.js`) are cached for a year and never revalidated."""
import mimetypes
import re
from pathlib import Path
from typing import Dict

from . import site

NO_CACHE = "no-cache, max-age=0, must-revalidate"
IMMUTABLE = "public, max-age=31536000, immutable"
FINGERPRINTED = re.compile(r"^[\w.-]+\.[0-9a-f]{8}\.[A-Za-z0-9]+$")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webmanifest": "application/manifest+json",
}


def headers_for(name: str) -> Dict[str, str]:
    suffix = Path(name).suffix.lower()
    content_type = CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] \
        or "application/octet-stream"
    cache = IMMUTABLE if FINGERPRINTED.match(Path(name).name) and suffix != ".html" else NO_CACHE
    return {"ContentType": content_type, "CacheControl": cache}


def upload(s3, bucket: str, site_dir: Path) -> Dict[str, Dict[str, str]]:
    """Put every file of `site_dir` into `bucket`; return key -> headers.

    Assets go first and pages last, so a page never names an asset not yet there.
    Assets of earlier builds stay: a page loaded before this deploy still finds its
    files (they are small, and only a deploy adds any)."""
    site_dir = Path(site_dir)
    files = sorted(p for p in site_dir.rglob("*") if p.is_file() and p.name != site.MARKER)
    files.sort(key=lambda p: p.suffix == ".html")
    uploaded = {}
    for path in files:
        key = path.relative_to(site_dir).as_posix()
        headers = headers_for(key)
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), **headers)
        uploaded[key] = headers
    return uploaded
