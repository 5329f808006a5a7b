"""The doctor: checks this machine for what a run needs, and prints a table with a fix on every failing row.

``facts`` gathers (the only part that runs commands), ``checks`` judges (pure functions), ``report`` prints.
"""
