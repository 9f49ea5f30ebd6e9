"""Serving the API from several worker processes on one port, each with a listener of its own.

uvicorn's ``--workers`` binds one socket in the supervisor and hands it to every worker, so all
of them accept from one queue. Each worker's event loop then accepts every connection waiting
when it wakes, and the kernel wakes the same few workers first: a burst of new connections (an
app's or a gateway's pool of keep-alive connections, opened at once) lands mostly on one
worker, which then serves all their requests on one core while the others idle. Measured with
two workers and 64 clients: one worker at 83 % of a core, the other at 29 %.

On Linux each worker binds a socket of its own to the port instead (``SO_REUSEPORT``), and the
kernel spreads new connections over them by a hash of their addresses, so workers get about
even shares whatever the arrival pattern. uvicorn's supervisor still starts, watches and
restarts the workers: what it passes them is not a socket but a recipe for one, which each
worker unpickles into its own listener (a worker restarted later binds its own the same way).
Elsewhere, or for a port chosen by the system, the shared socket stays.

multiprocessing's "spawn", which uvicorn starts its workers with, imports the parent's main
module into each new worker before the worker runs any of uvicorn's code. For ``hub`` that is
the whole command line and, through its commands, the application: 1.3 s of imports on an idle
two-core machine, 2.3 s on a busy one, more on a busier one, during which the worker cannot
answer the supervisor's health check (uvicorn's default patience: 5 s). A worker that does not
answer is killed as hung and replaced, by one that starts as slowly. So the workers start without
the main module: each answers the health check at once and imports the application while it
answers.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import types
from collections.abc import Iterator
from typing import Any, cast

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

logger = logging.getLogger("uvicorn.error")


def spreads_connections(port: int) -> bool:
    """Whether each worker can have a listener of its own on this port, the kernel spreading
    connections over them: Linux's ``SO_REUSEPORT`` does; other systems accept the option
    without balancing, and a port left to the system (0) would differ from worker to worker."""
    return sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT") and port != 0


def reuse_port_listener(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` that shares the port with the other workers'.

    Not listening yet: the worker's server listens on it once the application has started
    (asyncio's ``create_server`` does, with uvicorn's backlog). Until then the kernel hands it
    no connection, so none waits on a worker still importing or starting the application.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind((host, port))
    except OSError:
        listener.close()
        raise
    listener.set_inheritable(True)
    return listener


class _ListenerOfItsOwn:
    """What the supervisor passes each worker where uvicorn passes its shared socket: pickled
    into the worker's process, it becomes a new listener bound there."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def __reduce__(self) -> tuple[Any, tuple[str, int]]:
        return reuse_port_listener, (self.host, self.port)


class PortUnavailable(Exception):
    """The address to serve on cannot be bound: another program holds the port, or the host is
    not an address of this machine."""


def check_port(host: str, port: int) -> None:
    """Raise ``PortUnavailable`` unless ``host:port`` can be bound now, as uvicorn binds it.

    Bound and closed at once, never listening, so no connection is ever queued on it; a port
    left to the system (0) is always available.
    """
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As uvicorn's own listener: a port whose last connections linger is still free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortUnavailable(f"cannot serve on {host}:{port}: {exc.strerror}") from exc


def run_workers(config: uvicorn.Config) -> None:
    """Run ``config.workers`` worker processes under uvicorn's supervisor until it is told to
    stop, each listening on the port by itself where the system spreads connections."""
    try:
        # Checked again, after the migration: another program may have taken the port since.
        check_port(config.host, config.port)
    except PortUnavailable as exc:
        logger.error("%s", exc)
        sys.exit(STARTUP_FAILURE)
    if not spreads_connections(config.port):
        with _workers_start_without_main_module():
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    logger.info(
        "serving on http://%s:%d with %d workers, each listening on the port",
        config.host,
        config.port,
        config.workers,
    )
    recipe = cast(socket.socket, _ListenerOfItsOwn(config.host, config.port))
    with _workers_start_without_main_module():
        Multiprocess(config, sockets=[recipe]).run()


@contextlib.contextmanager
def _workers_start_without_main_module() -> Iterator[None]:
    """While the supervisor runs (it replaces workers that die), a process it starts imports no
    main module: spawn imports the one ``sys.modules["__main__"]`` names, and an empty module
    names none. The supervisor's own code keeps its module, which it refers to directly."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main
