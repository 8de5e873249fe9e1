"""One real local stack for the whole test session: DynamoDB over HTTP (DynamoDB
Local, or moto's server with EMOJIBOARD_TEST_DYNAMODB=moto), the devkit gateway on
a free port, and the app behind it. Each test starts from empty tables."""
import os

import pytest

from devkit import dynamodb, tables
from devkit.bench import raise_file_limit
from devkit.stack import LocalStack

TEAM = "T0TEST"
SECRET = "test-signing-secret"


def pytest_configure(config):
    config.addinivalue_line("markers", "load: many concurrent requests; needs DynamoDB Local")
    # Hundreds of dashboards in this process, each a socket on both ends of the gateway.
    raise_file_limit()


def pytest_collection_modifyitems(config, items):
    # Measured: moto's server (even serving one request at a time) took 500 s for the
    # 2,000-event load test and timed requests out; DynamoDB Local takes about 30 s.
    if os.environ.get("EMOJIBOARD_TEST_DYNAMODB", "local") != "moto":
        return
    skip = pytest.mark.skip(reason="load tests need DynamoDB Local; moto is too slow under load")
    for item in items:
        if "load" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def stack():
    choice = os.environ.get("EMOJIBOARD_TEST_DYNAMODB", "local")
    if choice == "local" and dynamodb.why_not_local():
        pytest.fail(f"DynamoDB Local cannot run: {dynamodb.why_not_local()} "
                    "(or set EMOJIBOARD_TEST_DYNAMODB=moto)")
    local = LocalStack(port=dynamodb.free_port(), dynamodb_choice=choice, data_dir=None,
                       secret=SECRET, team_id=TEAM,
                       counts_table="test-counts", connections_table="test-connections",
                       access="public")  # tests/test_access.py switches it to slack
    local.start()
    yield local
    local.stop()


@pytest.fixture(autouse=True)
def empty_tables(request):
    """Empty tables and a fresh Slack stand-in before each test that uses the stack."""
    if "stack" not in request.fixturenames:
        yield
        return
    local = request.getfixturevalue("stack")
    client = local.dynamodb_client()
    # Emptied in place, not deleted and recreated: see devkit/tables.py clear(). A
    # test that deleted a table (fault injection) gets it back.
    tables.ensure(client, local.counts_table, local.connections_table)
    for name in (local.connections_table, local.counts_table):
        tables.clear(client, name)
    # And a fresh Slack: the stand-in's workspace, failures and rate limit windows as
    # at the start (a suite's worth of users.list calls within a minute would otherwise
    # meet Slack's Tier 2 limit in whichever test came next).
    local.slack.reset()
    # The fan-out reads the stream up to now before the test starts (a table a test
    # recreated: its new stream), so no page of this test gets a late update from the
    # last test's records.
    assert local.stream_poller.sync(), "the stream poller did not follow the new table"
    yield
