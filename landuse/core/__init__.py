"""Core: options, project files, errors, units, coordinate systems, dates and labels."""
