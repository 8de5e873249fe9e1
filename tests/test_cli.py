"""The command lines as a user meets them, in child processes: `python -m devkit` and
Chalice's own `chalice`. Every error is one line, never a traceback, and a command
that fails or has nothing to do writes nothing into the project.

AWS is either absent (no credentials at all: empty config files, no AWS_* variables,
no instance metadata), unreachable (a closed port), or moto's server in a child
process, with IAM enforced where a test needs AWS to refuse a call."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import requests

from devkit import dynamodb
from devkit.served import APP_SETTINGS
from tests.test_deploy import unsubstituted

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CHALICE = str(Path(sys.executable).parent / "chalice")
REGION = "eu-west-1"
# What a fresh clone holds that these commands read.
PROJECT_FILES = ("app.py", "chalicelib", "devkit", "frontend", ".chalice", "requirements.txt",
                 ".gitignore")


def _shell(tmp_path, **extra):
    """A user's shell without AWS credentials (and without the session stack's app
    settings): botocore finds no keys, no profile and no instance metadata."""
    (tmp_path / "aws-credentials").write_text("")
    (tmp_path / "aws-config").write_text("")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k not in APP_SETTINGS}
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "aws-credentials"),
               AWS_CONFIG_FILE=str(tmp_path / "aws-config"), AWS_EC2_METADATA_DISABLED="true",
               PIP_NO_INDEX="1", PIP_FIND_LINKS=str(ROOT / ".wheels"), **extra)
    return env


def _run(args, env, cwd=ROOT, timeout=120):
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def devkit(*args, env, cwd=ROOT):
    return _run([PYTHON, "-m", "devkit", *args], env, cwd)


def one_error_line(done) -> str:
    """The command failed with exactly one line on stderr, `Error: ...`."""
    assert done.returncode != 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    return lines[0]


@pytest.fixture
def clone(tmp_path):
    """The project as a fresh clone has it: its files, committed, nothing deployed."""
    copy = tmp_path / "clone"
    copy.mkdir()
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns(
                "__pycache__", "deployed", "deployments"))
        else:
            shutil.copy2(source, copy / name)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(git + ["init", "-q"], cwd=copy, check=True)
    subprocess.run(git + ["add", "-A"], cwd=copy, check=True)
    subprocess.run(git + ["add", "-f", ".chalice"], cwd=copy, check=True)  # policy-*.json
    subprocess.run(git + ["commit", "-q", "-m", "clone"], cwd=copy, check=True)
    assert _status(copy) == ""
    return copy


def _status(path) -> str:
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=path,
                          capture_output=True, text=True, check=True).stdout


class MotoServer:
    """moto's server in a child process (its IAM switch is process-wide)."""

    def __init__(self):
        self.port = dynamodb.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([PYTHON, "-m", "moto.server", "-p", str(self.port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{self.url}/moto-api/", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "moto's server did not start"
                time.sleep(0.1)

    def client(self, service, key="testing", secret="testing"):
        return boto3.client(service, endpoint_url=self.url, region_name=REGION,
                            aws_access_key_id=key, aws_secret_access_key=secret)

    def env(self, tmp_path, key="testing", secret="testing"):
        return _shell(tmp_path, AWS_ENDPOINT_URL=self.url, AWS_ACCESS_KEY_ID=key,
                      AWS_SECRET_ACCESS_KEY=secret)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def moto():
    server = MotoServer()
    yield server
    server.stop()


# ---- help ---------------------------------------------------------------------------

def test_no_arguments_print_help_and_succeed(tmp_path):
    for args in ((), ("site",)):
        done = devkit(*args, env=_shell(tmp_path))
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("Usage: python -m devkit"), done.stdout
        assert "Commands:" in done.stdout


@pytest.mark.parametrize("command", [(), ("deploy",), ("destroy",), ("package",), ("policy",),
                                     ("serve",), ("simulate",), ("bench",), ("site",),
                                     ("site", "build"), ("site", "upload"),
                                     ("session-keys",), ("session-keys", "rotate"), ("status",)])
def test_dash_h_is_help_everywhere(tmp_path, command):
    done = devkit(*command, "-h", env=_shell(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: python -m devkit"), done.stdout
    assert "-h, --help" in done.stdout


# ---- AWS errors, one line each ------------------------------------------------------

def test_deploy_without_credentials(tmp_path):
    line = one_error_line(devkit("deploy", "--stage", "dev", "--region", REGION,
                                 env=_shell(tmp_path)))
    assert line == ("Error: no AWS credentials found: set AWS_PROFILE (or pass --profile) or "
                    "run `aws configure`; see README, 'Deploying to AWS'")


def test_an_unknown_profile(tmp_path):
    for command in (["deploy"], ["destroy", "--yes"], ["site", "upload", "--dir", str(tmp_path),
                                                      "--bucket", "b"]):
        line = one_error_line(devkit(*command, "--profile", "nosuch", "--region", REGION,
                                     env=_shell(tmp_path)))
        assert line.startswith("Error: AWS profile 'nosuch' not found"), line


def test_destroy_and_site_upload_without_credentials(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<!doctype html>")
    for command in (["destroy", "--stage", "prod", "--yes", "--region", REGION],
                    ["site", "upload", "--dir", str(site), "--bucket", "b", "--region", REGION],
                    ["session-keys", "rotate", "--stage", "prod", "--region", REGION],
                    ["status", "--stage", "prod", "--region", REGION]):
        line = one_error_line(devkit(*command, env=_shell(tmp_path)))
        assert line.startswith("Error: no AWS credentials found"), line


def test_no_region(tmp_path):
    line = one_error_line(devkit("deploy", env=_shell(tmp_path)))
    assert line == "Error: no AWS region: pass --region, set AWS_REGION, or give the profile a region"


def test_an_unknown_stage_is_a_usage_error_naming_the_stages(tmp_path):
    for command in (["package"], ["deploy"], ["destroy", "--yes"]):
        done = devkit(*command, "--stage", "staging", env=_shell(tmp_path))
        line = one_error_line(done)
        assert done.returncode == 2  # as click's usage errors
        assert line == ("Error: Invalid value for '--stage': 'staging' is not a stage of "
                        ".chalice/config.json (dev, prod)")


def test_aws_out_of_reach(tmp_path):
    port = dynamodb.free_port()  # nothing listens there
    env = _shell(tmp_path, AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_ACCESS_KEY_ID="k",
                 AWS_SECRET_ACCESS_KEY="s", AWS_MAX_ATTEMPTS="1")
    line = one_error_line(devkit("deploy", "--region", REGION, env=env))
    assert line == (f"Error: cannot reach AWS at http://127.0.0.1:{port}/: check the network "
                    "and the region")


def test_aws_refusing_the_credentials_or_a_call(tmp_path, moto):
    """moto with IAM enforced: unknown keys, then a user who may only ask who it is."""
    iam = moto.client("iam")
    iam.create_user(UserName="deployer")
    iam.put_user_policy(UserName="deployer", PolicyName="whoami", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="deployer")["AccessKey"]
    requests.post(f"{moto.url}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()

    line = one_error_line(devkit("deploy", "--region", REGION, env=moto.env(tmp_path, "nobody")))
    assert line.startswith("Error: AWS does not accept these credentials (GetCallerIdentity "
                           "answered InvalidClientTokenId"), line

    env = moto.env(tmp_path, key["AccessKeyId"], key["SecretAccessKey"])
    line = one_error_line(devkit("deploy", "--region", REGION, env=env))
    assert line.startswith("Error: AWS denied DescribeStacks (AccessDenied): User: "
                           "arn:aws:iam::123456789012:user/deployer is not authorized"), line
    assert line.endswith("needs the permissions in README, 'Deploying to AWS'")


def test_errors_moto_cannot_produce_are_explained_too():
    """An expired token and Chalice's multi-line wrapper, as botocore and Chalice raise
    them (moto has no token expiry): one line each, through the same boundary."""
    from botocore.exceptions import ClientError
    from chalice.deploy.deployer import ChaliceDeploymentError
    from devkit.cli import explain
    expired = ClientError({"Error": {"Code": "ExpiredToken", "Message": "The security token "
                                     "included in the request is expired"}}, "DescribeStacks")
    assert explain(expired) == ("the AWS credentials have expired (DescribeStacks answered "
                                "ExpiredToken): refresh them (a new session, or `aws sso "
                                "login`) and run again")
    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}},
                         "CreateFunction")
    wrapped = ChaliceDeploymentError(denied)
    assert "\n" in str(wrapped)  # Chalice's own message is several lines
    assert explain(wrapped) == explain(denied) == (
        "AWS denied CreateFunction (AccessDeniedException): no; the deploying identity needs "
        "the permissions in README, 'Deploying to AWS'")


# ---- a fresh clone stays as it was ------------------------------------------------------

def test_destroy_in_a_fresh_clone_writes_nothing(tmp_path, clone, moto):
    # Without credentials: stops at once.
    one_error_line(devkit("destroy", "--stage", "dev", "--yes", "--region", REGION,
                          env=_shell(tmp_path), cwd=clone))
    assert _status(clone) == ""
    # With an account where nothing was deployed: nothing to do, and nothing written
    # (Chalice's own delete would record an empty .chalice/deployed/dev.json).
    done = devkit("destroy", "--stage", "dev", "--yes", "--region", REGION,
                  env=moto.env(tmp_path), cwd=clone)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no Chalice app recorded for stage dev" in done.stdout
    assert _status(clone) == ""


# ---- Chalice's own CLI in the project -------------------------------------------------

# What a bare `chalice` cannot know: the event sources app.py registers handlers on.
EVENT_SOURCES = {"COUNTS_STREAM_ARN": f"arn:aws:dynamodb:{REGION}:123456789012:table/"
                                      "emojiboard-dev-counts/stream/2026-01-01T00:00:00.000",
                 "PUSH_QUEUE_ARN": f"arn:aws:sqs:{REGION}:123456789012:emojiboard-dev-push",
                 "TASKS_QUEUE_ARN": f"arn:aws:sqs:{REGION}:123456789012:emojiboard-dev-tasks"}


def test_bare_chalice_package_dev_makes_a_template(tmp_path, clone):
    """Given the event sources' ARNs, the committed .chalice/policy-dev.json is all else
    Chalice needs for dev."""
    out = tmp_path / "out"
    done = _run([CHALICE, "package", "--stage", "dev", str(out)],
                _shell(tmp_path, AWS_DEFAULT_REGION=REGION, **EVENT_SOURCES), cwd=clone,
                timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    template = json.loads((out / "sam.json").read_text())
    assert unsubstituted(template) == []
    assert _status(clone) == ""  # (Chalice's zip cache, .chalice/deployments/, is ignored)


@pytest.mark.parametrize("stage", ["dev", "prod"])
@pytest.mark.parametrize("command", [["package", "--stage", "STAGE", "OUT"],
                                     ["deploy", "--stage", "STAGE"]])
def test_bare_chalice_stops_with_one_line(tmp_path, clone, command, stage):
    """Every stage fans out from the counts table's stream through the push queue,
    whose ARNs only exist with the stacks: Chalice cannot register the handlers, so
    app.py stops it at import, naming the first one missing."""
    out = tmp_path / "out"
    args = [str(out) if a == "OUT" else stage if a == "STAGE" else a for a in command]
    for given, missing in (({}, "the counts table's stream ARN (COUNTS_STREAM_ARN)"),
                           ({"COUNTS_STREAM_ARN": EVENT_SOURCES["COUNTS_STREAM_ARN"]},
                            "the push queue's ARN (PUSH_QUEUE_ARN)")):
        done = _run([CHALICE, *args], _shell(tmp_path, AWS_DEFAULT_REGION=REGION, **given),
                    cwd=clone)
        assert done.returncode != 0, done.stdout + done.stderr
        assert "Traceback" not in done.stderr, done.stderr
        assert done.stderr.strip().splitlines() == [
            f"emojiboard: chalice {command[0]} --stage {stage} needs {missing}, which only "
            f"exists once the stacks are deployed; run make {command[0]} STAGE={stage}, "
            "which creates it and passes it on"]
        assert not out.exists()
        assert _status(clone) == ""


# ---- history import -----------------------------------------------------------------

def test_history_import_needs_one_target_and_at_most_90_days(tmp_path):
    for args in ([], ["--stage", "dev", "--local", "http://127.0.0.1:1"]):
        done = devkit("history", "import", *args, env=_shell(tmp_path))
        assert done.returncode == 2
        assert one_error_line(done) == "Error: pass one of --stage STAGE or --local URL"
    done = devkit("history", "import", "--local", "http://127.0.0.1:1", "--days", "91",
                  env=_shell(tmp_path))
    assert done.returncode == 2  # click's own usage error
    assert "Error: Invalid value for '--days': 91 is not in the range 1<=x<=90" in done.stderr


def test_history_import_says_when_there_is_nothing_to_import_into(tmp_path, moto):
    port = dynamodb.free_port()  # nothing listens there
    line = one_error_line(devkit("history", "import", "--local", f"http://127.0.0.1:{port}",
                                 env=_shell(tmp_path)))
    assert line == f"Error: no local stack at http://127.0.0.1:{port}: ConnectionError"
    line = one_error_line(devkit("history", "import", "--stage", "dev", "--region", REGION,
                                 env=moto.env(tmp_path)))
    assert line == (f"Error: stage dev is not deployed in {REGION} (no stack emojiboard-dev): "
                    "run make deploy STAGE=dev")
