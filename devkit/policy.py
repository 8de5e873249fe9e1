"""The Lambda functions' IAM policy: written by hand, rendered per stage, checked.

`.chalice/policy-template.json` is the policy, written by hand with CloudFormation
`Fn::Sub` placeholders (`${CountsTable}`, `${WebsocketAPI}`, `${PushQueueName}`,
`${TasksQueueName}`, `${AWS::Region}`...):

- `python -m devkit deploy` renders it with this account's exact ARNs (`render`) and
  hands Chalice that file for the deploy (never written into the tree);
- `.chalice/policy-{stage}.json`, which `.chalice/config.json` names as the stage's
  `iam_policy_file` (autogen_policy is off), is committed so that a bare `chalice
  package|deploy` finds one: `committed(stage)` renders it for any region and account,
  scoped by the stage's table and queues' names, and a test keeps the files equal to it
  (`python -m devkit policy` rewrites them);
- `chalice package --merge-template` (`python -m devkit package`) keeps the
  placeholders and wraps each resource in `Fn::Sub`, so CloudFormation fills them in.

`required_actions` reads `chalicelib/` (its AST: every method called that is an
operation of the boto3 clients the app builds) and `app.py` (the event sources its
handlers are registered on: Lambda reads those with the function's role) and says
which IAM actions the code needs; the tests compare it with the policy both ways.
"""
import ast
import json
import re
from pathlib import Path
from typing import Dict, Iterable, Optional, Set

import botocore.session

from . import infra

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / ".chalice" / "policy-template.json"
CHALICELIB = ROOT / "chalicelib"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9:]+)\}")

# The services whose clients chalicelib may build; a new one fails the policy test
# until it is added here and to the policy.
SERVICES = ("dynamodb", "apigatewaymanagementapi", "sqs")
# Transactions have no IAM action of their own: each item needs its own action.
TRANSACT_ITEM_ACTIONS = {"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem",
                         "Delete": "dynamodb:DeleteItem",
                         "ConditionCheck": "dynamodb:ConditionCheckItem"}
TRANSACT_GET_ACTION = "dynamodb:GetItem"
# SQS's batch operations have no IAM action of their own: "setting permissions for
# SendMessage, DeleteMessage, or ChangeMessageVisibility sets permissions for the
# corresponding batch versions of the actions" ("Amazon SQS batch actions", SQS
# Developer Guide).
SQS_BATCH_ACTIONS = {"SendMessageBatch": "sqs:SendMessage",
                     "DeleteMessageBatch": "sqs:DeleteMessage",
                     "ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility"}
# Lambda reads a stream for its handler with the function's own role.
STREAM_EVENT_SOURCE_ACTIONS = ("dynamodb:DescribeStream", "dynamodb:GetRecords",
                               "dynamodb:GetShardIterator", "dynamodb:ListStreams")
# ...and a queue: "The Lambda execution role must include the following permissions:
# sqs:DeleteMessage, sqs:GetQueueAttributes, sqs:ReceiveMessage" ("Configuring an
# Amazon SQS queue to trigger an AWS Lambda function", SQS Developer Guide; the Lambda
# Developer Guide's "Setting up Lambda execution role permissions" for an SQS event
# source mapping names the AWSLambdaSQSQueueExecutionRole managed policy, which holds
# these three). Each queue a handler reads (the push queue, the tasks queue) has its
# own statement of them, on that queue only. The queues use SQS-managed encryption
# (SSE-SQS), so no kms:Decrypt.
QUEUE_EVENT_SOURCE_ACTIONS = ("sqs:DeleteMessage", "sqs:GetQueueAttributes",
                              "sqs:ReceiveMessage")
APP = ROOT / "app.py"
# ManageConnections is granted per HTTP method of the Management API.
MANAGEMENT_METHODS = {"PostToConnection": "POST", "GetConnection": "GET",
                      "DeleteConnection": "DELETE"}


def load_template(path: Path = TEMPLATE) -> dict:
    return json.loads(path.read_text())


def render(values: Dict[str, str], template: Optional[dict] = None) -> dict:
    """The policy with every placeholder replaced. A statement whose resources name
    a value that is None (the WebSocket API before its first deploy) is left out."""
    policy = json.loads(json.dumps(template or load_template()))
    statements = []
    for statement in policy["Statement"]:
        resources = statement["Resource"]
        names = {n for r in resources for n in PLACEHOLDER.findall(r)}
        unknown = names - set(values)
        if unknown:
            raise KeyError(f"no value for {', '.join(sorted(unknown))} in the policy template")
        if any(values[n] is None for n in names):
            continue
        statement["Resource"] = [PLACEHOLDER.sub(lambda m: values[m.group(1)], r)
                                 for r in resources]
        statements.append(statement)
    policy["Statement"] = statements
    return policy


def as_text(document: dict) -> str:
    return json.dumps(document, indent=2) + "\n"


def committed_path(stage: str, chalice_dir: Path = ROOT / ".chalice") -> Path:
    return Path(chalice_dir) / f"policy-{stage}.json"


def committed(stage: str) -> dict:
    """What `.chalice/policy-{stage}.json` holds: the policy for this stage's tables,
    push and tasks queues and log groups in any region and account, and any WebSocket
    API's stage (a bare `chalice deploy` knows neither the account nor the API's id).
    The commercial partition (`aws`); `devkit deploy` renders the exact one."""
    tables = infra.table_names(stage)
    return render({"AWS::Partition": "aws", "AWS::Region": "*", "AWS::AccountId": "*",
                   "CountsTable": tables["counts"], "ConnectionsTable": tables["connections"],
                   "PushQueueName": infra.push_queue_name(stage),
                   "TasksQueueName": infra.tasks_queue_name(stage),
                   "WebsocketAPI": "*",
                   "WebsocketStage": infra.stage_setting(stage, "WEBSOCKET_STAGE"),
                   "AppName": infra.APP_NAME, "Stage": stage})


