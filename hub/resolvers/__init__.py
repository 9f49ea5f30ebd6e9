"""Thin resolvers: parse input, call the domain, map its results to schema types."""
