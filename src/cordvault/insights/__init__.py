"""Insights: Discord Data Package analysis (parser, aggregation, output, blob, report)."""
