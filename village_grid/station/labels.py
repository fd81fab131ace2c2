"""The station's vocabulary: document types, departure reasons, referral outcomes,
training subjects, broadcast kinds, the provinces, every limit — and their words.

The services check against these tuples; the forms, JSON schemas and templates
take their lists and limits from here.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from village_grid.hierarchy.labels import SEX_LABELS

# --- ID documents -----------------------------------------------------------------

RESIDENT_ID = "resident_id"
ID_TYPES = (RESIDENT_ID, "hk_macao_permit", "taiwan_permit", "passport", "other")
ID_TYPE_LABELS = {
    RESIDENT_ID: _l("Resident ID card"),
    "hk_macao_permit": _l("Hong Kong / Macao travel permit"),
    "taiwan_permit": _l("Taiwan travel permit"),
    "passport": _l("Passport"),
    "other": _l("Other document"),
}
# What a bad ID number is told, by the code the API sends in ``fields``.
DOCUMENT_MIN, DOCUMENT_MAX = 5, 30  # another document than a resident ID
ID_ERRORS = {
    "required": _l("Enter the ID number."),
    "wrong_length": _l(
        "A resident ID number has 18 characters; this one has %(n)s. Check for a missing or extra digit."
    ),
    "bad_format": _l(
        "A resident ID number is 17 digits and then a digit or X; it has other characters."
    ),
    "bad_checksum": _l(
        "The last character (the check digit) does not fit the other 17: one of the digits is probably mistyped."
    ),
    "bad_birth_date": _l(
        "The date of birth in the number (characters 7 to 14) is not a real date."
    ),
    "birth_year_too_early": _l(
        "The year of birth in the number (characters 7 to 10) is %(year)s, before %(min)s: "
        "check those four digits."
    ),
    "future_birth_date": _l("The date of birth in the number (characters 7 to 14) is after today."),
    "bad_document": _l(
        "A document number is %(low)s to %(high)s letters and digits.",
        low=DOCUMENT_MIN,
        high=DOCUMENT_MAX,
    ),
}
BIRTH_YEAR_MIN = 1900  # a resident ID with an earlier year of birth is mistyped
ID_NUMBER_MAX = 40  # what a form or a body may carry before normalising

# --- the person ---------------------------------------------------------------------

SEXES = tuple(SEX_LABELS)  # "M", "F": the registry's words
NAME_MAX = 50
COUNTY_MAX = 50
SKILLS_MAX = 200
EMPLOYER_MAX = 100
POSITION_MAX = 100
NOTE_MAX = 200
PLACE_MAX = 100
TITLE_MAX = 100
REASON_MIN, REASON_MAX = 2, 200  # why a full ID number is shown or exported

# Skills a station hears most; the field takes any text (suggestions only).
SKILL_SUGGESTIONS = (
    "普工",
    "电焊",
    "叉车",
    "装卸",
    "电工",
    "钳工",
    "木工",
    "瓦工",
    "厨师",
    "缝纫",
    "驾驶",
    "保洁",
    "保安",
    "仓管",
)

# Provincial-level divisions by the first two digits of a resident ID number
# (place names, written as they are in any language).
PROVINCES = {
    "11": "北京市",
    "12": "天津市",
    "13": "河北省",
    "14": "山西省",
    "15": "内蒙古自治区",
    "21": "辽宁省",
    "22": "吉林省",
    "23": "黑龙江省",
    "31": "上海市",
    "32": "江苏省",
    "33": "浙江省",
    "34": "安徽省",
    "35": "福建省",
    "36": "江西省",
    "37": "山东省",
    "41": "河南省",
    "42": "湖北省",
    "43": "湖南省",
    "44": "广东省",
    "45": "广西壮族自治区",
    "46": "海南省",
    "50": "重庆市",
    "51": "四川省",
    "52": "贵州省",
    "53": "云南省",
    "54": "西藏自治区",
    "61": "陕西省",
    "62": "甘肃省",
    "63": "青海省",
    "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区",
    "71": "台湾省",
    "81": "香港特别行政区",
    "82": "澳门特别行政区",
}
PROVINCE_NAMES = tuple(PROVINCES.values())

# --- stays and departures -------------------------------------------------------------

DEPARTURE_REASONS = ("job_ended", "went_home", "moved_on", "other")
DEPARTURE_LABELS = {
    "job_ended": _l("Job ended"),
    "went_home": _l("Went home"),
    "moved_on": _l("Moved to another place"),
    "other": _l("Other reason"),
}

# --- jobs and trainings ------------------------------------------------------------------

# A referral is pending until its outcome is known.
PENDING_OUTCOME = "pending"
OUTCOMES = (PENDING_OUTCOME, "hired", "not_hired")
OUTCOME_LABELS = {
    "pending": _l("Waiting for an answer"),
    "hired": _l("Hired"),
    "not_hired": _l("Not hired"),
}
SUBJECTS = ("fire_safety", "job_skills", "legal", "public_security")
SUBJECT_LABELS = {
    "fire_safety": _l("Fire safety"),
    "job_skills": _l("Job skills"),
    "legal": _l("Legal knowledge"),
    "public_security": _l("Public security"),
}
ATTENDANCE_MAX = 500  # newcomers recorded at one go

# --- broadcasts -------------------------------------------------------------------------

BROADCAST_KINDS = ("missing_person", "other")
BROADCAST_LABELS = {"missing_person": _l("Missing person"), "other": _l("Other notice")}
# What each kind says, from the station's form to the lead's page and the end button:
# the title offered, what the description asks for, whether it has a "last seen" line,
# the line team leads are told to call on (``%(phone)s``), and how the station ends it.
BROADCAST_WORDS = {
    "missing_person": {
        "title": _l("Missing child"),
        "describe": _l("Who: name, age, height, clothes"),
        "last_seen": True,
        "call": _l("If you see or know anything, call %(phone)s."),
        "end": _l("End it: found"),
        "end_confirm": _l("End this broadcast (found)?"),
    },
    "other": {
        "title": "",
        "describe": _l("What team leads should know or do"),
        "last_seen": False,
        "call": _l("Questions: call %(phone)s."),
        "end": _l("End this notice"),
        "end_confirm": _l(
            "End this notice now? Team leads who have not read it are no longer escalated."
        ),
    },
}
BROADCAST_TITLE_MAX = 100
BROADCAST_TEXT_MAX = 500
# Minutes a team lead has to read a broadcast before it climbs (the form's choices).
BROADCAST_DEADLINES = (10, 15, 30, 60, 120)
BROADCAST_DEFAULT_DEADLINE = 15

# --- placement ---------------------------------------------------------------------------

PLACEMENT_KINDS = ("new", "joined")
PLACEMENT_LABELS = {"new": _l("New rental household"), "joined": _l("Joined a household")}
# Teams proposed for a new household; households listed to join.
PROPOSED_TEAMS = 8
JOINABLE_HOUSEHOLDS = 200


def label(words: dict, key: str | None) -> str:
    """The word for ``key`` in ``words`` ("" for none, the key itself when unknown)."""
    if not key:
        return ""
    return str(words.get(key, key))


# Newcomers on one page of the station's list.
LIST_PAGE = 50

# Newcomers a search finds at most; the longest phone number searched for by its digits
# (a landline with its area code).
SEARCH_LIMIT = 50
PHONE_MAX = 12
