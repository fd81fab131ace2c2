"""Import and export of the household registry (CSV and XLSX), all or nothing.

The file format is documented in docs/import-format.md. In short: one row per
household, the units it sits in named by columns (镇, 村, 网格, 小队), the
household's fields, its flags in one cell and its members in one cell.

Every row goes through the same service functions as the form and the API
(:func:`village_grid.hierarchy.service.create_unit` and
:func:`~village_grid.hierarchy.service.create_household`), so the ten-household
cap, phone numbers, flags and every other check are the very same code. A row
that fails becomes an entry in :class:`ImportRejected` with its line number;
when any row fails, nothing is changed and every bad row is reported.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from village_grid.auth import scope
from village_grid.errors import DomainError, InvalidInput, NotFound
from village_grid.hierarchy import service
from village_grid.models import HOUSEHOLD_FLAGS, Household, Member, Unit, User
from village_grid.models.units import TEAM

# --- the format ----------------------------------------------------------------

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
    "township": ("township", "street"),
    "village": ("village", "community"),
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
MAX_CELL = 2000
MAX_ROWS = 200_000


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


# --- results and errors --------------------------------------------------------


class ImportRejected(InvalidInput):
    """The file had bad rows; nothing was imported. ``rows`` lists every one."""

    status = 422
    code = "import_rejected"

    def __init__(self, rows: list[dict]):
        self.rows = sorted(rows, key=lambda r: r["line"])
        bad_lines = {r["line"] for r in self.rows if r["line"] > 1}
        if bad_lines:
            message = _("Rows with mistakes: %(num)s. Nothing was imported.", num=len(bad_lines))
        elif any(r["line"] == 1 for r in self.rows):
            message = _("The header row is wrong; nothing was imported.")
        else:
            message = _("The file could not be read; nothing was imported.")
        super().__init__(message, fields={"file": "import_rejected"})

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "rows": self.rows}}


@dataclass
class ImportResult:
    units_created: int = 0
    households_created: int = 0
    members_created: int = 0
    rows: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Row:
    line: int
    values: dict[str, str]
    errors: list[dict] = field(default_factory=list)


def _error(line: int, code: str, reason: str, field_name: str = "") -> dict:
    return {"line": line, "reason": str(reason), "code": code, "field": field_name}


# --- reading the file ----------------------------------------------------------


def _decode_csv(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (which covers GBK, what Chinese Excel writes)."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8")
        except UnicodeDecodeError:
            pass
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportRejected(
            [
                _error(
                    0,
                    "bad_encoding",
                    _(
                        "The file is in UTF-16 (Excel “Unicode text”). "
                        "Save it as “CSV UTF-8” or as .xlsx."
                    ),
                    "file",
                )
            ]
        )
    else:
        for encoding in ("utf-8", "gb18030"):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                continue
    raise ImportRejected(
        [
            _error(
                0,
                "bad_encoding",
                _(
                    "The file is neither UTF-8 nor GBK text. "
                    "Save it from Excel as “CSV UTF-8” or as .xlsx."
                ),
                "file",
            )
        ]
    )


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, float) and value.is_integer():
        # A phone number or door number Excel stored as a number.
        return str(int(value))
    return str(value).strip()


def _csv_records(text: str) -> Iterator[tuple[int, list[str]]]:
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    for number, record in enumerate(reader, start=1):
        yield number, [c.strip() for c in record]


def _xlsx_records(data: bytes) -> Iterator[tuple[int, list[str]]]:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        rows = list(sheet.iter_rows(values_only=True))
        workbook.close()
    except Exception:  # openpyxl raises many kinds for a broken file
        raise ImportRejected(
            [
                _error(
                    0,
                    "corrupt_xlsx",
                    _(
                        "The Excel file is damaged or not an .xlsx workbook; open and save it again."
                    ),
                    "file",
                )
            ]
        ) from None
    for number, record in enumerate(rows, start=1):
        yield number, [_cell_text(c) for c in record]


def _records(filename: str, data: bytes) -> list[tuple[int, list[str]]]:
    """(line, cells) for every line of the file, header first."""
    name = (filename or "").lower().rsplit("/", 1)[-1]
    ext = name.rsplit(".", 1)[-1] if "." in name else ""
    if not data or not data.strip():
        raise ImportRejected([_error(0, "empty_file", _("The file is empty."), "file")])
    if data.startswith(b"PK\x03\x04"):
        return list(_xlsx_records(data))
    if data.startswith(b"\xd0\xcf\x11\xe0") or ext == "xls":
        raise ImportRejected(
            [
                _error(
                    0,
                    "wrong_file_type",
                    _("Old Excel files (.xls) cannot be read; save it as .xlsx or CSV."),
                    "file",
                )
            ]
        )
    if ext in ("xlsx", "xlsm"):
        raise ImportRejected(
            [
                _error(
                    0,
                    "corrupt_xlsx",
                    _(
                        "The Excel file is damaged or not an .xlsx workbook; open and save it again."
                    ),
                    "file",
                )
            ]
        )
    if ext not in ("csv", "txt"):
        raise ImportRejected(
            [
                _error(
                    0,
                    "wrong_file_type",
                    _("Upload a .csv or .xlsx file (this one is “%(name)s”).", name=name[:60]),
                    "file",
                )
            ]
        )
    text = _decode_csv(data)
    if "\x00" in text:
        raise ImportRejected(
            [
                _error(
                    0,
                    "wrong_file_type",
                    _("This is not a text file; upload a .csv or .xlsx file."),
                    "file",
                )
            ]
        )
    try:
        return list(_csv_records(text))
    except csv.Error as exc:
        raise ImportRejected(
            [
                _error(
                    0,
                    "bad_csv",
                    _("The CSV file is malformed: %(e)s.", e=str(exc)[:100]),
                    "file",
                )
            ]
        ) from None


def _parse(filename: str, data: bytes) -> tuple[list[_Row], list[dict]]:
    """Rows keyed by column, plus file-level and header errors."""
    records = [(n, cells) for n, cells in _records(filename, data) if any(cells)]
    if not records:
        raise ImportRejected([_error(0, "empty_file", _("The file is empty."), "file")])
    header_line, header = records[0]
    errors: list[dict] = []
    columns: list[str | None] = []
    seen: dict[str, str] = {}
    for title in header:
        if not title:
            columns.append(None)
            continue
        key = _HEADER_INDEX.get(_norm_header(title))
        if key is None:
            errors.append(
                _error(
                    header_line,
                    "unknown_header",
                    _("Unknown column “%(h)s”.", h=title[:40]),
                    title[:40],
                )
            )
        elif key in seen:
            errors.append(
                _error(
                    header_line,
                    "duplicate_header",
                    _("Column “%(h)s” appears twice.", h=title[:40]),
                    key,
                )
            )
        else:
            seen[key] = title
        columns.append(key)
    for key in REQUIRED_COLUMNS:
        if key not in seen:
            errors.append(
                _error(
                    header_line,
                    "missing_column",
                    _("The column “%(h)s” is missing.", h=COLUMNS[key][0]),
                    key,
                )
            )
    if errors:
        raise ImportRejected(errors)
    body = records[1:]
    if not body:
        raise ImportRejected(
            [_error(0, "no_rows", _("The file has a header but no households."), "file")]
        )
    if len(body) > MAX_ROWS:
        raise ImportRejected(
            [
                _error(
                    0,
                    "too_many_rows",
                    _("At most %(n)s rows per file; split the file.", n=MAX_ROWS),
                    "file",
                )
            ]
        )
    rows: list[_Row] = []
    for line, cells in body:
        row = _Row(line=line, values={})
        for i, value in enumerate(cells):
            key = columns[i] if i < len(columns) else None
            if key is None:
                if value:
                    row.errors.append(
                        _error(
                            line,
                            "extra_cell",
                            _("Value “%(v)s” is in a column without a header.", v=value[:30]),
                            "",
                        )
                    )
                continue
            if len(value) > MAX_CELL:
                row.errors.append(
                    _error(
                        line,
                        "too_long",
                        _(
                            "Column “%(h)s” is longer than %(n)s characters.",
                            h=COLUMNS[key][0],
                            n=MAX_CELL,
                        ),
                        key,
                    )
                )
                continue
            row.values[key] = value
        rows.append(row)
    return rows, errors


def _split(text: str, separators: tuple[str, ...]) -> list[str]:
    for sep in separators[1:]:
        text = text.replace(sep, separators[0])
    return [part.strip() for part in text.split(separators[0])]


def parse_flags(cell: str) -> list[str]:
    """Flag names from a cell of Chinese labels or English names; unknown ones pass through
    unchanged so the service reports them."""
    return [_FLAG_INDEX.get(part, part) for part in _split(cell, FLAG_SEPARATORS) if part]


def parse_members(cell: str, line: int) -> tuple[list[dict], list[dict]]:
    """Members from ``name|relation|sex|birth year|phone; ...``. Returns (members, errors)."""
    members: list[dict] = []
    errors: list[dict] = []
    for number, chunk in enumerate((c for c in _split(cell, MEMBER_SEPARATORS) if c), start=1):
        parts = [p.strip() for p in _split(chunk, MEMBER_FIELD_SEPARATORS)]
        if len(parts) > len(MEMBER_FIELDS):
            errors.append(
                _error(
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
            code = _MEMBER_CODES.get(_first_field(err)[0], "bad_member")
            errors.append(
                _error(
                    line,
                    code,
                    _("Member %(n)s: %(reason)s", n=number, reason=err.message),
                    "members",
                )
            )
            continue
        members.append(member)
    return members, errors


def _first_field(err: DomainError) -> tuple[str, str]:
    for key, value in err.fields.items():
        if isinstance(value, str):
            return key, value
    return "", err.code


_MEMBER_CODES = {
    "name": "missing_member_name",
    "relation": "bad_relation",
    "sex": "bad_sex",
    "birth_year": "bad_birth_year",
    "member_phone": "bad_member_phone",
}
# (field, service code) → the row error's code.
_HOUSEHOLD_CODES = {
    ("phone", "bad_phone"): "bad_phone",
    ("head_name", "required"): "missing_head_name",
    ("latitude", "not_a_number"): "bad_latitude",
    ("latitude", "out_of_range"): "bad_latitude",
    ("longitude", "not_a_number"): "bad_longitude",
    ("longitude", "out_of_range"): "bad_longitude",
    ("flags", "unknown"): "unknown_flag",
    ("code", "taken"): "duplicate_code",
    ("team_id", "team_full"): "team_full",
}


def _row_error(line: int, err: DomainError) -> dict:
    key, code = _first_field(err)
    if isinstance(err, NotFound):  # includes OutOfScope
        return _error(line, "out_of_scope", _("Not in your area."), "team")
    mapped = _HOUSEHOLD_CODES.get((key, code))
    if mapped is None:
        mapped = "too_long" if code == "too_long" else (err.code if code == "invalid" else code)
    column = "team" if key == "team_id" else key
    return _error(line, mapped, err.message, column)


def _unit_error(line: int, err: DomainError, level: str) -> dict:
    key, code = _first_field(err)
    if isinstance(err, NotFound):
        return _error(line, "out_of_scope", _("Not in your area."), level)
    if key == "code":
        mapped = "duplicate_unit_code" if code == "taken" else "bad_unit_code"
        return _error(line, mapped, err.message, f"{level}_code")
    return _error(line, "too_long" if code == "too_long" else f"bad_{level}", err.message, level)


# --- the import ----------------------------------------------------------------


class _Importer:
    def __init__(self, session: Session, actor: User | None):
        self.session = session
        self.actor = actor
        self.import_paths = None if actor is None else scope.scope_paths(actor, "import")
        self.cache: dict[tuple, Unit | None] = {}
        self.result = ImportResult()

    # Units are found by name under their parent (names are unique among siblings).
    def _child(self, parent: Unit | None, name: str) -> Unit | None:
        key = (parent.id if parent else None, name)
        if key not in self.cache:
            q = select(Unit).where(Unit.name == name)
            q = q.where(Unit.parent_id.is_(None) if parent is None else Unit.parent_id == parent.id)
            self.cache[key] = self.session.scalars(q).first()
        return self.cache[key]

    def _top(self, level: str, name: str, line: int) -> Unit | None:
        """A township, or a village given without township: found by name anywhere."""
        key = ("top", level, name)
        if key in self.cache:
            return self.cache[key]
        found = list(
            self.session.scalars(
                select(Unit).where(Unit.name == name, Unit.kind.in_(LEVEL_KINDS[level]))
            )
        )
        if len(found) > 1 and self.import_paths is not None:
            found = [u for u in found if scope.may(self.actor, "import", u)] or found
        if len(found) > 1:
            raise _RowFailed(
                _error(
                    line,
                    "ambiguous_unit",
                    _(
                        "There are several units named “%(n)s”; add the township column.",
                        n=name,
                    ),
                    level,
                )
            )
        unit = found[0] if found else None
        self.cache[key] = unit
        return unit

    def _in_scope(self, unit: Unit | None) -> bool:
        if self.import_paths is None:
            return True
        if unit is None:
            return False
        return any(unit.path.startswith(p) for p in self.import_paths)

    def _resolve_team(self, row: _Row, created: list[tuple]) -> Unit:
        v = row.values
        names = {level: v.get(level, "") for level in UNIT_LEVELS}
        levels = [lv for lv in UNIT_LEVELS if names[lv]]
        parent: Unit | None = None
        existing: Unit | None = None
        for level in levels:
            name = names[level]
            if parent is None and existing is None:
                unit = self._top(level, name, row.line)
            else:
                unit = self._child(parent, name)
            code = v.get(f"{level}_code", "")
            if unit is not None:
                if unit.kind not in LEVEL_KINDS[level]:
                    raise _RowFailed(
                        _error(
                            row.line,
                            "wrong_unit_kind",
                            _(
                                "“%(n)s” is not a unit of the column “%(h)s”.",
                                n=name,
                                h=COLUMNS[level][0],
                            ),
                            level,
                        )
                    )
                if code and code.upper() != unit.code:
                    raise _RowFailed(
                        _error(
                            row.line,
                            "unit_code_mismatch",
                            _(
                                "“%(n)s” already has code %(old)s, not %(new)s.",
                                n=name,
                                old=unit.code,
                                new=code,
                            ),
                            f"{level}_code",
                        )
                    )
                existing = unit
                parent = unit
                continue
            # To be created: the actor must hold "import" on the unit it goes under.
            if not self._in_scope(parent):
                raise _RowFailed(_error(row.line, "out_of_scope", _("Not in your area."), level))
            try:
                unit = service.create_unit(
                    self.session,
                    self.actor,
                    kind=level,
                    name=name,
                    parent_id=parent.id if parent else None,
                    code=code or None,
                )
            except DomainError as err:
                raise _RowFailed(_unit_error(row.line, err, level)) from None
            key = (parent.id if parent else None, name)
            self.cache[key] = unit
            created.append(key)
            if parent is None:
                created.append(("top", level, name))
                self.cache[("top", level, name)] = unit
            self.result.units_created += 1
            parent = unit
        if not self._in_scope(parent):
            raise _RowFailed(_error(row.line, "out_of_scope", _("Not in your area."), "team"))
        return parent

    def run(self, rows: list[_Row]) -> list[dict]:
        errors: list[dict] = []
        codes_seen: dict[str, int] = {}
        for row in rows:
            self.result.rows += 1
            v = row.values
            has_household = any(v.get(k) for k in HOUSEHOLD_COLUMNS)
            row_errors = list(row.errors)
            for level in ("village", "grid", "team"):
                if has_household and not v.get(level):
                    row_errors.append(
                        _error(
                            row.line,
                            f"missing_{level}",
                            _("“%(h)s” is empty.", h=COLUMNS[level][0]),
                            level,
                        )
                    )
            if not v.get("village"):
                if not has_household:
                    row_errors.append(
                        _error(
                            row.line,
                            "missing_village",
                            _("“%(h)s” is empty.", h=COLUMNS["village"][0]),
                            "village",
                        )
                    )
            elif not has_household:
                gap = [
                    lv
                    for i, lv in enumerate(UNIT_LEVELS[1:], start=1)
                    if not v.get(lv) and any(v.get(x) for x in UNIT_LEVELS[i + 1 :])
                ]
                for lv in gap:
                    row_errors.append(
                        _error(
                            row.line,
                            f"missing_{lv}",
                            _("“%(h)s” is empty.", h=COLUMNS[lv][0]),
                            lv,
                        )
                    )
            data = {
                "door_no": v.get("door_no", ""),
                "address": v.get("address", ""),
                "head_name": v.get("head_name", ""),
                "phone": v.get("phone", ""),
                "latitude": v.get("latitude", ""),
                "longitude": v.get("longitude", ""),
                "flags": parse_flags(v.get("flags", "")),
            }
            members: list[dict] = []
            code = v.get("code", "")
            if has_household:
                try:
                    service.clean_household_fields(data)
                except DomainError as err:
                    row_errors.append(_row_error(row.line, err))
                members, member_errors = parse_members(v.get("members", ""), row.line)
                row_errors += member_errors
                if code:
                    if code in codes_seen:
                        row_errors.append(
                            _error(
                                row.line,
                                "duplicate_code_in_file",
                                _(
                                    "Household code %(c)s is also on line %(n)s.",
                                    c=code,
                                    n=codes_seen[code],
                                ),
                                "code",
                            )
                        )
                    else:
                        codes_seen[code] = row.line
            if row_errors:
                errors += row_errors
                continue
            created: list[tuple] = []
            savepoint = self.session.begin_nested()
            try:
                team = self._resolve_team(row, created)
                if has_household:
                    if team.kind != TEAM:
                        raise _RowFailed(
                            _error(
                                row.line,
                                "missing_team",
                                _("“%(h)s” is empty.", h=COLUMNS["team"][0]),
                                "team",
                            )
                        )
                    try:
                        service.create_household(
                            self.session,
                            self.actor,
                            team_id=team.id,
                            data=data,
                            members=members,
                            code=code or None,
                        )
                    except DomainError as err:
                        raise _RowFailed(_row_error(row.line, err)) from None
                    self.result.households_created += 1
                    self.result.members_created += len(members)
            except _RowFailed as failed:
                savepoint.rollback()
                for key in created:
                    self.cache.pop(key, None)
                    if key[0] == "top":
                        continue
                    self.result.units_created -= 1
                errors.append(failed.error)
                continue
            savepoint.commit()
        return errors


class _RowFailed(Exception):
    def __init__(self, error: dict):
        super().__init__(error["reason"])
        self.error = error


def import_registry(
    session: Session, actor: User | None, *, filename: str, data: bytes
) -> ImportResult:
    """Import households (and the units they name) from a CSV or XLSX file.

    All or nothing: when any row is bad nothing is changed and
    :class:`ImportRejected` lists every bad row. On success the changes are
    flushed; the caller commits. ``actor`` None is the command line (no scope);
    otherwise every row must lie in the actor's "import" scope.
    """
    if actor is not None and scope.scope_paths(actor, "import") == []:
        raise ImportRejected(
            [_error(0, "out_of_scope", _("You may not import households."), "file")]
        )
    rows, errors = _parse(filename, data)
    outer = session.begin_nested()
    importer = _Importer(session, actor)
    try:
        errors += importer.run(rows)
    except BaseException:
        outer.rollback()
        raise
    if errors:
        outer.rollback()
        raise ImportRejected(errors)
    outer.commit()
    if importer.result.units_created:
        service.bump_tree_version(session)
    return importer.result


# --- the export ----------------------------------------------------------------


def _unit_chain(units: dict[int, Unit], unit: Unit) -> dict[str, Unit]:
    chain: dict[str, Unit] = {}
    for uid in unit.ancestor_ids:
        u = units.get(uid)
        if u is None:
            continue
        for level, kinds in LEVEL_KINDS.items():
            if u.kind in kinds and level not in chain:
                chain[level] = u
    return chain


def _unit_cells(chain: dict[str, Unit]) -> dict[str, str]:
    cells: dict[str, str] = {}
    for level in UNIT_LEVELS:
        u = chain.get(level)
        cells[level] = u.name if u else ""
        cells[f"{level}_code"] = u.code if u else ""
    return cells


def format_members(members: list[Member]) -> str:
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


def format_flags(household: Household) -> str:
    return "、".join(FLAG_LABELS_ZH[f] for f in household.flags)


def _float(value: float | None) -> str | float:
    return "" if value is None else value


def export_rows(session: Session, actor: User | None, *, unit_id: int | None) -> list[dict]:
    """Rows (column key → value) for the households under ``unit_id`` (or everything
    the actor may see). Units with nothing under them get a row of their own so an
    import recreates them."""
    if unit_id is not None:
        root = scope.load_unit(session, actor, unit_id, "view")
        unit_clause = scope.subtree_clause(Unit.path, root.path)
    else:
        unit_clause = scope.scope_clause(actor, "view") if actor is not None else None
    uq = select(Unit)
    if unit_clause is not None:
        uq = uq.where(unit_clause)
    in_scope = list(session.scalars(uq))
    needed: set[int] = set()
    for u in in_scope:
        needed.update(u.ancestor_ids)
    units = {u.id: u for u in in_scope}
    missing = needed - set(units)
    if missing:
        units.update({u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(missing)))})
    hq = (
        select(Household)
        .join(Unit, Household.team_id == Unit.id)
        .options(selectinload(Household.members))
    )
    if unit_clause is not None:
        hq = hq.where(unit_clause)
    households = list(session.scalars(hq))
    has_below: set[int] = set()
    for u in in_scope:
        if u.parent_id is not None:
            has_below.add(u.parent_id)
    for h in households:
        has_below.add(h.team_id)

    def sort_key(unit: Unit) -> tuple:
        return tuple((units[i].code, units[i].name) for i in unit.ancestor_ids if i in units)

    rows: list[tuple[tuple, int, dict]] = []
    # Ten households share a team: its cells and sort key are worked out once.
    per_team: dict[int, tuple[tuple, dict]] = {}
    for h in households:
        if h.team_id not in per_team:
            team = units[h.team_id]
            per_team[h.team_id] = (sort_key(team), _unit_cells(_unit_chain(units, team)))
        team_key, team_cells = per_team[h.team_id]
        row = dict(team_cells)
        row.update(
            {
                "code": h.code,
                "door_no": h.door_no or "",
                "address": h.address or "",
                "head_name": h.head_name,
                "phone": h.phone or "",
                "latitude": _float(h.latitude),
                "longitude": _float(h.longitude),
                "flags": format_flags(h),
                "members": format_members(h.members),
            }
        )
        rows.append((team_key, h.seq, row))
    for u in in_scope:
        if u.id in has_below or not any(u.kind in kinds for kinds in LEVEL_KINDS.values()):
            continue
        row = _unit_cells(_unit_chain(units, u))
        row.update({k: "" for k in HOUSEHOLD_COLUMNS})
        rows.append((sort_key(u), 0, row))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [r for _k, _s, r in rows]


def export_registry(
    session: Session, actor: User | None, *, unit_id: int | None, fmt: str
) -> bytes:
    """The registry under ``unit_id`` (or all the actor may see) as CSV (UTF-8 with
    BOM, so Excel opens it) or XLSX, in the format :func:`import_registry` reads."""
    if fmt not in ("csv", "xlsx"):
        raise InvalidInput(_("Export as csv or xlsx."), fields={"fmt": "unknown"})
    rows = export_rows(session, actor, unit_id=unit_id)
    headers = [COLUMNS[k][0] for k in EXPORT_COLUMNS]
    if fmt == "csv":
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(headers)
        for row in rows:
            writer.writerow([row[k] for k in EXPORT_COLUMNS])
        return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")
    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Households"))
    sheet.append(headers)
    for row in rows:
        sheet.append([row[k] for k in EXPORT_COLUMNS])
    buf = io.BytesIO()
    workbook.save(buf)
    return buf.getvalue()
