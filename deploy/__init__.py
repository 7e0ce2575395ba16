"""Deployment: the local Kafka/Elasticsearch runner and the service assets (templates, Kibana)."""
