"""Channel adapters behind one protocol, found through one registry; the simulated platform."""
