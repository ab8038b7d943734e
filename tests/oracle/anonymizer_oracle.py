#!/usr/bin/env python3
"""Independent reference implementation of the anonymizer's statistics (DESIGN §4)
and release rules (DESIGN §3), used to produce the expected values that
`crates/anonymizer` is tested against (to 1e-9).

It works the way a statistician would, from the raw answer matrix with numpy and
scipy (np.var(ddof=1), scipy.stats.t.ppf, scipy.stats.ttest_ind, f_oneway,
linregress) — not from integer sufficient statistics as the Rust code does.

CI does not run Python. Regenerate the fixtures after changing a dataset with

    pip install numpy scipy
    python3 tests/oracle/anonymizer_oracle.py

which rewrites crates/anonymizer/tests/fixtures/*.json.
"""

import json
import math
import uuid
from pathlib import Path

import numpy as np
from scipy import stats

FIXTURES = Path(__file__).resolve().parents[2] / "crates" / "anonymizer" / "tests" / "fixtures"


def item(item_id, dimension, reverse_keyed=False, scale=(1, 7)):
    return {"id": item_id, "dimension": dimension, "reverse_keyed": reverse_keyed, "scale": list(scale)}


def recoded_matrix(items, responses):
    """Respondents x items, reverse-keyed items recoded (min + max) - x."""
    matrix = np.array(responses, dtype=float)
    for column, meta in enumerate(items):
        low, high = meta["scale"]
        assert ((matrix[:, column] >= low) & (matrix[:, column] <= high)).all()
        if meta["reverse_keyed"]:
            matrix[:, column] = low + high - matrix[:, column]
    return matrix


def dimensions_of(items):
    order = ["psychological_safety", "trust", "empathy", "feedback", "clarity", "rapport",
             "vulnerability", "wellbeing", "recommendation"]
    present = []
    for dimension in order:
        columns = [index for index, meta in enumerate(items) if meta["dimension"] == dimension]
        if columns:
            present.append((dimension, columns))
    return present


def band(mean, sd, n):
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    return mean - half, mean + half


def distribution(values, scale):
    low, high = scale
    return [int(np.sum(values == point)) for point in range(low, high + 1)]


def favourability_percent(values, scale):
    return 100.0 * float(np.mean(values >= scale[1] - 1))


def team_figures(items, matrix, spread):
    """spread: ("team", None) | ("org_level", org) | ("none", None)."""
    n = matrix.shape[0]
    kind, org = spread
    figures = {"respondents": n, "detail": kind == "team", "items": [], "dimensions": []}

    def interval(mean, team_sd, org_sd):
        if kind == "team":
            low, high = band(mean, team_sd, n)
        elif kind == "org_level":
            low, high = band(mean, org_sd, n)
        else:
            return {"sd_source": "none"}
        return {"sd_source": kind, "low": low, "high": high}

    for column, meta in enumerate(items):
        values = matrix[:, column]
        mean = float(np.mean(values))
        sd = float(np.std(values, ddof=1))
        enps = None
        if tuple(meta["scale"]) == (0, 10):
            enps = 100.0 * (np.sum(values >= 9) - np.sum(values <= 6)) / n
        entry = {
            "item": meta["id"],
            "mean": mean,
            "confidence_interval": interval(mean, sd, org and org["items"][column]["sd"]),
            "favourability_percent": favourability_percent(values, meta["scale"]),
            "enps": enps,
        }
        if kind == "team":
            entry["sd"] = sd
            entry["distribution"] = distribution(values, meta["scale"])
        figures["items"].append(entry)

    for position, (dimension, columns) in enumerate(dimensions_of(items)):
        scale = items[columns[0]]["scale"]
        scores = matrix[:, columns].mean(axis=1)
        answers = matrix[:, columns].ravel()
        mean = float(np.mean(scores))
        sd = float(np.std(scores, ddof=1))
        entry = {
            "dimension": dimension,
            "mean": mean,
            "confidence_interval": interval(mean, sd, org and org["dimensions"][position]["sd"]),
            "favourability_percent": favourability_percent(answers, scale),
        }
        if kind == "team":
            points = scale[1] - scale[0] + 1
            null_variance = (points ** 2 - 1) / 12.0
            mean_item_variance = float(np.mean([np.var(matrix[:, column], ddof=1) for column in columns]))
            ratio = mean_item_variance / null_variance
            j = len(columns)
            entry["sd"] = sd
            entry["distribution"] = distribution(answers, scale)
            entry["rwg"] = 0.0 if ratio > 1 else j * (1 - ratio) / (j * (1 - ratio) + ratio)
            entry["rwg_lindell"] = 1 - ratio
        figures["dimensions"].append(entry)
    return figures


# ---------------------------------------------------------------- Rule B, from the spec


