"""The calculator protocol without sockets: parsing, arithmetic, formatting, the session state machine."""

from __future__ import annotations

import contextlib
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.calc.protocol import (
    MAX_EXPONENT,
    MAX_NAME,
    MAX_OPERAND,
    CalcError,
    Reply,
    Request,
    Session,
    calculate,
    check_name,
    format_number,
    parse_request,
)
from services.framing import FramingError

RANGE = "numbers must be 0 or between 1e-50 and 1e50 in magnitude"
FORMAT = "expected <number> <op> <number> separated by spaces, e.g. 12 + 42"
NOT_NUMBER = "is not a number (examples: 12, -4.5, 2.5e3)"


@pytest.mark.parametrize(
    ("line", "result"),
    [
        ("12 + 42", "54"),
        ("4.5 / -6", "-0.75"),
        ("3.24 * 45", "145.8"),
        ("0.1 + 0.2", "0.3"),
        ("1 / 3", "0.3333333333333333333333333333"),
        ("2 / 3", "0.6666666666666666666666666667"),
        ("10 - 12.5", "-2.5"),
        ("1.50 + 1.50", "3"),  # trailing zeros dropped
        ("100 * 10", "1000"),  # no 1E+3
        ("123456789 * 987654321", "121932631112635269"),  # exact, unlike a float
        ("-0 * 5", "0"),  # no negative zero
        ("0 / -3", "0"),
        ("-0 + -0", "0"),
        ("+7 - .5", "6.5"),
        ("5. * 2", "10"),
        ("2.5e3 + 0", "2500"),
        ("1E-3 * 1", "0.001"),
        ("1e-7 * 1", "0.0000001"),
        ("1e-8 * 1", "1e-8"),
        ("1e20 * 10", "1e+21"),
        ("-1.5e30 / 1", "-1.5e+30"),
        ("  12 \t+   42  ", "54"),  # runs of spaces and tabs are tolerated
    ],
)
def test_results_read_as_a_calculator_shows_them(line: str, result: str) -> None:
    assert calculate(line) == result


#: Requests that are not three items, and what the refusal counts.
NOT_THREE_ITEMS = {"": "0 items", "   ": "0 items", "12+42": "1 item", "12 +": "2 items", "1 + 2 + 3": "5 items"}


@pytest.mark.parametrize(("line", "items"), NOT_THREE_ITEMS.items())
def test_a_request_is_three_items(line: str, items: str) -> None:
    with pytest.raises(CalcError) as caught:
        calculate(line)
    assert str(caught.value) == f"{FORMAT} (got {items})"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("12 % 4", "unknown operator '%': use one of + - * /"),
        ("12 x 4", "unknown operator 'x': use one of + - * /"),
        ("12 " + "%" * 100 + " 4", "unknown operator '" + "%" * 20 + "...': use one of + - * /"),
        ("a + b", f"'a' {NOT_NUMBER}"),
        ("12 + b", f"'b' {NOT_NUMBER}"),
        ("nan + 1", f"'nan' {NOT_NUMBER}"),
        ("1 + inf", f"'inf' {NOT_NUMBER}"),
        ("infinity * 2", f"'infinity' {NOT_NUMBER}"),
        ("0x10 + 1", f"'0x10' {NOT_NUMBER}"),
        ("1_000 + 1", f"'1_000' {NOT_NUMBER}"),
        ("١٢ + 1", f"'١٢' {NOT_NUMBER}"),  # Arabic-Indic digits: ASCII only
        ("1e + 1", f"'1e' {NOT_NUMBER}"),
        ("1 / 0", "division by zero"),
        ("0 / 0.000", "division by zero"),
        ("1e999999 + 1", f"operand 1e999999 out of range: {RANGE}"),
        ("1e99999999999999999999 + 1", f"operand 1e99999999999999999999 out of range: {RANGE}"),
        ("1 + 1e-51", f"operand 1e-51 out of range: {RANGE}"),
        ("1" * 51 + " + 1", f"operand {'1' * 51} out of range: {RANGE}"),
        ("9" * 5000 + " + 1", f"operand of 5000 characters exceeds {MAX_OPERAND}"),
        ("1 - " + "9" * 65, f"operand of 65 characters exceeds {MAX_OPERAND}"),
        ("1e49 * 10", f"result 1e+50 out of range: {RANGE}"),
        ("1e-30 * 1e-30", f"result 1e-60 out of range: {RANGE}"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(line: str, reason: str) -> None:
    with pytest.raises(CalcError) as caught:
        calculate(line)
    assert str(caught.value) == reason


def test_parse_request_keeps_the_operands_exact() -> None:
    assert parse_request("0.1 * -3") == Request(Decimal("0.1"), "*", Decimal("-3"))


def test_an_operand_of_the_maximum_length_is_accepted() -> None:
    fraction = "0." + "1" * (MAX_OPERAND - 2)
    assert calculate(f"{fraction} * 1").startswith("0.1111111111")


@pytest.mark.parametrize(
    ("line", "name"),
    [("Alice", "Alice"), ("  Bob the Builder \t", "Bob the Builder"), ("x" * MAX_NAME, "x" * MAX_NAME)],
)
def test_good_names(line: str, name: str) -> None:
    assert check_name(line) == name


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("", "name must not be empty"),
        (" \t ", "name must not be empty"),
        ("x" * (MAX_NAME + 1), f"name of {MAX_NAME + 1} characters exceeds {MAX_NAME}"),
        ("Al\x1bice", "name must not contain control characters"),
        ("Al\tice", "name must not contain control characters"),
    ],
)
def test_bad_names(line: str, reason: str) -> None:
    with pytest.raises(CalcError) as caught:
        check_name(line)
    assert str(caught.value) == reason


