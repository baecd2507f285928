"""Consensus membership (all members of a partition agree on one view) and quorum."""
