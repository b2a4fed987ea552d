"""A solution that many students share: every pair of them is listed with the figures its compare view
shows, whatever the order of the uploads; the students show as one cluster; code staff mark as given
(through the API or the page) counts for no pair until it is removed."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from support.accounts import PASSWORD
from support.handins import tar_bytes
from support.reports import report
from support.similarity_sources import DISGUISED, INDEPENDENT, edits, own_code

from core.models import Assignment, Role, SimilarityPair
from core.services import submissions
from core.similarity import index as similarity
from core.similarity.clusters import clusters, find_groups

SHARERS = [f"sharer{n:02d}" for n in range(12)]  # 8 hand the solution in as is, 4 disguised
OTHERS = ["indie", "own1", "own2"]


@pytest.fixture(scope="module")
def handins(make_handin) -> dict[str, bytes]:
    solution = make_handin("cluster-solution").read_bytes()
    disguised = make_handin("cluster-disguised", edits(DISGUISED)).read_bytes()
    shared = {name: solution if n < 8 else disguised for n, name in enumerate(SHARERS)}
    own = {name: tar_bytes({"mytorch/optim/adam.py": own_code(n).encode()}) for n, name in enumerate(OTHERS)}
    return shared | own | {"indie": make_handin("cluster-independent", edits(INDEPENDENT)).read_bytes()}


def indexed(db, assignment: Assignment, users: dict, handins: dict[str, bytes], order: list[str]) -> None:
    for name in order:
        row, _ = submissions.create(db, assignment, users[name], handins[name])
        submissions.store_report(db, row.id, report())
        assert similarity.index_student(db, assignment.id, users[name].id)


def second_assignment(db) -> Assignment:
    now = datetime.now(UTC)
    row = Assignment(
        slug="hw1-again",
        title="HW1 again",
        due_at=now + timedelta(days=1),
        late_deadline_at=now + timedelta(days=3),
    )
    db.add(row)
    db.commit()
    return row


def listed(db, assignment: Assignment) -> dict[frozenset[str], tuple]:
    """Each listed pair: its score, shared fingerprints, and each side's fraction and matched lines."""
    rows, _ = similarity.pairs(db, assignment, limit=10_000)
    return {
        frozenset((p.document_a.label, p.document_b.label)): (
            round(p.score, 9),
            p.shared,
            {
                p.document_a.label: (round(p.fraction_a, 9), p.lines_a),
                p.document_b.label: (round(p.fraction_b, 9), p.lines_b),
            },
        )
        for p in rows
    }


def cluster_summary(db, assignment: Assignment) -> list[tuple]:
    return [
        (c.fingerprints, c.lines, [(m.document.label, m.fingerprints) for m in c.members])
        for c in clusters(db, assignment)
    ]


def test_a_shared_solution_is_listed_as_the_compare_view_shows_it_whatever_the_upload_order(
    db, assignment, make_user, as_user, handins
):
    users = {name: make_user(name)[0] for name in SHARERS + OTHERS}
    first = SHARERS + OTHERS
    random.Random(5).shuffle(first)
    second = first[::-1]
    indexed(db, assignment, users, handins, first)
    again = second_assignment(db)
    indexed(db, again, users, handins, second)

    pairs = listed(db, assignment)
    assert pairs == listed(db, again)
    among = {pair: figures for pair, figures in pairs.items() if pair <= set(SHARERS)}
    assert len(among) == 12 * 11 // 2
    identical = frozenset(SHARERS[:2])
    assert among[identical][0] == 1.0 and among[identical][1] > 50
    assert all(score >= 0.85 for score, _, _ in among.values())
    assert all(score < 0.15 for pair, (score, _, _) in pairs.items() if pair not in among)

    ta = as_user("ta", Role.ta)
    for pair in db.query(SimilarityPair).filter(SimilarityPair.assignment_id == assignment.id):
        detail = similarity.pair_detail(db, pair.id).comparison
        assert (detail.score, detail.shared) == (pair.score, pair.shared)
        assert (detail.fraction_a, detail.lines_a) == (pair.fraction_a, pair.lines_a)
        assert (detail.fraction_b, detail.lines_b) == (pair.fraction_b, pair.lines_b)
    top = similarity.pairs(db, assignment, limit=1)[0][0]
    shown = ta.get(f"/api/v1/similarity/pairs/{top.id}").json()
    assert sum(r["last_line"] - r["first_line"] + 1 for r in shown["regions_a"]) == shown["a"]["lines"] > 40
    page = ta.get(f"/similarity/pairs/{top.id}").text
    assert f": {100 * top.score:.0f}%</h1>" in page and f"{top.lines_a} lines in" in page

    assert cluster_summary(db, assignment) == cluster_summary(db, again)
    [cluster] = clusters(db, assignment)
    assert sorted(m.document.label for m in cluster.members) == SHARERS
    assert all(m.fingerprints == cluster.fingerprints > 50 for m in cluster.members) and cluster.lines > 30
    assert {"mytorch/optim/adam.py", "mytorch/nn/batchnorm.py"} <= {r.file for r in cluster.regions}


