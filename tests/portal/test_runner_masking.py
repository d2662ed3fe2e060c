"""The Masker: every form in which a secret can reach a log line or an output is replaced by `***`."""

from __future__ import annotations

import json

from idpbuilder.portal.scaffolder.masking import MASK, Masker

KEY = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END KEY-----"


def test_plain_json_escaped_and_url_encoded_forms_are_masked() -> None:
    masker = Masker(['pa"ss/word?&', "tok-123"])
    assert masker.text("auth pa\"ss/word?& and tok-123") == f"auth {MASK} and {MASK}"
    assert masker.text(json.dumps({"password": 'pa"ss/word?&'})) == '{"password": "***"}'
    assert masker.text("https://u:pa%22ss%2Fword%3F%26@host/x") == f"https://u:{MASK}@host/x"


def test_each_line_of_a_multi_line_secret_is_masked() -> None:
    masker = Masker([KEY])
    assert masker.text(f"key:\n{KEY}\n") == f"key:\n{MASK}\n"
    assert masker.text("found MIIEvQIBADANBgkqhkiG9w0BAQEFAASC in a log") == f"found {MASK} in a log"
    assert "-----END KEY-----" not in masker.text(json.dumps({"key": KEY}))


def test_longer_secrets_are_masked_before_their_prefixes() -> None:
    masker = Masker(["abc", "abcdef"])
    assert masker.text("abcdef abc") == f"{MASK} {MASK}"


def test_values_are_masked_recursively_and_non_strings_by_their_json() -> None:
    masker = Masker(["s3cr3t", 424242, None, ""])
    value = {"a": ["x s3cr3t", {"s3cr3t": 424242}], "n": 424242, "other": 7, "flag": True}
    assert masker.value(value) == {"a": [f"x {MASK}", {MASK: MASK}], "n": MASK, "other": 7, "flag": True}
    assert value["a"][0] == "x s3cr3t"


def test_an_empty_masker_changes_nothing_and_secrets_can_be_added() -> None:
    masker = Masker()
    assert not masker and masker.text("anything") == "anything"
    masker.add("late-secret")
    assert masker and masker.text("a late-secret") == f"a {MASK}"
    assert Masker([" ", "\n"]).text("a b\nc") == "a b\nc"
