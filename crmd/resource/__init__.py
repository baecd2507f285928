"""crm_resource: inspect and change one resource (library functions and command line)."""
