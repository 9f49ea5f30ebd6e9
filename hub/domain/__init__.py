"""The rules of the hub. Nothing here imports Strawberry or Starlette."""