def rule_b(nodes, subtree_n, threshold, eligible):
    """nodes: {id: {"parent": id|None, "viewers": v}}. Suppress n - v < threshold; then,
    children first, while a released node's residual r, v_r (against its maximal released
    descendants) is not (0, 0) and r - v_r < threshold, suppress the frontier node with the
    smallest (n, id) whose own residual is non-empty and passes, else the node itself."""
    children = {node: [] for node in nodes}
    for node, meta in nodes.items():
        if meta["parent"] is not None:
            children[meta["parent"]].append(node)
    viewers = {node: meta["viewers"] for node, meta in nodes.items()}
    released = {node: eligible(node) and subtree_n[node] - viewers[node] >= threshold for node in nodes}

    def frontier(node):
        found, stack = [], list(children[node])
        while stack:
            child = stack.pop()
            if released[child]:
                found.append(child)
            else:
                stack.extend(children[child])
        return found

    def residual(node):
        covered = frontier(node)
        return (subtree_n[node] - sum(subtree_n[c] for c in covered),
                viewers[node] - sum(viewers[c] for c in covered))

    def passes(r, v_r):
        return (r == 0 and v_r == 0) or r - v_r >= threshold

    def post_order(node):
        for child in children[node]:
            yield from post_order(child)
        yield node

    root = next(node for node, meta in nodes.items() if meta["parent"] is None)
    changed = True
    while changed:
        changed = False
        for node in post_order(root):
            while released[node] and not passes(*residual(node)):
                changed = True
                candidates = [f for f in frontier(node) if residual(f)[0] >= 1 and passes(*residual(f))]
                if candidates:
                    smallest = min(candidates, key=lambda f: (subtree_n[f], uuid.UUID(f).bytes))
                    released[smallest] = False
                else:
                    released[node] = False
    return released


def organisation_release():
    """Root (3 direct respondents, one of them hr: viewers 1) over A (6 direct, and A1 of
    4), B (9), C (6) and D (5); k = 5, k_detail = 7. By hand: scores — the root's residual
    of 3 holds a viewer, 2 < 5, so D (smallest n) is merged; then 8 - 1 = 7 passes.
    Detail — C (6) and A1 (4) are below 7; the root's residual is 3 + 6 + 5 = 14, 13 >= 7.
    Detail atoms: A (10), B (9) and the root's residual (14): the ICC's three groups."""
    ids = {name: f"00000000-0000-0000-0000-0000000000{code}" for name, code in
           [("root", "a0"), ("a", "a1"), ("a1", "a2"), ("b", "b1"), ("c", "c1"), ("d", "d1")]}
    nodes = {
        ids["root"]: {"parent": None, "viewers": 1},
        ids["a"]: {"parent": ids["root"], "viewers": 0},
        ids["a1"]: {"parent": ids["a"], "viewers": 0},
        ids["b"]: {"parent": ids["root"], "viewers": 0},
        ids["c"]: {"parent": ids["root"], "viewers": 0},
        ids["d"]: {"parent": ids["root"], "viewers": 0},
    }
    items = [
        item("ps-1", "psychological_safety"),
        item("ps-2", "psychological_safety", reverse_keyed=True),
        item("trust-1", "trust"),
        item("trust-2", "trust"),
    ]
    # Answers as given (before recoding); teams differ in level so that the ICC is positive.
    direct = {
        "root": [[5, 3, 6, 5], [4, 4, 4, 5], [6, 2, 5, 6]],
        "a": [[7, 1, 6, 7], [6, 2, 6, 6], [7, 2, 7, 6], [5, 3, 6, 5], [6, 1, 5, 7], [7, 2, 6, 6]],
        "a1": [[6, 2, 7, 7], [5, 2, 6, 6], [7, 1, 7, 7], [6, 3, 5, 6]],
        "b": [[4, 4, 4, 5], [5, 3, 4, 4], [3, 5, 3, 4], [4, 4, 5, 5], [4, 3, 4, 3],
              [5, 4, 5, 4], [3, 4, 4, 4], [4, 5, 3, 4], [5, 3, 4, 5]],
        "c": [[2, 6, 3, 2], [3, 5, 2, 3], [2, 7, 2, 2], [3, 6, 3, 3], [1, 6, 2, 3], [2, 5, 3, 2]],
        "d": [[3, 4, 4, 3], [4, 3, 3, 4], [2, 5, 3, 3], [3, 4, 4, 4], [4, 4, 3, 3]],
    }
    responses = [{"node": ids[name], "answers": answers} for name, rows in direct.items() for answers in rows]

    children = {node: [c for c, meta in nodes.items() if meta["parent"] == node] for node in nodes}

    def subtree(node):
        return [node] + [d for c in children[node] for d in subtree(c)]

    subtree_n = {node: sum(1 for r in responses if r["node"] in subtree(node)) for node in nodes}
    scores = rule_b(nodes, subtree_n, 5, lambda node: True)
    detail = rule_b(nodes, subtree_n, 7, lambda node: scores[node])
    assert [name for name in ids if scores[ids[name]]] == ["root", "a", "b", "c"]
    assert [name for name in ids if detail[ids[name]]] == ["root", "a", "b"]

    def matrix_of(node_list):
        rows = [r["answers"] for r in responses if r["node"] in node_list]
        return recoded_matrix(items, rows)

    everyone = matrix_of(list(nodes))
    # Detail atoms: each respondent's nearest detail-released ancestor-or-self.
    def atom_of(node):
        while not detail[node]:
            node = nodes[node]["parent"]
        return node

    atom_ids = sorted({atom_of(r["node"]) for r in responses})
    org = {"respondents": everyone.shape[0], "atoms": len(atom_ids), "items": [], "dimensions": []}
    for column, meta in enumerate(items):
        org["items"].append({"item": meta["id"], "sd": float(np.std(everyone[:, column], ddof=1))})
    for dimension, columns in dimensions_of(items):
        sub = everyone[:, columns]
        j = len(columns)
        alpha = j / (j - 1) * (1 - sum(np.var(sub[:, c], ddof=1) for c in range(j)) / np.var(sub.sum(axis=1), ddof=1))
        groups = [matrix_of([n for n in nodes if atom_of(n) == atom])[:, columns].mean(axis=1) for atom in atom_ids]
        f_statistic = stats.f_oneway(*groups).statistic
        mean_group_size = everyone.shape[0] / len(groups)
        org["dimensions"].append({
            "dimension": dimension,
            "sd": float(np.std(sub.mean(axis=1), ddof=1)),
            "cronbach_alpha": float(alpha),
            # With F = MSB/MSW: ICC(1) = (F - 1)/(F + k - 1), ICC(2) = 1 - 1/F.
            "icc1": float((f_statistic - 1) / (f_statistic + mean_group_size - 1)),
            "icc2": float(1 - 1 / f_statistic),
        })

    releases = {}
    for node in nodes:
        if not scores[node]:
            releases[node] = None
            continue
        spread = ("team", None) if detail[node] else ("org_level", org)
        releases[node] = team_figures(items, matrix_of(subtree(node)), spread)
    return {
        "name": "organisation_release",
        "policy": {"k": 5, "k_detail": 7},
        "items": items,
        "nodes": [{"id": node, "parent": meta["parent"], "viewers": meta["viewers"]} for node, meta in nodes.items()],
        "responses": responses,
        "expected": {"releases": releases, "org": org},
    }


