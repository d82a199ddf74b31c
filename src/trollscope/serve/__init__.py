"""`trollscope serve CASE`: a local, read-only web dashboard over a case.

`app.py` builds the ASGI app (`create_app`), `queries.py` holds its reads (one per page,
each the page's JSON twin), `templates/` and `static/` the pages, their scripts and style
(bundled: the dashboard fetches nothing from the network). `host_warning` is the rule the
command line applies before binding.
"""

from __future__ import annotations

import ipaddress

from trollscope.serve.app import LOCAL_HOSTS, create_app

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8001


def host_warning(host: str) -> str | None:
    """A warning when `host` is reachable from other machines: the case holds people's
    posts and the dashboard has no login. None for a loopback address or localhost."""
    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass  # a host name: it may resolve to anything
    return (
        f"Warning: serving on {host}, not only this machine: anyone who can reach it can "
        f"read the whole case (there is no login). Use the default 127.0.0.1 unless you "
        f"mean that."
    )


def allowed_hosts(host: str) -> tuple[str, ...] | None:
    """The Host headers a server bound to `host` answers: this machine's names when it
    listens on loopback (a defence against DNS rebinding), any (None) when it listens
    beyond, where it is reached by names it cannot know."""
    if host_warning(host) is None:
        return (*LOCAL_HOSTS, host)
    return None


__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "LOCAL_HOSTS",
    "allowed_hosts",
    "create_app",
    "host_warning",
]
