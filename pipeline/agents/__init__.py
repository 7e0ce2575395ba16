"""Thin Faust agents: read a topic, call a pure stage, write a topic. No business logic."""
