"""The policy engine: a pure function from CIB XML (and "now") to a transition graph."""
