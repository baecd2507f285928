"""The cluster resource manager daemon: DC election, transition engine, crm shell, crm_mon."""
