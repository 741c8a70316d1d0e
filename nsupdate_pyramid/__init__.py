"""nsupdate-pyramid: a self-hostable dynamic DNS service."""
from __future__ import annotations

import gc
import sys
import warnings
from typing import TYPE_CHECKING, Any

# Pyramid 2.1 still imports pkg_resources; the deprecation warning is noise for operators.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

if TYPE_CHECKING:
    from pyramid.config import Configurator
    from pyramid.router import Router

__version__ = "0.1.0.dev0"
#: A PasteDeploy option (``bootstrap(ini, options={...})``) with which tools that load the app
#: keep it from starting the embedded nameserver.
START_NAMESERVER_OPTION = "start_nameserver"


def includeme(config: Configurator) -> None:
    """Everything the app is made of; tests include this and add their own views on top."""
    for name in (".settings", ".models", ".security", ".i18n", ".tweens", ".templating",
                 ".mail", ".dns", ".resources", ".remote", ".api", ".views"):
        config.include(name)
    # Only packages with view or subscriber decorators need scanning; the nameserver and the
    # provider backends are imported when configured, not by every web process.
    config.scan(ignore=[".scripts", ".nameserver", ".dns", ".remote"])


def main(global_config: dict[str, Any] | None, **settings: Any) -> Router:
    """The WSGI application for ``pserve``/waitress (``paste.app_factory``).

    Pyramid is imported here, not at the top: ``nsupdate-nameserver`` imports this package
    (its modules live in it) and must not load the web framework.
    """
    from pyramid.config import Configurator
    from pyramid.settings import asbool

    from .api.fastpath import FastPath

    with Configurator(settings=settings) as config:
        config.include(includeme)
    app = FastPath(config.make_wsgi_app())
    app_settings = config.registry["nsupdate.settings"]
    if app_settings.thread_switch_interval:
        # waitress' threads spend most of a request in short calls that let go of the GIL
        # (socket sends, SQLite steps, DNS round trips); at Python's 5 ms, a thread coming
        # back from one could wait that long behind a busy thread, holding the SQLite write
        # lock or the zone's message in flight meanwhile (good updates at 32 connections:
        # 340-430/s and p99 170-200 ms at 5 ms, 650-690/s and p99 65 ms at 2 ms).
        sys.setswitchinterval(app_settings.thread_switch_interval)
    if app_settings.update_log_queue:
        from .api.updatelog import queue_update_log

        queue_update_log()
    if app_settings.nameserver_embedded and \
            asbool((global_config or {}).get(START_NAMESERVER_OPTION, True)):
        # Development: the built-in nameserver in a daemon thread of the web process
        # (not in command-line tools, which load the app with start_nameserver=false).
        from .nameserver import start_embedded

        start_embedded(config.registry)
    # What start-up created lives as long as the process: keep the garbage collector from
    # walking it again and again (full collections otherwise cost ~75 ms each, the p99).
    gc.collect()
    gc.freeze()
    return app
