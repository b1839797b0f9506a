"""mailflow: runs the management mentor registry's mailbox-driven process."""

__version__ = "0.1.0"
