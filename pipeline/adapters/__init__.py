"""Adapters: the only modules that construct vendor clients (Kafka, Elasticsearch, HTTP)."""
