"""moto's server with one request at a time.

`moto_server` serves requests on parallel threads without isolating them: a DynamoDB
transaction that fails a condition restores the table from a copy taken before it ran,
erasing what other requests committed meanwhile, and /moto-api/data.json fails while
others write. Real AWS has neither problem, so the emulator runs its requests one after
another. It exits when its parent closes stdin (the parent died or stopped it).

DynamoDB transactions and queries cost what they touch, not the whole table
(moto_patches.py), unless MOTO_AS_SHIPPED=1 asks for moto as released: only the emulator
bench (`make bench-emulator`) sets it, to measure the difference.

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

import moto_patches

# Exit status 3: this moto is not the one the patch was written for (local/moto.rs says so).
WRONG_MOTO = 3
if os.environ.get("MOTO_AS_SHIPPED") != "1":
    try:
        moto_patches.apply()
    except RuntimeError as refused:
        print(refused, file=sys.stderr)
        sys.exit(WRONG_MOTO)

port = int(sys.argv[1])
host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
os.environ["MOTO_PORT"] = str(port)
app = DomainDispatcherApplication(create_backend_app)
# Still needed with the patch: moto's backends are plain dicts and lists shared by the
# request threads, and a transaction must not interleave with another request.
one_at_a_time = threading.Lock()


def serialized(environ, start_response):
    with one_at_a_time:
        return list(app(environ, start_response))


def exit_with_parent():
    sys.stdin.read()
    os._exit(0)


threading.Thread(target=exit_with_parent, daemon=True).start()
run_simple(host, port, serialized, threaded=True, request_handler=MotoRequestHandler)
