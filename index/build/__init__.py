"""Building the index: articles into chunks, chunks into vectors, a generation switched in."""
