"""The in-memory whole-cluster simulator and the network-namespace lab."""
