"""No route handler does database work on the event loop: handlers are sync (worker threads) by default.

One async handler that waited for a query (on SQLite, for the write lock) would stall every request the
server is working on. The two that stay async read their body as a stream and hand every database call
to a worker thread (``run_in_threadpool``); any new async handler must be argued for here.
"""

from __future__ import annotations

import inspect

from fastapi.routing import APIRoute, iter_route_contexts

from vigil.api.app import create_app
from vigil.core.context import Vigil

#: async handlers whose database calls all go through run_in_threadpool
ASYNC_ALLOWED = {"feed", "peer_retrieval"}


def test_route_handlers_do_not_block_the_event_loop(tmp_path):
    v = Vigil.open(f"sqlite:///{tmp_path / 'v.db'}", str(tmp_path / "home"))
    try:
        app = create_app(v)
    finally:
        v.close()
    handlers = [ctx.original_route.endpoint for ctx in iter_route_contexts(app.router.routes)
                if isinstance(ctx.original_route, APIRoute)]
    assert len(handlers) > 120
    coros = {h.__name__ for h in handlers if inspect.iscoroutinefunction(h)}
    assert coros <= ASYNC_ALLOWED, coros - ASYNC_ALLOWED
    for name in coros:  # the allowed ones open no session of their own on the loop
        src = inspect.getsource(next(h for h in handlers if h.__name__ == name))
        assert ".session()" not in src and "run_in_threadpool" in src, name
    sync = {h.__name__ for h in handlers} - coros
    assert {"create_plan", "wo_verify"} <= sync  # the two that used to wait for the database on the loop
