"""The rollout plan as data: the ten steps, their goals and rollback, and the rule that maps a phase
module to its step. Pure: imports nothing of running, judging or telling.
"""