# ---------------------------------------------------------------- datasets


def team_datasets():
    seven_point = [
        item("ps-1", "psychological_safety"),
        item("ps-2", "psychological_safety", reverse_keyed=True),
        item("ps-3", "psychological_safety"),
        item("trust-1", "trust"),
        item("trust-2", "trust", reverse_keyed=True),
    ]
    return [
        {
            # By hand: ps-2 recoded is 7 6 7 5 6 (mean 6.2); ps-1 mean 27/5 = 5.4.
            "name": "five_person_team_with_reverse_keyed_items",
            "items": seven_point,
            "responses": [[6, 1, 5, 7, 2], [5, 2, 6, 6, 1], [7, 1, 6, 7, 3], [4, 3, 4, 5, 2], [5, 2, 7, 6, 4]],
        },
        {
            # By hand: ps-1 mean 4, sd 1; trust-2 recoded 6 4 2, mean 4, sd 2.
            "name": "three_person_team",
            "items": seven_point,
            "responses": [[3, 4, 4, 5, 2], [4, 3, 5, 6, 4], [5, 5, 3, 4, 6]],
        },
        {
            # Half strongly disagree, half strongly agree: item variance 10 > sigma^2 = 4,
            # so rwg is capped at 0 and r*wg = 1 - 10/4 = -1.5.
            "name": "polarised_team",
            "items": [item("ps-1", "psychological_safety"), item("ps-2", "psychological_safety")],
            "responses": [[1, 1]] * 5 + [[7, 7]] * 5,
        },
        {
            # By hand: promoters (9-10) 5, detractors (0-6) 4, n 12: eNPS 100/12 = 8.33.
            "name": "enps_team",
            "items": [item("recommend", "recommendation", scale=(0, 10)), item("wellbeing-1", "wellbeing")],
            "responses": [[10, 6], [9, 5], [9, 7], [8, 4], [7, 6], [7, 5], [6, 3], [5, 4], [3, 2],
                          [10, 7], [0, 1], [9, 6]],
        },
        {
            # 1-5 agreement scale: favourable is 4-5, reverse-keyed is 6 - x.
            "name": "five_point_scale_team",
            "items": [item("clarity-1", "clarity", scale=(1, 5)),
                      item("clarity-2", "clarity", reverse_keyed=True, scale=(1, 5)),
                      item("feedback-1", "feedback", scale=(1, 5))],
            "responses": [[4, 2, 5], [5, 1, 4], [3, 3, 3], [4, 2, 4], [2, 4, 2], [5, 1, 5], [4, 3, 3], [3, 2, 4]],
        },
    ]


