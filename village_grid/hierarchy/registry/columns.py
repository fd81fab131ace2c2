"""The registry file format: its columns, and the flag and member cells.

The format is documented in docs/import-format.md. One row per household: the
units it sits in named by columns (镇, 村, 网格, 小队), the household's fields,
its flags in one cell and its members in one cell. Headers and labels are
Chinese whatever the interface language, so a file reads the same everywhere.
"""

from __future__ import annotations

from flask_babel import gettext as _

from village_grid.errors import InvalidInput
from village_grid.hierarchy import service
from village_grid.hierarchy.registry.rejections import first_field, problem
from village_grid.models import HOUSEHOLD_FLAGS, Household, Member
from village_grid.models.units import TEAM, TOWNSHIP_KINDS, VILLAGE_KINDS

# Column key → (Chinese header written on export, accepted spellings).
COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "township": ("镇", ("镇", "镇街", "乡镇", "街道", "镇/街道", "township", "town")),
    "village": ("村", ("村", "村社区", "社区", "村/社区", "village", "community")),
    "grid": ("网格", ("网格", "grid")),
    "team": ("小队", ("小队", "team")),
    "code": ("户编码", ("户编码", "编码", "户号", "code", "household_code")),
    "door_no": ("门牌号", ("门牌号", "门牌", "door_no", "door", "door_number")),
    "address": ("地址", ("地址", "住址", "address")),
    "head_name": ("户主", ("户主", "户主姓名", "head_name", "head")),
    "phone": ("电话", ("电话", "联系电话", "手机", "手机号", "phone")),
    "latitude": ("纬度", ("纬度", "latitude", "lat")),
    "longitude": ("经度", ("经度", "longitude", "lng", "lon")),
    "flags": ("标签", ("标签", "flags", "tags")),
    "members": ("成员", ("成员", "家庭成员", "members")),
    "township_code": ("镇编码", ("镇编码", "township_code")),
    "village_code": ("村编码", ("村编码", "社区编码", "village_code")),
    "grid_code": ("网格编码", ("网格编码", "grid_code")),
    "team_code": ("小队编码", ("小队编码", "team_code")),
    # The village's administrative division code (hierarchy/divisions.py).
    "division_code": ("区划代码", ("区划代码", "行政区划代码", "村区划代码", "division_code")),
}
EXPORT_COLUMNS = list(COLUMNS)
REQUIRED_COLUMNS = ("village", "grid", "team", "head_name")
HOUSEHOLD_COLUMNS = (
    "code",
    "door_no",
    "address",
    "head_name",
    "phone",
    "latitude",
    "longitude",
    "flags",
    "members",
)
UNIT_LEVELS = ("township", "village", "grid", "team")
# Unit kinds that fill each level's column on export.
LEVEL_KINDS = {
    "township": TOWNSHIP_KINDS,
    "village": VILLAGE_KINDS,
    "grid": ("grid",),
    "team": (TEAM,),
}

FLAG_LABELS_ZH = {
    "elderly_alone": "独居老人",
    "disabled": "残疾卧床",
    "young_children": "有幼儿",
    "pregnant": "孕妇",
    "flood_prone": "低洼易涝",
    "rental": "出租户",
    "party_member": "党员",
    "veteran": "退役军人",
}
_FLAG_ALIASES = {
    "残疾": "disabled",
    "卧床": "disabled",
    "幼儿": "young_children",
    "易涝": "flood_prone",
    "低洼": "flood_prone",
    "出租": "rental",
    "租户": "rental",
    "军人": "veteran",
    "老人独居": "elderly_alone",
}
RELATION_LABELS_ZH = {
    "head": "户主",
    "spouse": "配偶",
    "child": "子女",
    "parent": "父母",
    "grandchild": "孙子女",
    "sibling": "兄弟姐妹",
    "tenant": "租户",
    "other": "其他",
}
_RELATION_ALIASES = {"本人": "head", "儿子": "child", "女儿": "child", "孙子": "grandchild"}
SEX_LABELS_ZH = {"M": "男", "F": "女"}

