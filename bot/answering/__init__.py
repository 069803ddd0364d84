"""Answering a question: retrieve, gate, answer, cite, check each claim against its quote."""
