"""Judging evidence, pure and reusable: segment truth, job invariants, the 5B comparison, warning
signs, log parsing and contract citations. Imports nothing of running or telling, and no pytest.
"""
