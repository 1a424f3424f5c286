"""``reprotect secrets rotate`` re-seals the columns ``app.sealed.rotation.SEALED_COLUMNS`` lists: that list, kept
by hand, must name every model attribute typed ``Sealed``, with the row's primary key as the model has it (a
column missing there would keep its values under a key about to be dropped)."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from sqlalchemy import inspect

import app
from app.db import Base
from app.sealed.column import Sealed
from app.sealed.rotation import SEALED_COLUMNS

for _module in pkgutil.walk_packages(app.__path__, "app."):
    if _module.name.endswith(".models"):
        importlib.import_module(_module.name)


def _type_name(type_: Any) -> str:
    return type(type_).__name__


def _sealed_attributes() -> dict[tuple[str, str], tuple[tuple[str, str], ...]]:
    """Every column behind a ``Sealed`` attribute of a mapped class, with its table's primary key (names, types)."""
    found = {}
    for mapper in Base.registry.mappers:
        for klass in mapper.class_.__mro__:
            for attribute in vars(klass).values():
                if isinstance(attribute, Sealed):
                    column = mapper.get_property(attribute.stored).columns[0]
                    key = tuple((part.name, _type_name(part.type)) for part in mapper.primary_key)
                    found[(mapper.local_table.name, column.name)] = key
    return found


def test_the_sealed_columns_rotation_reseals_are_every_sealed_attribute_of_the_models():
    listed = {
        (sealed.table, sealed.column): tuple((name, _type_name(type_)) for name, type_ in sealed.key)
        for sealed in SEALED_COLUMNS
        if not sealed.document
    }
    found = _sealed_attributes()
    assert found, "no model has a Sealed attribute: the models were not imported"
    assert listed == found


def test_the_sealed_documents_name_real_columns_and_their_tables_primary_key():
    tables = {mapper.local_table.name: mapper for mapper in Base.registry.mappers}
    for sealed in (sealed for sealed in SEALED_COLUMNS if sealed.document):
        mapper = tables[sealed.table]
        assert [part.name for part in mapper.primary_key] == [name for name, _ in sealed.key]
        columns = {column.name for column in inspect(mapper.class_).columns}
        assert {sealed.column, *(name for name, _ in sealed.guard)} <= columns