def test_the_similarity_page_and_the_api_show_the_clusters_to_staff_only(
    db, assignment, make_user, as_user, handins
):
    users = {name: make_user(name)[0] for name in SHARERS + OTHERS}
    indexed(db, assignment, users, handins, SHARERS + OTHERS)
    ta = as_user("ta", Role.ta)

    [cluster] = ta.get("/api/v1/assignments/hw1-bonus/similarity/clusters").json()
    assert cluster["students"] == 12 and sorted(m["username"] for m in cluster["members"]) == SHARERS
    assert cluster["members"][0]["fingerprints"] == cluster["fingerprints"]
    page = ta.get("/assignments/hw1-bonus/similarity").text
    shown = re.search(r'<section class="card clusters".*?</section>', page, re.S).group()
    assert f"12 students share {cluster['fingerprints']} fingerprints" in shown
    assert all(f"/students/{name}" in shown for name in SHARERS) and "/students/own1" not in shown
    assert shown.count('<span class="hit">') == cluster["lines"] and "self.t += 1" in shown

    student = as_user("own1")
    assert student.get("/api/v1/assignments/hw1-bonus/similarity/clusters").status_code == 403
    assert student.get("/assignments/hw1-bonus/similarity").status_code == 403


def test_holders_nearly_the_same_make_one_cluster_whose_members_hold_a_good_part_of_its_code():
    leak = frozenset(f"s{n:02d}" for n in range(12))
    rewrote = leak - {"s11"}  # s11 rewrote one part of the leaked solution
    everyone = frozenset(f"s{n:02d}" for n in range(40))
    holders = (
        {h: leak for h in range(60)}
        | {h: rewrote for h in range(60, 160)}
        | {170: leak | {"s30"}}  # s30 happens to write one line of it the same way
        | {h: everyone for h in range(200, 210)}  # an idiom: too little of anyone's code
    )
    sizes = dict.fromkeys(everyone, 400)
    [solution] = find_groups(holders, sizes)
    assert solution.hashes == set(range(160)) | {170}
    assert solution.members == sorted(rewrote) + ["s11"]
    assert (solution.held["s00"], solution.held["s11"], solution.held["s30"]) == (161, 61, 1)
    [again] = find_groups(dict(reversed(holders.items())), sizes)
    assert (again.hashes, again.members) == (solution.hashes, solution.members)
    assert [len(g.members) for g in find_groups(holders, dict.fromkeys(everyone, 100))] == [12, 40]


def adam_of(handin: bytes) -> str:
    from grader.unpack import read_handin_files

    return read_handin_files(handin)["mytorch/optim/adam.py"].decode()


def test_code_staff_mark_as_given_through_the_api_counts_for_no_pair_until_removed(
    db, assignment, make_user, as_user, handins
):
    users = {name: make_user(name)[0] for name in SHARERS[:6]}
    indexed(db, assignment, users, handins, SHARERS[:6])
    ta = as_user("ta", Role.ta)
    before = listed(db, assignment)

    answer = ta.post(
        "/api/v1/assignments/hw1-bonus/similarity/given",
        data={"label": "recitation 3"},
        files={"file": ("adam.py", adam_of(handins[SHARERS[0]]).encode())},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["label"] == "recitation 3" and answer.json()["by"] == "ta"
    db.expire_all()
    after = listed(db, assignment)
    assert after.keys() == before.keys()  # batchnorm and dropout are still the same code
    assert all(after[pair][1] < before[pair][1] for pair in before)
    regions = similarity.pair_detail(db, similarity.pairs(db, assignment)[0][0].id).comparison.regions_a
    assert regions and "mytorch/optim/adam.py" not in {r.file for r in regions}
    [listed_given] = ta.get("/api/v1/assignments/hw1-bonus/similarity/given").json()
    assert listed_given["id"] == answer.json()["id"] and listed_given["lines"] > 10

    assert ta.delete(f"/api/v1/similarity/given/{listed_given['id']}").status_code == 204
    db.expire_all()
    assert listed(db, assignment) == before
    assert ta.delete(f"/api/v1/similarity/given/{listed_given['id']}").status_code == 404

    refused = ta.post("/api/v1/assignments/hw1-bonus/similarity/given", data={"code": "x = 1\n"})
    assert refused.status_code == 400 and "no code" in refused.json()["detail"]
    assert (
        as_user("own1").post("/api/v1/assignments/hw1-bonus/similarity/given", data={"code": "x"}).status_code
        == 403
    )


def test_code_pasted_on_the_similarity_page_is_marked_as_given_and_removed_there(
    db, assignment, make_user, app_client, handins
):
    users = {name: make_user(name)[0] for name in SHARERS[:6]}
    indexed(db, assignment, users, handins, SHARERS[:6])
    make_user("ta", Role.ta)
    token = app_client.post("/api/v1/auth/login", json={"username": "ta", "password": PASSWORD}).json()[
        "csrf_token"
    ]
    before = listed(db, assignment)
    form = {"label": "", "code": adam_of(handins[SHARERS[0]])}
    empty_file = {"file": ("", b"")}  # what a browser sends for a file input left empty

    refused = app_client.post("/assignments/hw1-bonus/similarity/given", data=form, files=empty_file)
    assert refused.status_code == 403 and "CSRF" in refused.text
    answer = app_client.post(
        "/assignments/hw1-bonus/similarity/given",
        data=form | {"csrf_token": token},
        files=empty_file,
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    page = app_client.get("/assignments/hw1-bonus/similarity").text
    [given_id] = re.findall(r'name="remove" value="(\d+)"', page)
    assert "pasted code" in page
    db.expire_all()
    assert all(listed(db, assignment)[pair][1] < figures[1] for pair, figures in before.items())

    removed = app_client.post(
        "/assignments/hw1-bonus/similarity/given",
        data={"remove": given_id, "csrf_token": token},
        follow_redirects=False,
    )
    assert removed.status_code == 303
    db.expire_all()
    assert listed(db, assignment) == before
    assert 'name="remove"' not in app_client.get("/assignments/hw1-bonus/similarity").text
