"""The hand-written IAM policy (`.chalice/policy-template.json`) against the code.

The AWS calls are found in `chalicelib/`'s source (its AST, `devkit/policy.py`), and the
event sources Lambda reads for the handlers in `app.py`'s: a new DynamoDB, Management
API or SQS call, or a new stream or queue handler, fails these tests until the policy
grants it, and a grant the code no longer needs fails them too."""
import json
import textwrap

import pytest

from devkit import deploy, infra, policy

LOGS = {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}
ACCOUNT, REGION, API = "123456789012", "eu-west-1", "abc123"
SIDS = {"Tables", "CountsStream", "Dashboards", "PushQueueSend", "PushQueueEventSource",
        "TasksQueueSend", "TasksQueueEventSource", "Logs"}
# Each queue's grants, by the statement id's prefix.
QUEUE_SIDS = {"PushQueue": ("PushQueueSend", "PushQueueEventSource"),
              "TasksQueue": ("TasksQueueSend", "TasksQueueEventSource")}


def rendered():
    return policy.render(deploy.policy_values("prod", REGION, ACCOUNT, "aws",
                                              infra.table_names("prod"), API))


def test_the_policy_grants_every_call_chalicelib_makes():
    required = policy.required_actions()
    granted = policy.granted_actions()
    missing = {action: sorted(why) for action, why in required.items() if action not in granted}
    assert not missing, f"chalicelib calls these without a policy line: {missing}"


def test_the_policy_grants_nothing_beyond_them():
    required = set(policy.required_actions())
    assert policy.granted_actions() - required == LOGS


def test_chalicelib_builds_clients_only_for_services_the_policy_knows():
    assert policy.clients_built() <= set(policy.SERVICES)


def test_what_is_found_today():
    """The discovery sees what the code does (a check on the check)."""
    found = policy.calls()
    assert {"GetItem", "Query", "TransactWriteItems", "TransactGetItems", "DeleteItem",
            "PutItem"} <= found["dynamodb"]
    # Pushes, and closing the sockets of a revoked screen link (chalicelib/access.py).
    assert found["apigatewaymanagementapi"] == {"PostToConnection", "DeleteConnection"}
    # The stream handler queues shards; the Slack route and the tasks queue tasks.
    assert found["sqs"] == {"SendMessageBatch", "SendMessage"}
    assert {"Put", "Update"} <= found["_transact_items"]


def test_sqs_batch_calls_need_their_single_message_action():
    """SQS has no IAM action for its batch operations: SendMessage allows
    SendMessageBatch ("Amazon SQS batch actions", SQS Developer Guide)."""
    required = policy.required_actions()
    assert required["sqs:SendMessage"] == {"SendMessageBatch", "SendMessage"}
    assert "sqs:SendMessageBatch" not in required
    assert "sqs:SendMessageBatch" not in policy.granted_actions()


def test_a_new_call_fails_until_the_policy_has_it(tmp_path):
    package = tmp_path / "chalicelib"
    package.mkdir()
    (package / "new.py").write_text(textwrap.dedent("""
        class Store:
            def sweep(self):
                self._db.scan(TableName="t")
                for page in self._db.get_paginator("list_tables").paginate():
                    pass
                self._db.transact_write_items(TransactItems=[
                    {"ConditionCheck": {"TableName": "t"}}, {"Delete": {"TableName": "t"}}])
                self._db.batch_get_item(RequestItems={})
                self._client.delete_connection(ConnectionId="c")
                self._client.post_to_connection(ConnectionId="c", Data=b"")
                self._queue.delete_message_batch(QueueUrl="q", Entries=[])
                self._queue.purge_queue(QueueUrl="q")
                boto3.client("sns")
    """))
    app = tmp_path / "app.py"
    app.write_text("from chalice import Chalice\napp = Chalice(app_name='x')\n")
    required = policy.required_actions(package, app)
    assert set(required) == {
        "dynamodb:Scan", "dynamodb:ListTables", "dynamodb:ConditionCheckItem",
        "dynamodb:DeleteItem", "dynamodb:BatchGetItem",
        "execute-api:ManageConnections:DELETE", "execute-api:ManageConnections:POST",
        "sqs:DeleteMessage", "sqs:PurgeQueue"}
    assert required["sqs:DeleteMessage"] == {"DeleteMessageBatch"}
    assert set(required) - policy.granted_actions() == {
        "dynamodb:Scan", "dynamodb:ListTables", "sqs:PurgeQueue"}
    assert policy.clients_built(package) == {"sns"}


