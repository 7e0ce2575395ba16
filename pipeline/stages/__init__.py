"""Pure pipeline stages: typed functions over records, no Kafka, Faust or Elasticsearch."""
