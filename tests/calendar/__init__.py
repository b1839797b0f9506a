"""Tests of the business calendar, the period rules and the scheduler helpers."""
