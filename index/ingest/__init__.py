"""Reading articles in: one record per article with its provenance, the formats, the feeds."""
