"""Evaluation tables through their repository, on SQLite and PostgreSQL: datasets and cases per
tenant, results per evaluation, and deleting a dataset takes its cases and evaluations along."""
from __future__ import annotations

import pytest

from storage.errors import StorageError
from storage.repos import evaluations as repo


def test_datasets_cases_and_results_stay_in_their_tenant(db):
    with db.session() as s:
        mine = repo.create_dataset(s, "2", "smoke", "first", [{"kind": "exact"}])
        repo.add_cases(s, "2", mine.id, [{"message": "a", "expected": "A", "id": "c1"}, {"message": "b"}])
        theirs = repo.create_dataset(s, "3", "smoke")  # the same name in another tenant is fine
    with db.session() as s:
        assert [(d.name, n) for d, n in repo.list_datasets(s, "2")] == [("smoke", 2)]
        assert repo.get_dataset(s, "3", mine.id) is None and repo.find_dataset(s, "3", "smoke").id == theirs.id
        assert repo.list_cases(s, "3", mine.id) == []
        cases = repo.list_cases(s, "2", mine.id)
        assert [(c.id, c.position, c.expected) for c in cases] == [("c1", 0, "A"), (cases[1].id, 1, None)]
        with pytest.raises(StorageError, match="already exists"):
            repo.create_dataset(s, "2", "smoke")
    with db.session() as s, pytest.raises(StorageError, match="case id 'c1' is already in the dataset"):
        repo.add_cases(s, "2", mine.id, [{"message": "again", "id": "c1"}])
    with db.session() as s:
        evaluation = repo.create_evaluation(s, "2", mine.id, "chat", [1, 2], baseline=1, concurrency=4,
                                            use_cache=False, scorers=[], total=4)
        repo.save_result(s, "2", evaluation.id, {"case_id": "c1", "version": 1, "passed": True, "text": "A",
                                                 "scores": {"exact": {"value": 1.0, "passed": True}}})
        repo.set_progress(s, "2", evaluation.id, 1)
    with db.session() as s:
        assert repo.get_evaluation(s, "3", evaluation.id) is None and repo.list_results(s, "3", evaluation.id) == []
        (result,) = repo.list_results(s, "2", evaluation.id)
        assert result.scores["exact"]["passed"] is True and repo.get_evaluation(s, "2", evaluation.id).done == 1
        assert repo.delete_dataset(s, "3", mine.id) is False
    with db.session() as s:
        assert repo.delete_dataset(s, "2", mine.id) is True
    with db.session() as s:
        assert repo.list_evaluations(s, "2") == [] and repo.list_results(s, "2", evaluation.id) == []
        assert repo.list_cases(s, "2", mine.id) == [] and repo.get_dataset(s, "3", theirs.id) is not None
