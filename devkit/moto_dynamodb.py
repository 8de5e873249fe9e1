"""moto's server, answering one request at a time: `python -m devkit.moto_dynamodb HOST PORT`.

moto's own `moto_server` serves each request on a new thread, and its DynamoDB backend
does not lock: two concurrent TransactWriteItems guarded by the same condition can both
succeed (seen here: 40 events delivered 3 times at once were counted 42 times). DynamoDB
makes each transaction atomic; serving requests one after another gives moto the same
guarantee, at the cost of concurrency.

It listens on HOST only, and standard input is the parent's lifeline: when it closes
(the parent exited, even by SIGKILL) the server exits too.
"""
import logging
import os
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (DomainDispatcherApplication, MotoRequestHandler,
                                           create_backend_app)
from werkzeug.serving import run_simple

from devkit.moto_sqs import wait_for_eof


def _exit_when_stdin_closes() -> None:
    wait_for_eof()  # the parent never writes: this returns at EOF
    os._exit(0)


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    threading.Thread(target=_exit_when_stdin_closes, name="parent-watchdog", daemon=True).start()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise
    run_simple(host, port, DomainDispatcherApplication(create_backend_app),
               threaded=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