def write_committed(chalice_dir: Path = ROOT / ".chalice") -> list:
    """Rewrite `.chalice/policy-{stage}.json` for every stage of config.json."""
    paths = []
    for stage in infra.stages():
        path = committed_path(stage, chalice_dir)
        path.write_text(as_text(committed(stage)))
        paths.append(path)
    return paths


def as_cloudformation(substitutions: Dict[str, object]) -> dict:
    """The policy for a CloudFormation template: each resource an `Fn::Sub` with the
    template's own names (`substitutions` maps a placeholder to e.g. a `Ref`)."""
    policy = load_template()
    for statement in policy["Statement"]:
        statement["Resource"] = [
            {"Fn::Sub": [r, {k: v for k, v in substitutions.items()
                             if "${%s}" % k in r}]} if any("${%s}" % k in r for k in substitutions)
            else {"Fn::Sub": r}
            for r in statement["Resource"]]
    return policy


# ---- what the code calls ------------------------------------------------------

def _operations(service: str) -> Dict[str, str]:
    """boto3 method name -> API operation name, from botocore's service model."""
    model = botocore.session.get_session().get_service_model(service)
    return {_snake(op): op for op in model.operation_names}


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _sources(package: Path) -> Iterable[ast.AST]:
    for path in sorted(package.rglob("*.py")):
        yield path, ast.parse(path.read_text(), filename=str(path))


def clients_built(package: Path = CHALICELIB) -> Set[str]:
    """The service names of every `....client("service", ...)` call."""
    found = set()
    for _, tree in _sources(package):
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("client", "resource") and node.args
                    and isinstance(node.args[0], ast.Constant)):
                found.add(node.args[0].value)
    return found


def calls(package: Path = CHALICELIB) -> Dict[str, Set[str]]:
    """service -> API operations called anywhere in `package`: `x.op(...)` for any
    method that is one of the service's operations, and `x.get_paginator("op")`."""
    ops = {service: _operations(service) for service in SERVICES}
    found: Dict[str, Set[str]] = {service: set() for service in SERVICES}
    transact_items: Set[str] = set()
    for _, tree in _sources(package):
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                for key in node.keys:
                    if isinstance(key, ast.Constant) and key.value in TRANSACT_ITEM_ACTIONS:
                        transact_items.add(key.value)
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            method = node.func.attr
            if method in ("get_paginator", "get_waiter") and node.args \
                    and isinstance(node.args[0], ast.Constant):
                method = node.args[0].value
            for service, methods in ops.items():
                if method in methods:
                    found[service].add(methods[method])
    found["_transact_items"] = transact_items
    return found


def _handlers(app: Path, registration: str) -> Set[str]:
    """The functions app.py registers with `@app.{registration}(...)`."""
    found = set()
    for node in ast.walk(ast.parse(app.read_text(), filename=str(app))):
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                if (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)
                        and decorator.func.attr == registration):
                    found.add(node.name)
    return found


def stream_handlers(app: Path = APP) -> Set[str]:
    """The functions app.py registers with `@app.on_dynamodb_record(...)`."""
    return _handlers(app, "on_dynamodb_record")


def queue_handlers(app: Path = APP) -> Set[str]:
    """The functions app.py registers with `@app.on_sqs_message(...)`."""
    return _handlers(app, "on_sqs_message")


def required_actions(package: Path = CHALICELIB, app: Path = APP) -> Dict[str, Set[str]]:
    """IAM action -> what it is needed for, e.g. {"dynamodb:PutItem": {"PutItem",
    "TransactWriteItems"}, "execute-api:ManageConnections:POST": {...},
    "sqs:SendMessage": {"SendMessageBatch"}}."""
    found = calls(package)
    needed: Dict[str, Set[str]] = {}

    def need(action, why):
        needed.setdefault(action, set()).add(why)

    for handler in stream_handlers(app):
        for action in STREAM_EVENT_SOURCE_ACTIONS:
            need(action, f"the stream event source of {handler}")
    for handler in queue_handlers(app):
        for action in QUEUE_EVENT_SOURCE_ACTIONS:
            need(action, f"the queue event source of {handler}")

    for op in found["dynamodb"]:
        if op == "TransactWriteItems":
            for item in found["_transact_items"]:
                need(TRANSACT_ITEM_ACTIONS[item], op)
        elif op == "TransactGetItems":
            need(TRANSACT_GET_ACTION, op)
        else:
            need(f"dynamodb:{op}", op)
    for op in found["apigatewaymanagementapi"]:
        need(f"execute-api:ManageConnections:{MANAGEMENT_METHODS[op]}", op)
    for op in found["sqs"]:
        need(SQS_BATCH_ACTIONS.get(op, f"sqs:{op}"), op)
    return needed


def granted_actions(policy: Optional[dict] = None) -> Set[str]:
    """The policy's actions, ManageConnections qualified by the method its ARNs allow."""
    policy = policy or load_template()
    granted = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        for action in statement["Action"]:
            if action == "execute-api:ManageConnections":
                for resource in statement["Resource"]:
                    method = resource.split("/")[2] if resource.count("/") >= 3 else "*"
                    granted.add(f"{action}:{method}")
            else:
                granted.add(action)
    return granted
