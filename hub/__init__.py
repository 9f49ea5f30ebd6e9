"""The hub: one needs register for left-behind children, served over GraphQL."""

__version__ = "0.1.0"
