"""The stack as terraform declares it: parsing, offline checks and deterministic builds."""
