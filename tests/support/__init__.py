"""What the test suites share: paths, settings, the port registry, local HTTP servers
(feeds, webhooks), Kafka topic readers and the Kibana object readers."""
