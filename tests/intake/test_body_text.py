"""Tests of body text shaping: line ends, joined parts and format=flowed."""

from __future__ import annotations

from mailflow.intake.body_text import join_body_texts, normalise_newlines, unflow


def test_newlines_crlf_and_cr():
    assert normalise_newlines("a\r\nb\rc\n") == "a\nb\nc\n"


def test_join_keeps_both_halves():
    assert join_body_texts(["前半です。", "後半です。\n"]) == "前半です。\n後半です。\n"


def test_join_no_double_newline():
    assert join_body_texts(["前半\n", "後半"]) == "前半\n後半"


def test_unflow_joins_soft_breaks():
    assert unflow("This is a \nlong line.\nNext\n", delsp=False) == "This is a long line.\nNext\n"


def test_unflow_delsp_removes_space():
    assert unflow("申込書を \n送ります。\n", delsp=True) == "申込書を送ります。\n"


def test_unflow_quote_depth_change_breaks():
    assert unflow("> quoted \nplain\n", delsp=False) == "> quoted \nplain\n"


def test_unflow_quoted_paragraph():
    assert unflow("> one \n> two\n", delsp=False) == "> one two\n"


def test_unflow_signature_separator():
    assert unflow("text\n-- \nname\n", delsp=False) == "text\n-- \nname\n"


def test_unflow_space_stuffing_removed():
    assert unflow(" From here\n", delsp=False) == "From here\n"
