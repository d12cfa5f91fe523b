"""Typed keys for what the aiohttp app holds.

The composition root (bot.app) puts the built Services here; the routes take them out. The type is
named for the type checker only, so webhooks/ imports nothing from bot/ when it runs.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bot.services import Services

SERVICES: web.AppKey[Services] = web.AppKey("services")
