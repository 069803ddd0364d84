"""The vector store: Chroma generations behind an atomically switched pointer, and reading them.

- `IndexStore` (`generations.py`) owns the generation protocol end to end: pointer, create, copy
  unchanged vectors, write, switch, prune, compatibility, under the build lease (`lease.py`).
- `IndexReader` / `GenerationReader` (`reader.py`) read the live generation for answering.
- `chroma.py` is Chroma itself: the client, naming, the pointer, paged reads.
- `files.py` writes each generation's files beside the store (keyword index, passage table,
  sentence vectors, wire-copy shingles, the build's manifest) and maps them for readers.
"""

from index.store.chroma import (
    HNSW,
    PAGE,
    connect,
    create_generation,
    generation_count,
    iter_records,
    list_generations,
    make_client,
    new_generation_name,
    read_pointer,
    where_is,
    write_pointer,
)
from index.store.generations import GenerationBuild, IndexStore, Records, compatible
from index.store.lease import LEASE_SECONDS, BuildLease, acquire_lease, leased_generations
from index.store.reader import GenerationReader, IndexReader, Passage, live_generation, open_index

__all__ = [
    "HNSW",
    "LEASE_SECONDS",
    "PAGE",
    "BuildLease",
    "GenerationBuild",
    "GenerationReader",
    "IndexReader",
    "IndexStore",
    "Passage",
    "Records",
    "acquire_lease",
    "compatible",
    "connect",
    "create_generation",
    "generation_count",
    "iter_records",
    "leased_generations",
    "list_generations",
    "live_generation",
    "make_client",
    "new_generation_name",
    "open_index",
    "read_pointer",
    "where_is",
    "write_pointer",
]