FLAG_SEPARATORS = (";", "；", "、", ",", "，")
MEMBER_SEPARATORS = (";", "；", "\n")
MEMBER_FIELD_SEPARATORS = ("|", "｜")
MEMBER_FIELDS = ("name", "relation", "sex", "birth_year", "phone")


def _norm_header(text: str) -> str:
    return "".join(str(text or "").replace("\ufeff", "").split()).lower()


_HEADER_INDEX = {_norm_header(a): key for key, (_zh, aliases) in COLUMNS.items() for a in aliases}
_FLAG_INDEX = {
    **{zh: key for key, zh in FLAG_LABELS_ZH.items()},
    **_FLAG_ALIASES,
    **{key: key for key in HOUSEHOLD_FLAGS},
}
_RELATION_INDEX = {
    **{zh: key for key, zh in RELATION_LABELS_ZH.items()},
    **_RELATION_ALIASES,
}
# The member field a service error names → the row problem's code.
_MEMBER_CODES = {
    "name": "missing_member_name",
    "relation": "bad_relation",
    "sex": "bad_sex",
    "birth_year": "bad_birth_year",
    "member_phone": "bad_member_phone",
}


def column_for_header(title: str) -> str | None:
    """The column key a header cell names (any accepted spelling, any case, spaces
    and a byte-order mark ignored); None for a header the format does not know."""
    return _HEADER_INDEX.get(_norm_header(title))


def heading(key: str) -> str:
    """The Chinese header of a column, as written on export and named in messages."""
    return COLUMNS[key][0]


def _split(text: str, separators: tuple[str, ...]) -> list[str]:
    for sep in separators[1:]:
        text = text.replace(sep, separators[0])
    return [part.strip() for part in text.split(separators[0])]


def parse_flags(cell: str) -> list[str]:
    """Flag names from a cell of Chinese labels or English names; unknown ones pass through
    unchanged so the service reports them."""
    return [_FLAG_INDEX.get(part, part) for part in _split(cell, FLAG_SEPARATORS) if part]


def parse_members(cell: str, line: int) -> tuple[list[dict], list[dict]]:
    """Members from ``name|relation|sex|birth year|phone; ...``. Returns (members, problems)."""
    members: list[dict] = []
    errors: list[dict] = []
    for number, chunk in enumerate((c for c in _split(cell, MEMBER_SEPARATORS) if c), start=1):
        parts = [p.strip() for p in _split(chunk, MEMBER_FIELD_SEPARATORS)]
        if len(parts) > len(MEMBER_FIELDS):
            errors.append(
                problem(
                    line,
                    "bad_member_format",
                    _(
                        "Member %(n)s “%(m)s”: write name|relation|sex|birth year|phone, "
                        "at most five parts.",
                        n=number,
                        m=chunk[:40],
                    ),
                    "members",
                )
            )
            continue
        member = dict(
            zip(MEMBER_FIELDS, parts + [""] * (len(MEMBER_FIELDS) - len(parts)), strict=True)
        )
        member["relation"] = _RELATION_INDEX.get(member["relation"], member["relation"])
        member["sex"] = {"男": "M", "女": "F"}.get(member["sex"], member["sex"])
        try:
            service.clean_member(member)
        except InvalidInput as err:
            code = _MEMBER_CODES.get(first_field(err)[0], "bad_member")
            errors.append(
                problem(
                    line,
                    code,
                    _("Member %(n)s: %(reason)s", n=number, reason=err.message),
                    "members",
                )
            )
            continue
        members.append(member)
    return members, errors


def format_flags(household: Household) -> str:
    """The flags cell of a household: its Chinese labels, as :func:`parse_flags` reads them."""
    return "、".join(FLAG_LABELS_ZH[f] for f in household.flags)


def format_members(members: list[Member]) -> str:
    """The members cell, as :func:`parse_members` reads it (empty trailing parts left out)."""
    parts = []
    for m in members:
        fields = [
            m.name,
            RELATION_LABELS_ZH.get(m.relation, m.relation),
            SEX_LABELS_ZH.get(m.sex, m.sex),
            str(m.birth_year) if m.birth_year else "",
            m.phone or "",
        ]
        while fields and not fields[-1]:
            fields.pop()
        parts.append("|".join(fields))
    return "; ".join(parts)
