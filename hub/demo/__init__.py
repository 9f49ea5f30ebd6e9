"""A realistic demo dataset, so that a fresh hub has children, needs and people to try it with."""

from hub.demo.seed import DemoMember, DemoSummary, seed_demo

__all__ = ["DemoMember", "DemoSummary", "seed_demo"]
