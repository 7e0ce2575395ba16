"""The article write path: layout (template, monthly indices, retention), bulk requests, and
the indexer that the index agent and the tests call."""
