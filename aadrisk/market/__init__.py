"""Market data: dates, yield curves and their bootstrap, linear rates products, vol surfaces (see the submodules)."""
