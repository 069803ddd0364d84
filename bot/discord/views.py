"""Buttons: 👍/👎 under every answer (persistent across restarts) and the /sources pager."""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.discord.render import NO_PINGS

if TYPE_CHECKING:
    from bot.discord.client import Citebot

VOTES = {"up": (1, "👍"), "down": (-1, "👎")}


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"citebot:vote:(?P<answer_id>[0-9]+):(?P<vote>up|down)",
):
    """A vote on one logged answer; its state lives in the custom id, so it outlives the bot."""

    def __init__(self, answer_id: int, vote: str) -> None:
        value, emoji = VOTES[vote]
        super().__init__(
            discord.ui.Button(
                emoji=emoji,
                style=discord.ButtonStyle.secondary,
                custom_id=f"citebot:vote:{answer_id}:{vote}",
            )
        )
        self.answer_id = answer_id
        self.vote = vote
        self.value = value

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> VoteButton:
        """The button again from its custom id (after a restart)."""
        return cls(int(match["answer_id"]), match["vote"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Record the vote, whatever went wrong ending in a short reply."""
        client: Citebot = interaction.client
        await client.run_guarded(interaction, self._record(interaction))

    async def _record(self, interaction: discord.Interaction[Citebot]) -> None:
        previous = await interaction.client.conversations.vote(
            self.answer_id, interaction.user.id, self.value
        )
        emoji = VOTES[self.vote][1]
        if previous == self.value:
            text = f"You already voted {emoji} on this answer."
        elif previous is None:
            text = f"Thanks for the feedback {emoji}"
        else:
            text = f"Changed your vote to {emoji}."
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)


def vote_view(answer_id: int) -> discord.ui.View:
    """The 👍/👎 row for an answer."""
    view = discord.ui.View(timeout=None)
    view.add_item(VoteButton(answer_id, "up"))
    view.add_item(VoteButton(answer_id, "down"))
    return view


class SourcesPager(discord.ui.View):
    """◀ ▶ through pages of the article list; only the user who asked can turn them."""

    def __init__(self, pages: list[str], owner_id: int, timeout: float = 300) -> None:
        super().__init__(timeout=timeout)
        self.pages = pages
        self.owner_id = owner_id
        self.page = 0
        self.interaction: discord.Interaction | None = None
        self._sync()

    def content(self) -> str:
        """The current page with its number."""
        return f"{self.pages[self.page]}\n-# Page {self.page + 1} of {len(self.pages)}"

    def _sync(self) -> None:
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page == len(self.pages) - 1

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Only who asked turns the pages."""
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(
            "Use `/sources` to get your own list.", ephemeral=True
        )
        return False

    async def _turn(self, interaction: discord.Interaction, step: int) -> None:
        self.page = max(0, min(len(self.pages) - 1, self.page + step))
        self._sync()
        await interaction.response.edit_message(
            content=self.content(), view=self, allowed_mentions=NO_PINGS
        )

    @discord.ui.button(label="◀", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, _button: discord.ui.Button) -> None:
        """The page before."""
        await self._turn(interaction, -1)

    @discord.ui.button(label="▶", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction, _button: discord.ui.Button) -> None:
        """The page after."""
        await self._turn(interaction, 1)

    async def on_timeout(self) -> None:
        """Disable the buttons once nobody can turn the pages any more."""
        for item in self.children:
            if isinstance(item, discord.ui.Button):
                item.disabled = True
        if self.interaction is not None:
            # the message may be gone or its token expired: then there is nothing to disable
            with contextlib.suppress(discord.HTTPException):
                await self.interaction.edit_original_response(view=self)
