"""ID numbers at the station's counter: what is accepted, normalised and refused —
each refusal with its own message in Chinese — and how a number is masked."""

from __future__ import annotations

from datetime import date

import pytest
from flask_babel import force_locale

from tests.factories import resident_id
from village_grid.errors import InvalidInput
from village_grid.station import idnumbers
from village_grid.station.registration import check_id

TODAY = date(2026, 11, 30)
# 闽侯县 (350121), born 1990-01-01, sequence 123.
GOOD = resident_id("35012119900101123")
# 福清市 (350181) became a county-level city in 1990; someone born in 1985 there holds
# a number issued later with that code: a real number the region must not refuse.
FUQING_1985 = resident_id("35018119850612001")
# The check digit is X: 11010519491231002X (the standard's own example).
WITH_X = "11010519491231002X"


def chinese(raw, id_type="resident_id"):
    """The refusal's field code and its Chinese message."""
    with force_locale("zh"), pytest.raises(InvalidInput) as caught:
        check_id(raw, id_type, now=None)
    return caught.value.fields["id_number"], caught.value.message


def test_a_valid_number_gives_birth_date_sex_and_home():
    number = idnumbers.check(GOOD, today=TODAY)
    assert number.number == GOOD
    assert number.birth_date == date(1990, 1, 1)
    assert number.sex == "M"  # 17th digit 3: odd
    assert (number.province, number.county) == ("福建省", "闽侯县")
    assert number.mask == "350121********" + GOOD[-4:]
    assert number.last4 == GOOD[-4:]


def test_the_region_table_prefills_but_never_refuses():
    number = idnumbers.check(FUQING_1985, today=TODAY)
    assert (number.province, number.county) == ("福建省", "福清市")
    # A code the table does not know at all: still a valid number, no home prefilled.
    unknown = idnumbers.check(resident_id("99000019900101123"), today=TODAY)
    assert (unknown.province, unknown.county) == ("", "")


def test_lower_case_x_and_full_width_digits_are_normalised():
    assert idnumbers.check(WITH_X.lower(), today=TODAY).number == WITH_X
    full_width = GOOD.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert idnumbers.check(full_width, today=TODAY).number == GOOD
    assert idnumbers.check(f" {GOOD[:6]} {GOOD[6:14]}-{GOOD[14:]} ", today=TODAY).number == GOOD
    assert idnumbers.check("１１０１０５１９４９１２３１００２ｘ", today=TODAY).number == WITH_X


@pytest.mark.parametrize(
    ("raw", "code", "words"),
    [
        ("", "required", "请填写证件号码"),
        (GOOD[:-1], "wrong_length", "应为 18 位，现在是 17 位"),
        (GOOD + "1", "wrong_length", "现在是 19 位"),
        (
            GOOD[:-1] + str((int(GOOD[-1]) + 1) % 10 if GOOD[-1] != "X" else 0),
            "bad_checksum",
            "校验码",
        ),
        (resident_id("35012119900230123"), "bad_birth_date", "不是一个真实的日期"),
        (
            resident_id("35012118800101123"),
            "birth_year_too_early",
            "出生年份（第 7 至 10 位）是 1880 年，早于 1900 年",
        ),
        (resident_id("35012120991231123"), "future_birth_date", "晚于今天"),
        ("3501211990A101123X", "bad_format", "前 17 位是数字"),
        (GOOD[:-1] + "Y", "bad_format", "最后一位是数字或 X"),
    ],
    ids=[
        "empty",
        "17 long",
        "19 long",
        "check digit",
        "30 February",
        "1880",
        "future",
        "letter",
        "last Y",
    ],
)
def test_each_refusal_has_its_own_chinese_message(app, raw, code, words):
    with app.test_request_context():
        got_code, message = chinese(raw)
    assert got_code == code
    assert words in message, message
    assert GOOD not in message  # the number is never echoed


def test_other_documents_have_their_own_rule(app):
    passport = idnumbers.check("e 1234 5678", "passport", today=TODAY)
    assert passport.number == "E12345678"
    assert passport.mask == "E****5678"
    assert idnumbers.check("H12345678", "hk_macao_permit", today=TODAY).sex == ""
    with app.test_request_context():
        code, message = chinese("AB#12", "passport")
    assert code == "bad_document" and "5 到 30 位字母和数字" in message


def test_an_id_number_inside_a_free_text_is_found():
    assert idnumbers.find_in_text(f"联系人身份证{GOOD}请核对")
    assert idnumbers.find_in_text(f"号码 {WITH_X.lower()}")
    assert not idnumbers.find_in_text("电话 13800138000，门牌 23 号")
    assert not idnumbers.find_in_text(GOOD[:-1] + "0" if GOOD[-1] != "0" else GOOD[:-1] + "1")
