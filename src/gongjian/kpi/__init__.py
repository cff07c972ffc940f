"""The headline KPIs of SPEC.md, one function for the command line, web and reports."""
