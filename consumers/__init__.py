"""Processes that follow the hub's log with their own tracking (notices, clocks, indicators).

Empty until the consumers issue; kept so the layout from the design card is in place.
"""
