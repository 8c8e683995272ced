"""moto's server with one request at a time.

`moto_server` serves requests on parallel threads without isolating them: a DynamoDB
transaction that fails a condition restores the table from a copy taken before it ran,
erasing what other requests committed meanwhile, and /moto-api/data.json fails while
others write. Real AWS has neither problem, so the emulator runs its requests one after
another. It exits when its parent closes stdin (the parent died or stopped it).

usage: python moto_server.py PORT [HOST]   (HOST: the address to listen on, 127.0.0.1 unless given)
"""
import os
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

port = int(sys.argv[1])
host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
os.environ["MOTO_PORT"] = str(port)
app = DomainDispatcherApplication(create_backend_app)
one_at_a_time = threading.Lock()


def serialized(environ, start_response):
    with one_at_a_time:
        return list(app(environ, start_response))


def exit_with_parent():
    sys.stdin.read()
    os._exit(0)


threading.Thread(target=exit_with_parent, daemon=True).start()
run_simple(host, port, serialized, threaded=True, request_handler=MotoRequestHandler)
