"""The GraphQL schema: Strawberry types, inputs, enums and errors; a federation subgraph."""
