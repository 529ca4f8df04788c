"""Path parameters that name a row (`/opl/trabajos/{job_id:row_id}/cancelar`): ASCII digits only, and a number no
row can have past the database's integer range becomes 0, which names no row, so the page answers 404. With
Starlette's `int`, `/…/99999999999999999999` reached the database and came back as a 500."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

from core.text import as_row_id

NO_ROW = 0  # ids start at 1


class RowIdConvertor(Convertor[int]):
    regex = "[0-9]+"

    def convert(self, value: str) -> int:
        number = as_row_id(value)
        return NO_ROW if number is None else number

    def to_string(self, value: int) -> str:
        return str(int(value))


register_url_convertor("row_id", RowIdConvertor())
