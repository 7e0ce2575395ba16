"""Feed connectors: fetch feeds, normalise entries into raw-article records, produce to Kafka."""