def two_round_comparisons():
    items = [item("ps-1", "psychological_safety"), item("ps-2", "psychological_safety"), item("trust-1", "trust")]
    previous = [[3, 4, 5], [4, 4, 4], [3, 3, 5], [4, 5, 4], [2, 3, 5], [3, 4, 4], [4, 3, 6], [3, 3, 5],
                [4, 4, 4], [2, 3, 5], [3, 4, 4], [4, 4, 5]]
    improved = [[5, 6, 5], [6, 5, 4], [5, 5, 5], [6, 6, 4], [4, 5, 6], [5, 6, 4], [6, 5, 5], [5, 5, 4],
                [6, 6, 5], [5, 4, 5], [5, 6, 4]]
    small_team = [[6, 6, 5], [5, 6, 5], [6, 5, 4], [6, 6, 6], [5, 5, 5], [6, 6, 4], [5, 6, 5]]
    cases = []
    for name, current in [("a_clear_improvement", improved), ("a_seven_person_round_gets_no_test", small_team)]:
        changes = []
        for dimension, columns in dimensions_of(items):
            before = recoded_matrix(items, previous)[:, columns].mean(axis=1)
            after = recoded_matrix(items, current)[:, columns].mean(axis=1)
            change = {"dimension": dimension, "difference": float(after.mean() - before.mean())}
            if len(before) >= 8 and len(after) >= 8:
                test = stats.ttest_ind(after, before, equal_var=False)
                a, b = after.var(ddof=1) / len(after), before.var(ddof=1) / len(before)
                change["welch"] = {
                    "t_statistic": float(test.statistic),
                    "degrees_of_freedom": float((a + b) ** 2 / (a ** 2 / (len(after) - 1) + b ** 2 / (len(before) - 1))),
                    "p_value": float(test.pvalue),
                }
                change["significant"] = bool(test.pvalue < 0.05 and abs(change["difference"]) >= 0.5)
            else:
                change["welch"] = None
                change["significant"] = False
            changes.append(change)
        cases.append({"name": name, "items": items, "previous": previous, "current": current, "changes": changes})
    return cases


def trends():
    cases = []
    for name, points in [
        ("six_rounds_rising", [(0, 4.1), (1, 4.3), (2, 4.2), (3, 4.6), (4, 4.8), (5, 4.7)]),
        ("three_rounds_over_time", [(2025.0, 5.2), (2025.5, 5.0), (2026.0, 4.5)]),
    ]:
        x, y = np.array([p[0] for p in points]), np.array([p[1] for p in points])
        fit = stats.linregress(x, y)
        cases.append({
            "name": name,
            "points": [list(p) for p in points],
            "slope": float(fit.slope),
            "intercept": float(fit.intercept),
            "slope_standard_error": float(fit.stderr),
            "t_statistic": float(fit.slope / fit.stderr),
            "degrees_of_freedom": len(points) - 2,
            "p_value": float(fit.pvalue),
        })
    return cases


def quantiles_and_detectable_changes():
    degrees = list(range(1, 31)) + [40, 60, 99, 250, 1000, 9999, 49999]
    return {
        "student_t_975": [[df, float(stats.t.ppf(0.975, df))] for df in degrees],
        "student_t_80": [[df, float(stats.t.ppf(0.80, df))] for df in degrees],
        "minimum_detectable_change": [
            [n, sd, float((stats.t.ppf(0.975, 2 * n - 2) + stats.t.ppf(0.80, 2 * n - 2)) * sd * math.sqrt(2 / n))]
            for n in [2, 5, 8, 10, 25, 100, 5000] for sd in [0.0, 1.0, 1.3]
        ],
    }


def main():
    FIXTURES.mkdir(parents=True, exist_ok=True)
    teams = []
    for dataset in team_datasets():
        matrix = recoded_matrix(dataset["items"], dataset["responses"])
        teams.append({**dataset, "expected": team_figures(dataset["items"], matrix, ("team", None))})
    outputs = {
        "team_statistics.json": teams,
        "organisation_release.json": organisation_release(),
        "round_comparisons.json": two_round_comparisons(),
        "trends.json": trends(),
        "quantiles_and_detectable_changes.json": quantiles_and_detectable_changes(),
    }
    for file_name, content in outputs.items():
        (FIXTURES / file_name).write_text(json.dumps(content, indent=1) + "\n")
        print(f"wrote {FIXTURES / file_name}")


if __name__ == "__main__":
    main()
