"""The store id: one random UUID kept by both the database (settings) and the file store (STORE-ID).

A database and a store that do not carry the same id were not made together: a typo in --db
(an empty new database beside a real store), another practice's store, a store URL typo. Such
a pair may be read, but never written to or repaired, because "files the database does not
name" would then be every file of the store.

Stores and databases from before ids get one on their first write, both sides at once (the
store file first, then the database row in the caller's transaction). A side without an id
adopts the other's only where nothing can be lost: a store that holds no file yet, or a
database whose files are in the store.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence.db.models import Blob, Setting
from evidence.errors import StoreError
from evidence.retention.audit import STORE_ID_SETTING
from evidence.store.blobstore import BlobStore

SAMPLE = 20  # database files looked up in the store before a database without an id adopts the store's


def database_store_id(session: Session) -> str | None:
    row = session.get(Setting, STORE_ID_SETTING)
    return row.value if row is not None else None


def identity_problem(session: Session, store: BlobStore, *, database: str, assign: bool = False) -> str | None:
    """Why this database and this store do not belong together, in one line; None when they do.

    With `assign`, a missing id is written where that is safe (the caller commits the session).
    """
    db_id, store_id = database_store_id(session), store.read_store_id()
    where = store.location
    if db_id is not None and store_id is not None:
        if db_id == store_id:
            return None
        return (
            f"the database at {database} belongs to store id {db_id}, but the store at {where} is store id "
            f"{store_id}: wrong --db or --store?"
        )
    sample = list(session.scalars(select(Blob.digest).order_by(Blob.id).limit(SAMPLE)))
    if store_id is not None:  # a database without an id beside a store with one
        if sample and all(store.exists(digest) for digest in sample):  # its own store: from before ids
            if assign:
                session.add(Setting(key=STORE_ID_SETTING, value=store_id))
            return None
        if not sample and not _holds_files(store):
            if assign:  # an empty store: nothing to lose
                session.add(Setting(key=STORE_ID_SETTING, value=store_id))
            return None
        state = "empty/new" if not sample else "not the database of this store (its files are not there)"
        return (
            f"the database at {database} is {state}, but the store at {where} belongs to store id {store_id}: "
            "wrong --db? (restore the database from a backup, or give the right --db)"
        )
    if db_id is not None:  # a store without an id beside a database with one
        if _holds_files(store):
            return (
                f"the store at {where} holds files but no store id, and the database at {database} belongs to "
                f"store id {db_id}: wrong --store?"
            )
        if sample:
            return _empty_store(database, where)
        if assign:
            store.write_store_id(db_id)
        return None
    if not sample and _holds_files(store):
        return (
            f"the database at {database} is empty/new, but the store at {where} already holds files: wrong --db? "
            "(restore the database from a backup, or give the right --db)"
        )
    if sample and not any(store.exists(digest) for digest in sample):
        return _empty_store(database, where)
    if assign:
        new_id = str(uuid.uuid4())
        store.write_store_id(new_id)  # first: a crash before the commit leaves a store whose files we name
        session.add(Setting(key=STORE_ID_SETTING, value=new_id))
    return None


def ensure_identity(session: Session, store: BlobStore, *, database: str) -> None:
    """Refuse (StoreError) a database and store that were not made together; give ids where missing."""
    problem = identity_problem(session, store, database=database, assign=True)
    if problem is not None:
        raise StoreError(f"refusing to write: {problem}")
    session.flush()


def _empty_store(database: str, where: str) -> str:
    return f"the database at {database} names stored files, but the store at {where} holds none of them: wrong --store?"


def _holds_files(store: BlobStore) -> bool:
    return store.holds_files()
