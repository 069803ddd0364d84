"""Measuring the answering engine on data sets: answers and citations, and the claim check."""
