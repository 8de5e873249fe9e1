"""moto's server, answering one request at a time: `python -m devkit.moto_dynamodb PORT`.

moto's own `moto_server` serves each request on a new thread, and its DynamoDB backend
does not lock: two concurrent TransactWriteItems guarded by the same condition can both
succeed (seen here: 40 events delivered 3 times at once were counted 42 times). DynamoDB
makes each transaction atomic; serving requests one after another gives moto the same
guarantee, at the cost of concurrency.
"""
import logging
import signal
import sys

from moto.moto_server.werkzeug_app import (DomainDispatcherApplication, MotoRequestHandler,
                                           create_backend_app)
from werkzeug.serving import run_simple


def main() -> None:
    port = int(sys.argv[1])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise
    run_simple("127.0.0.1", port, DomainDispatcherApplication(create_backend_app),
               threaded=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
