"""The name of the journal a restore in progress keeps in the home (evidence.store.restore): every
opening looks for it (evidence.app) without importing the restore code, 16 ms of each start-up."""

RESTORE_JOURNAL = "restore-in-progress"
