"""The household registry as a file (CSV or XLSX): import all or nothing, and export.

- :mod:`.columns`: the format — columns and their headers, the flag and member cells.
- :mod:`.files`: reading a file's bytes into rows keyed by column.
- :mod:`.importing`: checking and writing the rows through ``hierarchy.service``.
- :mod:`.exporting`: the registry as rows and as a file the import reads back.
- :mod:`.rejections`: the problems a rejected file reports.

The format is documented in docs/import-format.md.
"""

from village_grid.hierarchy.registry.exporting import export_registry
from village_grid.hierarchy.registry.importing import ImportResult, import_registry
from village_grid.hierarchy.registry.rejections import ImportRejected

__all__ = ["ImportRejected", "ImportResult", "export_registry", "import_registry"]
