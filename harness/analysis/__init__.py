"""Pure functions from a run's stored records to numbers."""
