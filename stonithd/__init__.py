"""The fencing daemon: fence devices, topology levels and fence agents."""
