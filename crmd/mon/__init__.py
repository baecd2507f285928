"""crm_mon: the cluster status tool (text and XML renderers, live view, command line)."""
