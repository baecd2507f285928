"""The XML CIB: schema, versions, replication from the DC, durable storage and cibadmin."""
