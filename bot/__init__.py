"""The answering side of citebot: retrieval, answerers, the citation contract, CLI and Discord."""
