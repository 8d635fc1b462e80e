"""Signed messages: what one part signs, another believes, and nothing else."""

from __future__ import annotations

from glastonbury.signing import is_signature, is_signed, signature, signed

KEY = "a key the two parts share"
MESSAGE = {"version": 1, "orderId": "o1", "total": "200.00",
           "items": [{"ticketId": "t1", "name": "dåy-one", "quantity": 1, "amount": "200.00"}]}


def test_a_signed_message_is_believed_whatever_the_order_of_its_fields() -> None:
    message = signed(MESSAGE, KEY)
    assert is_signed(message, KEY)
    assert is_signed(dict(reversed(list(message.items()))), KEY)


def test_a_changed_unsigned_or_otherwise_signed_message_is_not_believed() -> None:
    message = signed(MESSAGE, KEY)
    assert not is_signed({**message, "total": "0.00"}, KEY)
    assert not is_signed(MESSAGE, KEY)
    assert not is_signed(signed(MESSAGE, "another key"), KEY)
    assert not is_signed({**message, "signature": None}, KEY)
    assert not is_signed(message, "")
    assert not is_signed(["not", "a", "message"], KEY)


def test_signing_again_replaces_the_signature() -> None:
    assert signed(signed(MESSAGE, "another key"), KEY) == signed(MESSAGE, KEY)


def test_a_value_is_believed_only_with_its_signature_under_a_key() -> None:
    value = b'{"status": "APPROVED"}'
    assert is_signature(KEY, value, signature(KEY, value))
    assert is_signature(KEY, value, signature(KEY, value).encode())
    assert not is_signature(KEY, value + b" ", signature(KEY, value))
    assert not is_signature("", value, signature("", value))
    assert not is_signature(KEY, value, None)
