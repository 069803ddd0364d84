"""A small fake Discord (REST + gateway) on 127.0.0.1: just what a bot login and one answer use.

It answers JSON with exactly `Content-Type: application/json` (discord.py parses nothing else),
one guild with one #general channel, and a member who mentions the bot right after READY.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from itertools import count
from typing import Any

from aiohttp import WSMsgType, web

APP_ID = 1_100_000_000_000_000_001
BOT_ID = 1_100_000_000_000_000_002
GUILD_ID = 1_100_000_000_000_000_003
CHANNEL_ID = 1_100_000_000_000_000_004
USER_ID = 1_100_000_000_000_000_005

BOT_USER = {"id": str(BOT_ID), "username": "citebot", "discriminator": "0", "avatar": None,
            "global_name": None, "bot": True, "flags": 0}  # fmt: skip
MEMBER_USER = {"id": str(USER_ID), "username": "alice", "discriminator": "0", "avatar": None,
               "global_name": "Alice", "flags": 0}  # fmt: skip


def _json(data: Any, status: int = 200) -> web.Response:
    # bytes, not text: aiohttp would append "; charset=utf-8", and discord.py then sees a string
    return web.Response(
        status=status, body=json.dumps(data).encode(), headers={"Content-Type": "application/json"}
    )


def _now() -> str:
    return datetime.now(UTC).isoformat()


class FakeDiscord:
    """Serves the bot; records the messages it posts and every token it presented."""

    def __init__(
        self,
        token: str,
        question: str,
        allowed_intents: int | None = None,
        recommended_shards: int = 1,
    ) -> None:
        self.token = token
        self.question = question
        self.recommended_shards = recommended_shards  # what GET /gateway/bot advises
        # like the developer portal: privileged intents not switched on close the gateway
        self.allowed_intents = allowed_intents
        self.synced: dict[str, list[str]] = {}  # "global" or a guild id → command names
        self.identified: list[list[int] | None] = []  # the shard of each IDENTIFY
        self.posted: list[dict[str, Any]] = []
        self.threads: list[dict[str, Any]] = []
        self.bad_auth: list[str] = []
        self.answered = asyncio.Event()
        self._ids = count(1_200_000_000_000_000_000)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def __aenter__(self) -> FakeDiscord:
        app = web.Application(middlewares=[self._check_auth])
        app.router.add_get("/gateway", self._gateway)
        api = "/api/v10"
        app.router.add_get(f"{api}/users/@me", lambda _: _json(BOT_USER))
        app.router.add_get(f"{api}/gateway/bot", self._gateway_bot)
        app.router.add_get(f"{api}/oauth2/applications/@me", self._application)
        app.router.add_put(f"{api}/applications/{{app}}/commands", self._sync_commands)
        app.router.add_put(
            f"{api}/applications/{{app}}/guilds/{{guild}}/commands", self._sync_commands
        )
        app.router.add_post(
            f"{api}/channels/{{channel}}/typing", lambda _: web.Response(status=204)
        )
        app.router.add_post(
            f"{api}/channels/{{channel}}/messages/{{message}}/threads", self._thread
        )
        app.router.add_post(f"{api}/channels/{{channel}}/messages", self._message)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._runner.cleanup()

    @web.middleware
    async def _check_auth(self, request: web.Request, handler):
        if request.path.startswith("/api/") and request.headers.get("Authorization") != (
            f"Bot {self.token}"
        ):
            self.bad_auth.append(request.path)
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        return await handler(request)

    async def _application(self, _request: web.Request) -> web.Response:
        return _json({
            "id": str(APP_ID), "name": "citebot", "icon": None, "description": "",
            "bot_public": True, "bot_require_code_grant": False, "owner": MEMBER_USER,
            "verify_key": "0" * 64, "flags": 0, "rpc_origins": [], "summary": "",
        })  # fmt: skip

    async def _gateway_bot(self, _request: web.Request) -> web.Response:
        return _json({
            "url": self.gateway_url, "shards": self.recommended_shards,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0,
                                    "max_concurrency": 1},
        })  # fmt: skip

    async def _sync_commands(self, request: web.Request) -> web.Response:
        commands = await request.json()
        scope = request.match_info.get("guild", "global")
        self.synced[scope] = sorted(c["name"] for c in commands)
        return _json([
            {**c, "id": str(next(self._ids)), "application_id": str(APP_ID), "version": "1"}
            for c in commands
        ])  # fmt: skip

    async def _thread(self, request: web.Request) -> web.Response:
        body = await request.json()
        thread = {
            "id": request.match_info["message"], "type": 11, "guild_id": str(GUILD_ID),
            "parent_id": request.match_info["channel"], "owner_id": str(BOT_ID),
            "name": body["name"], "message_count": 0, "member_count": 1,
            "rate_limit_per_user": 0, "flags": 0, "last_message_id": None,
            "thread_metadata": {"archived": False, "auto_archive_duration": 1440,
                                "archive_timestamp": _now(), "locked": False},
        }  # fmt: skip
        self.threads.append(thread)
        return _json(thread)

    async def _message(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.posted.append({"channel_id": request.match_info["channel"], **body})
        if body.get("components"):
            self.answered.set()
        return _json(self._message_payload(request.match_info["channel"], BOT_USER, body))

    def _message_payload(self, channel_id: str, author: dict, body: dict) -> dict[str, Any]:
        return {
            "id": str(next(self._ids)), "channel_id": channel_id, "guild_id": str(GUILD_ID),
            "author": author, "content": body.get("content", ""), "timestamp": _now(),
            "edited_timestamp": None, "tts": False, "mention_everyone": False,
            "mentions": body.get("mentions", []), "mention_roles": [], "attachments": [],
            "embeds": [], "components": body.get("components", []), "pinned": False,
            "type": 0, "flags": 0,
        }  # fmt: skip

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 41_250}})
        seq = count(1)
        async for frame in ws:
            if frame.type is not WSMsgType.TEXT:
                break
            msg = json.loads(frame.data)
            if msg["op"] == 1:
                await ws.send_json({"op": 11})
            elif msg["op"] == 2:
                if msg["d"]["token"] != self.token:
                    self.bad_auth.append("IDENTIFY")
                    await ws.close(code=4004)
                    break
                self.identified.append(msg["d"].get("shard"))
                if self.allowed_intents is not None and msg["d"]["intents"] & ~self.allowed_intents:
                    await ws.close(code=4014)  # Disallowed intent(s)
                    break
                for event, data in self._after_identify(msg["d"].get("shard")):
                    await ws.send_json({"op": 0, "t": event, "s": next(seq), "d": data})
        return ws

    def _after_identify(self, shard: list[int] | None) -> list[tuple[str, dict[str, Any]]]:
        ready = {
            "v": 10, "user": BOT_USER, "guilds": [{"id": str(GUILD_ID), "unavailable": True}],
            "session_id": "fake-session", "resume_gateway_url": self.gateway_url,
            "application": {"id": str(APP_ID), "flags": 0},
        }  # fmt: skip
        if shard is not None:  # Discord echoes the shard of a sharded connection
            ready["shard"] = shard
            if (GUILD_ID >> 22) % shard[1] != shard[0]:
                ready["guilds"] = []  # the server (and its messages) belong to another shard
                return [("READY", ready)]
        everyone = {
            "id": str(GUILD_ID), "name": "@everyone", "permissions": str((1 << 41) - 1),
            "position": 0, "color": 0, "hoist": False, "managed": False, "mentionable": False,
            "flags": 0,
        }  # fmt: skip
        general = {"id": str(CHANNEL_ID), "type": 0, "guild_id": str(GUILD_ID),
                   "name": "general", "position": 0, "permission_overwrites": [],
                   "nsfw": False, "parent_id": None, "rate_limit_per_user": 0}  # fmt: skip
        guild = {
            "id": str(GUILD_ID), "name": "Newsroom", "icon": None, "owner_id": str(USER_ID),
            "roles": [everyone], "emojis": [], "stickers": [], "features": [],
            "member_count": 2, "channels": [general], "threads": [], "voice_states": [],
            "presences": [], "large": False, "unavailable": False, "premium_tier": 0,
            "preferred_locale": "en-US", "system_channel_flags": 0, "verification_level": 0,
            "explicit_content_filter": 0, "default_message_notifications": 0, "mfa_level": 0,
            "nsfw_level": 0, "afk_timeout": 300, "joined_at": _now(),
            "members": [{"user": BOT_USER, "roles": [], "joined_at": _now(), "deaf": False,
                         "mute": False, "flags": 0}],
        }  # fmt: skip
        mention = self._message_payload(
            str(CHANNEL_ID),
            MEMBER_USER,
            {"content": f"<@{BOT_ID}> {self.question}", "mentions": [BOT_USER]},
        )
        mention["member"] = {"roles": [], "joined_at": _now(), "deaf": False, "mute": False,
                             "flags": 0}  # fmt: skip
        return [("READY", ready), ("GUILD_CREATE", guild), ("MESSAGE_CREATE", mention)]
