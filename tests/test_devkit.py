"""`python -m devkit serve` and `simulate` as a user runs them, in child processes."""
import os
import re
import signal
import subprocess
import sys

import requests

from devkit import dynamodb
from devkit.served import APP_SETTINGS
from tests.conftest import SECRET, TEAM
from tests.helpers import board, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Serve:
    def __init__(self, *args):
        self.port = dynamodb.free_port()
        # A user's shell: none of the app settings the session's own stack exported.
        env = {k: v for k, v in os.environ.items() if k not in APP_SETTINGS}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devkit", "serve", "--port", str(self.port), *args],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        while not any(line.startswith("Dashboard:") for line in self.lines):
            line = self.process.stdout.readline()
            if not line:
                raise AssertionError("serve exited early:\n" + "".join(self.lines))
            self.lines.append(line)
        self.dynamodb_url = re.search(r"DynamoDB:\s+(\S+)", "".join(self.lines)).group(1)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def board(self):
        """The board as a signed-in member sees it (`serve` asks for Sign in with Slack
        by default): signed in through the stand-in's sign-in page, as a browser would."""
        from tests.test_access import GRACE, sign_in
        if getattr(self, "member", None) is None:
            self.member = sign_in(self, GRACE)
        answer = self.member.request("GET", "/api/leaderboard")
        assert answer.status_code == 200, answer.text
        return answer.json()["leaderboard"]

    def interrupt(self, signum=signal.SIGINT):
        self.process.send_signal(signum)
        out, _ = self.process.communicate(timeout=30)
        return self.process.returncode, out


def _down(url):
    try:
        requests.get(url, timeout=1)
        return False
    except requests.ConnectionError:
        return True


def test_serve_runs_everything_on_one_port_and_stops_cleanly(tmp_path):
    serve = Serve("--no-demo", "--data-dir", str(tmp_path / "db"))
    try:
        assert f"Dashboard: http://127.0.0.1:{serve.port}" in "".join(serve.lines)
        page = requests.get(serve.url + "/", timeout=10)
        assert page.status_code == 200 and "Emojiboard" in page.text
        assert requests.get(serve.url + "/api/leaderboard", timeout=10).status_code == 401
        sim = subprocess.run(
            [sys.executable, "-m", "devkit", "simulate", "--url", serve.url + "/slack/events",
             "--secret", "local-signing-secret", "--rate", "200", "--count", "25"],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
            env={k: v for k, v in os.environ.items() if k not in APP_SETTINGS})
        assert sim.returncode == 0, sim.stdout + sim.stderr
        assert re.search(r"\d+ x counted", sim.stdout), sim.stdout
        before = serve.board()
        assert sum(row["count"] for row in before) > 0
    finally:
        code, out = serve.interrupt()
    assert code == 0, out
    assert _down(serve.url) and _down(serve.dynamodb_url)  # no child left behind

    again = Serve("--no-demo", "--data-dir", str(tmp_path / "db"))  # data kept
    try:
        assert again.board() == before
    finally:
        again.interrupt()


def test_sigterm_stops_serve_and_its_children():
    serve = Serve("--no-demo", "--dynamodb", "moto")
    code, out = serve.interrupt(signal.SIGTERM)
    assert code == 0, out
    assert "Stopping" in out
    assert _down(serve.url) and _down(serve.dynamodb_url)


def test_simulate_with_the_wrong_secret_fails_loudly(tmp_path):
    serve = Serve("--no-demo", "--dynamodb", "moto")
    try:
        sim = subprocess.run(
            [sys.executable, "-m", "devkit", "simulate", "--url", serve.url + "/slack/events",
             "--secret", "wrong", "--count", "2", "--rate", "50"],
            cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert sim.returncode == 1
        assert "2 x 401" in sim.stdout
    finally:
        serve.interrupt()


def test_demo_traffic_moves_the_board():
    serve = Serve("--demo", "--demo-rate", "20", "--dynamodb", "moto")
    try:
        assert wait_for(lambda: sum(r["count"] for r in serve.board()) >= 5, timeout=15)
    finally:
        code, out = serve.interrupt()
    assert code == 0, out


def test_unknown_dynamodb_choice_is_a_clear_error():
    result = subprocess.run([sys.executable, "-m", "devkit", "serve", "--dynamodb", "postgres"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "--dynamodb must be local, moto or a URL" in result.stderr


def _simulate(stack, *args):
    env = {k: v for k, v in os.environ.items() if k not in APP_SETTINGS}  # a user's shell
    return subprocess.run(
        [sys.executable, "-m", "devkit", "simulate", "--url", f"{stack.url}/slack/events",
         "--secret", SECRET, "--rate", "50", "--count", "3", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_simulate_says_what_the_route_did_against_a_pinned_workspace(stack):
    """The session's stack counts only team T0TEST (as `serve --team-id T0TEST`): the
    simulator's default team is acknowledged with 200 and ignored, and says so."""
    ignored = _simulate(stack)
    assert ignored.returncode == 1, ignored.stdout + ignored.stderr
    assert "3 x ignored (team T0DEMO is not this deployment's: pass --team-id)" \
        in ignored.stdout, ignored.stdout
    assert board(stack) == {}

    counted = _simulate(stack, "--team-id", TEAM)
    assert counted.returncode == 0, counted.stdout + counted.stderr
    assert "3 x counted" in counted.stdout, counted.stdout
    assert board(stack)  # (a removal among the three may take one of them back)
