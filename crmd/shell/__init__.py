"""The crm shell (crmsh-compatible): one command tree for `crm ...` and the interactive shell."""