@pytest.mark.parametrize("handlers, actions, names, source", [
    # Lambda reads the stream with the function's role, so app.py's
    # `@app.on_dynamodb_record` handler is what needs them (found in its AST).
    (policy.stream_handlers, policy.STREAM_EVENT_SOURCE_ACTIONS, {"counts_changed"}, "stream"),
    # Lambda's SQS event source mapping receives and deletes the messages with the
    # function's role ("Configuring an Amazon SQS queue to trigger an AWS Lambda
    # function", SQS Developer Guide); the code itself never receives.
    (policy.queue_handlers, policy.QUEUE_EVENT_SOURCE_ACTIONS, {"push_shard", "slack_tasks"},
     "queue"),
])
def test_an_event_source_handler_needs_its_read_actions(tmp_path, handlers, actions, names, source):
    assert handlers() == names
    required = policy.required_actions()
    for action in actions:
        assert required[action] == {f"the {source} event source of {name}" for name in names}
    app = tmp_path / "app.py"
    app.write_text("from chalice import Chalice\napp = Chalice(app_name='x')\n")
    assert not set(actions) & set(policy.required_actions(app=app))


def test_the_queue_read_actions_are_what_aws_documents(tmp_path):
    assert set(policy.QUEUE_EVENT_SOURCE_ACTIONS) == {
        "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
    app = tmp_path / "app.py"
    app.write_text("from chalice import Chalice\napp = Chalice(app_name='x')\n"
                   "@app.on_sqs_message(queue_arn='arn:aws:sqs:r:1:q')\n"
                   "def drain(event):\n    pass\n")
    assert policy.queue_handlers(app) == {"drain"}
    assert set(policy.required_actions(app=app)) >= set(policy.QUEUE_EVENT_SOURCE_ACTIONS)


def test_resources_are_exactly_this_stage_s_tables_queue_and_websocket_api():
    statements = {s["Sid"]: s for s in rendered()["Statement"]}
    assert set(statements) == SIDS
    # Each queue's grants name that queue only: the push queue's cannot reach the
    # tasks queue, and no statement names the tasks queue's dead-letter queue (SQS
    # moves dead letters itself; nothing of the app reads or writes them).
    for prefix, name in (("PushQueue", "emojiboard-prod-push"),
                         ("TasksQueue", "emojiboard-prod-tasks")):
        queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
        assert statements[f"{prefix}Send"]["Action"] == ["sqs:SendMessage"]
        assert statements[f"{prefix}Send"]["Resource"] == [queue]
        assert sorted(statements[f"{prefix}EventSource"]["Action"]) == [
            "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
        assert statements[f"{prefix}EventSource"]["Resource"] == [queue]
    assert "tasks-dead" not in json.dumps(rendered())
    assert statements["CountsStream"]["Resource"] == [
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/emojiboard-prod-counts/stream/*"]
    assert statements["Tables"]["Resource"] == [
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/emojiboard-prod-counts",
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/emojiboard-prod-connections"]
    # PostToConnection pushes; DeleteConnection closes a revoked screen's sockets.
    # GetConnection is not granted: nothing calls it.
    assert statements["Dashboards"]["Action"] == ["execute-api:ManageConnections"]
    assert statements["Dashboards"]["Resource"] == [
        f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API}/api/POST/@connections/*",
        f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API}/api/DELETE/@connections/*"]
    assert {a for a in policy.granted_actions() if a.startswith("execute-api:")} == {
        "execute-api:ManageConnections:POST", "execute-api:ManageConnections:DELETE"}
    assert set(statements["Logs"]["Action"]) == LOGS
    for resource in statements["Logs"]["Resource"]:
        assert resource.startswith(
            f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/emojiboard-prod")
    text = json.dumps(rendered())
    assert "${" not in text
    for statement in rendered()["Statement"]:
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in statement["Action"])
        assert "*" not in statement["Resource"]


def test_no_indexes_so_no_index_arns():
    """Grants name tables only; a table that gains an index must add its ARN here."""
    for template in infra.templates("prod").values():
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::DynamoDB::Table":
                assert "GlobalSecondaryIndexes" not in resource["Properties"]
                assert "LocalSecondaryIndexes" not in resource["Properties"]


def test_before_the_websocket_api_exists_it_is_not_granted_at_all():
    values = deploy.policy_values("prod", REGION, ACCOUNT, "aws", infra.table_names("prod"), None)
    assert {s["Sid"] for s in policy.render(values)["Statement"]} == SIDS - {"Dashboards"}


def test_chalice_config_uses_the_hand_written_policy_for_every_stage():
    config = infra.chalice_config()
    assert config["autogen_policy"] is False
    for stage in ("dev", "prod"):
        assert config["stages"][stage]["iam_policy_file"] == f"policy-{stage}.json"


def test_the_committed_policy_files_are_the_rendered_template():
    """`.chalice/policy-{stage}.json` are what a bare `chalice deploy|package` uses; they
    come from the one template, so they cannot drift from it (`python -m devkit policy`
    rewrites them)."""
    for stage in infra.stages():
        path = policy.committed_path(stage)
        assert path.exists(), f"{path} is missing: run python -m devkit policy"
        assert path.read_text() == policy.as_text(policy.committed(stage)), \
            f"{path} differs from policy-template.json: run python -m devkit policy"


def test_the_committed_policy_is_scoped_to_the_stage_s_tables():
    statements = {s["Sid"]: s for s in policy.committed("dev")["Statement"]}
    # dev fans out as prod does: the stream's and the queue's grants too.
    assert set(statements) == SIDS
    assert statements["Tables"]["Resource"] == [
        "arn:aws:dynamodb:*:*:table/emojiboard-dev-counts",
        "arn:aws:dynamodb:*:*:table/emojiboard-dev-connections"]
    assert statements["CountsStream"]["Resource"] == [
        "arn:aws:dynamodb:*:*:table/emojiboard-dev-counts/stream/*"]
    assert statements["Dashboards"]["Resource"] == [
        "arn:aws:execute-api:*:*:*/api/POST/@connections/*",
        "arn:aws:execute-api:*:*:*/api/DELETE/@connections/*"]
    for sid in QUEUE_SIDS["PushQueue"]:
        assert statements[sid]["Resource"] == ["arn:aws:sqs:*:*:emojiboard-dev-push"]
    for sid in QUEUE_SIDS["TasksQueue"]:
        assert statements[sid]["Resource"] == ["arn:aws:sqs:*:*:emojiboard-dev-tasks"]
    assert all(r.startswith("arn:aws:logs:*:*:log-group:/aws/lambda/emojiboard-dev")
               for r in statements["Logs"]["Resource"])
    assert "${" not in json.dumps(policy.committed("prod"))
    assert "emojiboard-prod-counts" in json.dumps(policy.committed("prod"))
    assert policy.granted_actions(policy.committed("prod")) == policy.granted_actions()


def test_each_queue_handler_reads_its_own_queue_and_is_granted_exactly_that():
    """Every `@app.on_sqs_message` handler has a queue in the app stack
    (deploy.QUEUE_OF_HANDLER, which the merge template maps its event source by), and
    the event source's read actions are granted on that queue's ARN, by the statement
    written for it: the push queue's for `push_shard`, the tasks queue's for
    `slack_tasks`."""
    assert set(deploy.QUEUE_OF_HANDLER) == policy.queue_handlers()
    resources = infra.app_resources("prod")
    names = {"PushQueue": infra.push_queue_name("prod"),
             "TasksQueue": infra.tasks_queue_name("prod")}
    statements = {s["Sid"]: s for s in rendered()["Statement"]}
    for handler, queue in deploy.QUEUE_OF_HANDLER.items():
        assert resources[queue]["Type"] == "AWS::SQS::Queue"
        assert resources[queue]["Properties"]["QueueName"] == names[queue]
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{names[queue]}"
        send, event_source = QUEUE_SIDS[queue]
        assert statements[event_source]["Resource"] == [arn], handler
        assert set(statements[event_source]["Action"]) == set(policy.QUEUE_EVENT_SOURCE_ACTIONS)
        assert statements[send]["Resource"] == [arn]
    # No other statement grants an SQS action.
    sqs_sids = {sid for sid, s in statements.items()
                if any(a.startswith("sqs:") for a in s["Action"])}
    assert sqs_sids == {sid for sids in QUEUE_SIDS.values() for sid in sids}
