"""The watch page's web server (aiohttp): the page, its server-sent events, and its JSON API.

Routes::

    GET /                                the page (static/index.html, no build step, nothing from the internet)
    GET /static/...                      its script and style
    GET /events                          server-sent events: state, hosts, batch (see below)
    GET /api/state                       the same state as JSON
    GET /api/conversations/N             one conversation: its ladder arrows and Follow Stream lines
    GET /api/conversations/N/pcap        just that conversation as a pcap, for Wireshark

Events: ``state`` (everything, on connect and after a new capture or a burst), ``hosts``
(the lab's containers changed), ``batch`` (what the newest packets added, at most every
``TICK`` seconds). A page that falls behind gets a fresh ``state`` instead of a backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

from aiohttp import web

from .lab import Host, LabHosts, hosts_json
from .live import LiveCapture, detail_json

STATIC = Path(__file__).resolve().parent / "static"
TICK = 0.1  # s between reads of the capture: a packet reaches the page within about this
HOSTS_EVERY = 1.0  # s between looks at the lab's containers
KEEPALIVE = 15.0  # s of silence after which an event stream gets a comment (proxies, dead peers)
MAX_READ = 2 * 1024 * 1024  # bytes of capture read per tick: catching up never stalls the loop for long
CLIENT_QUEUE = 100  # events waiting for one page (10 s of batches) before it gets a fresh state instead


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class Watch:
    """Follows the lab's capture and hosts, and fans what it sees out to every open page."""

    def __init__(self, lab: LabHosts | None, capture: Path | None = None, project: str = "") -> None:
        self.lab = lab
        self.fixed = capture  # --capture FILE: follow this file, whatever the lab does
        self.project = project
        self.path: Path | None = None
        self.live: LiveCapture | None = None
        self._file: Any = None
        self.hosts: list[dict[str, Any]] = []
        self.pages: set[asyncio.Queue[bytes | None]] = set()
        if capture is not None:
            self.switch(capture)

    # --- the capture ---------------------------------------------------------------

    def switch(self, path: Path) -> None:
        """Follow ``path`` from its first byte (a new capture after down/up)."""
        if self._file is not None:
            self._file.close()
        self.path, self._file = path, None
        self.live = LiveCapture(path.name)
        self.broadcast("state", self.state())

    def read(self) -> None:
        """Take what was written to the capture since the last read, and send the pages what it added."""
        if self.path is None or self.live is None:
            return
        if self._file is None:
            try:
                self._file = self.path.open("rb", buffering=0)
            except OSError:
                return  # not created yet (tcpdump opens it once the interface is up)
        chunk = self._file.read(MAX_READ)
        if not chunk:
            return
        batch = self.live.consume(chunk)
        if batch.snapshot or self.live.error:
            self.broadcast("state", self.state())
        elif batch:
            self.broadcast("batch", batch.to_json(self.live.packets))

    async def follow(self) -> None:
        while True:
            self.read()
            await asyncio.sleep(TICK)

    # --- the hosts -------------------------------------------------------------------

    def saw_lab(self, hosts: list[Host], path: Path | None) -> None:
        """What a look at the lab found: tell the pages about changed hosts; follow a new capture.

        No capture running (before ``up``, after ``down``) keeps the last one on the page.
        """
        shown = hosts_json(hosts)
        if shown != self.hosts:
            self.hosts = shown
            self.broadcast("hosts", {"hosts": shown, "lab_error": self.lab.error if self.lab else None})
        if self.fixed is None and path is not None and path != self.path:
            self.switch(path)

    async def watch_hosts(self) -> None:
        while self.lab is not None:
            self.saw_lab(*await asyncio.to_thread(self.lab.poll))
            await asyncio.sleep(HOSTS_EVERY)

    # --- the pages ----------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        live = self.live.state() if self.live else {"capture": None, "total": 0, "conversations": []}
        return {
            **live,
            "project": self.project,
            "hosts": self.hosts,
            "lab_error": self.lab.error if self.lab else None,
        }

    def broadcast(self, event: str, data: dict[str, Any]) -> None:
        message = sse(event, data)
        for queue in self.pages:
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:  # this page fell behind: drop its backlog, send it everything afresh
                _drain(queue)
                queue.put_nowait(sse("state", self.state()))

    def close_pages(self) -> None:
        for queue in self.pages:
            _drain(queue)
            queue.put_nowait(None)


def _drain(queue: asyncio.Queue[Any]) -> None:
    while not queue.empty():
        queue.get_nowait()


# --- handlers ---------------------------------------------------------------------------

WATCH = web.AppKey("watch", Watch)


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def events(request: web.Request) -> web.StreamResponse:
    watch = request.app[WATCH]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=CLIENT_QUEUE)
    watch.pages.add(queue)
    try:
        await response.write(sse("state", watch.state()))
        while True:
            try:
                message = await asyncio.wait_for(queue.get(), KEEPALIVE)
            except TimeoutError:
                message = b": keep-alive\n\n"
            if message is None:
                break
            await response.write(message)
    except ConnectionError:
        pass  # the page went away
    finally:
        watch.pages.discard(queue)
    return response


async def state(request: web.Request) -> web.Response:
    return web.json_response(request.app[WATCH].state())


def _conversation(request: web.Request) -> Any:
    live = request.app[WATCH].live
    conv = live.conversation(int(request.match_info["number"])) if live else None
    if conv is None:
        raise web.HTTPNotFound(text="no such conversation (it may have been forgotten to bound memory)")
    return conv


async def conversation(request: web.Request) -> web.Response:
    return web.json_response(detail_json(_conversation(request)))


async def conversation_pcap(request: web.Request) -> web.Response:
    conv = _conversation(request)
    live = request.app[WATCH].live
    data = live.conversation_pcap(conv.number) if live else None
    if data is None:
        raise web.HTTPNotFound(text="the capture's link type is not known yet")
    name = f"conversation-{conv.number}-{conv.proto}-{conv.service or 'other'}.pcap"
    return web.Response(
        body=data,
        content_type="application/vnd.tcpdump.pcap",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def make_app(watch: Watch) -> web.Application:
    app = web.Application()
    app[WATCH] = watch
    app.router.add_get("/", index)
    app.router.add_get("/events", events)
    app.router.add_get("/api/state", state)
    app.router.add_get(r"/api/conversations/{number:\d{1,9}}", conversation)
    app.router.add_get(r"/api/conversations/{number:\d{1,9}}/pcap", conversation_pcap)
    app.router.add_static("/static/", STATIC)

    async def background(app: web.Application) -> Any:
        tasks = [asyncio.create_task(watch.follow()), asyncio.create_task(watch.watch_hosts())]
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def shutdown(app: web.Application) -> None:
        watch.close_pages()  # the event streams end, so Ctrl-C does not wait for them

    app.cleanup_ctx.append(background)
    app.on_shutdown.append(shutdown)
    return app
