"""The write side of citebot's knowledge base: articles → chunks → embeddings → Chroma."""
