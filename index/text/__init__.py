"""Text in words and sentences: the sentence splitter, the stemmed terms, the word shingles."""
