"""mediamon pipeline: records, stages, the Faust app and the CLI."""