PEER = "10.0.0.5:40112"


def test_session_name_then_requests_then_quit() -> None:
    session = Session(PEER)
    assert session.handle("") == Reply(
        send="ERROR name must not be empty", log=f"{PEER} sent a bad name '' -> ERROR name must not be empty"
    )
    assert session.handle("Alice") == Reply(log=f"Alice@{PEER} started a session")
    assert session.handle("12 + 42") == Reply(send="54", log=f"Alice@{PEER} sent '12 + 42' -> 54")
    assert session.handle("1 / 0") == Reply(
        send="ERROR division by zero", log=f"Alice@{PEER} sent '1 / 0' -> ERROR division by zero"
    )
    assert session.handle("Alice").send == f"ERROR {FORMAT} (got 1 item)"  # a name only comes first
    assert session.handle(" q ") == Reply(log=f"Session ended: Alice@{PEER} (quit)", close=True)


def test_quit_before_a_name_ends_the_session() -> None:
    assert Session(PEER).handle("q") == Reply(log=f"Session ended: {PEER} (quit)", close=True)


def test_a_framing_error_is_answered_and_the_session_goes_on() -> None:
    session = Session(PEER)
    session.handle("Alice")
    reply = session.reject(FramingError("line of 2048 bytes exceeds 1024"))
    assert reply.send == "ERROR line of 2048 bytes exceeds 1024"
    assert not reply.close
    assert session.handle("2 * 3").send == "6"


def test_end_logs_the_name_and_the_reason() -> None:
    session = Session(PEER)
    session.handle("Alice")
    assert session.end("disconnected") == Reply(log=f"Session ended: Alice@{PEER} (disconnected)", close=True)


# Decimals that fit the precision (28 digits) and range exactly, so the arithmetic is exact.
exact = st.decimals(min_value=-(10**12), max_value=10**12, places=6, allow_nan=False, allow_infinity=False)
operand_text = st.one_of(
    st.text(alphabet="0123456789.eE+-", max_size=8),
    st.sampled_from(["nan", "inf", "-0", "1e999999", "9" * 70, ".", "e5"]),
)


@given(exact, exact)
def test_adding_then_subtracting_gives_back_the_number(a: Decimal, b: Decimal) -> None:
    total = calculate(f"{a} + {b}")
    assert Decimal(calculate(f"{total} - {b}")) == a


@given(exact)
def test_a_result_parses_back_to_the_same_value(a: Decimal) -> None:
    shown = calculate(f"{a} * 1")
    assert Decimal(shown) == a
    assert shown != "-0"


@given(operand_text, st.sampled_from("+-*/%x"), operand_text)
def test_any_request_gives_a_result_or_a_calc_error(left: str, op: str, right: str) -> None:
    try:
        result = calculate(f"{left} {op} {right}")
    except CalcError:
        return
    value = Decimal(result)
    assert not value or -MAX_EXPONENT <= value.adjusted() < MAX_EXPONENT


@given(st.text(max_size=80))
def test_any_line_gives_a_result_or_a_calc_error(line: str) -> None:
    with contextlib.suppress(CalcError):
        calculate(line)


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_format_number_never_shows_negative_zero_or_trailing_zeros(value: Decimal) -> None:
    shown = format_number(value)
    assert shown != "-0"
    mantissa = shown.split("e")[0]
    assert "." not in mantissa or not mantissa.endswith("0")
