"""Who a request is and what it may do: accounts, OAuth identities, sessions, roles and permissions."""
