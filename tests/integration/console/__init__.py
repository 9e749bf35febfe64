"""The management console: its API and pages against real processes and a real browser."""
