"""Every `web.AppKey` of the console app, in one place (the request's user: auth.USER)."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from asrfleet_operator.console.access import AccessReviewer
from asrfleet_operator.console.auth import Credentials
from asrfleet_operator.console.cluster import Cluster
from asrfleet_operator.console.fleet import Fleet
from asrfleet_operator.console.settings import ConsoleSettings

SETTINGS = web.AppKey("settings", ConsoleSettings)
CREDENTIALS = web.AppKey("credentials", Credentials)
CLUSTER = web.AppKey("cluster", Cluster)
FLEET = web.AppKey("fleet", Fleet)
REVIEWER = web.AppKey("reviewer", AccessReviewer)
"""Set in kubernetes auth mode only (ASRFLEET_CONSOLE_AUTH)."""
HTTP = web.AppKey("http", aiohttp.ClientSession)
"""The client session for the recognizers (scrapes and Try-it), not the Kubernetes API."""
