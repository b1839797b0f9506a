"""Tests of the intake stage: decoding, sniffing and parsing received mail."""
