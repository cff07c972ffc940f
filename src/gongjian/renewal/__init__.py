"""Industrial land renewal (工改): parks, parcels, enterprises, reserve, leases."""
