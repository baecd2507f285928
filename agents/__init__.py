"""hacluster's own OCF resource agents and fence agents, installed with the package."""
