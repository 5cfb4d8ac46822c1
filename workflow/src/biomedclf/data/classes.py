"""The classes of a study: which ones, in which order, and which is positive.

One set of rules, used both by :func:`source_classes` (cheap: folder names, a manifest's
label column, an ``.npz``'s label arrays, or the synthetic generator's names; no image is
opened and torch is not imported, so the workflow can call it whenever it plans a run) and by
the prepare step (:func:`plan_for_index`), so the two cannot disagree:

* the classes found: sorted names for folders and manifests (the synthetic set is a folder),
  label index order for a MedMNIST ``.npz``;
* ``data.classes`` (a list) fixes the order or takes a subset; images of the other classes
  are rejected (:func:`select_classes`) with a reason naming their class. Naming a class that
  is not in the data is an error;
* two classes: the positive class (``data.positive_class``, default the second in that
  order) gets label 1, so ``class_names`` is ``[negative, positive]``. More than two: labels
  follow the order and ``data.positive_class`` is an error;
* ``data.ordinal`` marks ordered grades; it changes no label, only what is recorded;
* multi-label (``data.task: multilabel``): the label names, as ``data.classes`` lists them
  (else every finding found, sorted; the synthetic set's findings and its noise label).

Label ``k`` is ``class_names[k]`` everywhere (cache, manifest, summary).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

from .sources import SourceIndex, listed_classes

log = logging.getLogger(__name__)

#: The rejected.csv reason (before the colon) of an image whose class is not in data.classes.
NOT_SELECTED = "class not selected"


@dataclass(frozen=True)
class ClassPlan:
    """The classes found in the data and the ones used, in label order."""

    found: list[str]  # in the source's own order
    class_names: list[str]  # label k is class_names[k]; two classes: [negative, positive]
    positive: str | None  # two classes only
    ordinal: bool
    notes: list[str]


def _where(data_cfg: dict[str, Any]) -> str:
    """Where the classes were found, for messages."""
    source = data_cfg["source"]
    if source == "synthetic":
        n = data_cfg["synthetic"]["n_classes"]
        return f"the synthetic set (data.synthetic.n_classes: {n})"
    suffix = {"manifest": " (column label)", "medmnist": " (labels)"}.get(str(source), "")
    return f"{data_cfg['path']}{suffix}"


def found_classes(data_cfg: dict[str, Any]) -> list[str]:
    """The classes in the data, in the source's order, found without opening an image.

    ``data.source: synthetic`` (with ``data.synthetic.n_classes``) gives the generator's class
    names in the order prepare will find them in the generated folder.
    """
    if data_cfg["source"] == "synthetic" and data_cfg["task"] == "multilabel":
        from .synthetic_multilabel import multilabel_names

        return multilabel_names(data_cfg["synthetic"]["n_classes"])
    if data_cfg["source"] == "synthetic":
        from .synthetic_lesions import synthetic_class_names

        return sorted(synthetic_class_names(data_cfg["synthetic"]["n_classes"]))
    return listed_classes(data_cfg)


def _chosen(found: list[str], data_cfg: dict[str, Any], where: str) -> list[str]:
    """The classes used, in order: ``data.classes`` (checked against ``found``) or ``found``."""
    chosen = data_cfg["classes"]
    if chosen is None:
        return list(found)
    chosen = [str(c) for c in chosen]  # two or more, each once (the schema checks)
    missing = [c for c in chosen if c not in found]
    if missing:
        raise ValueError(
            f"data.classes: {', '.join(map(repr, missing))} not found in {where}; the classes "
            f"found are {', '.join(found)}. List only classes that are in the data, or leave "
            "data.classes null to use all of them"
        )
    return chosen


def plan_classes(found: list[str], data_cfg: dict[str, Any], where: str | None = None) -> ClassPlan:
    """Order (and subset) the ``found`` classes as the ``data:`` config says; see the module doc.

    Raises ``ValueError`` naming ``data.classes`` or ``data.positive_class`` and the classes.
    """
    where = where or _where(data_cfg)
    order = _chosen(found, data_cfg, where)
    ordinal = bool(data_cfg["ordinal"])
    notes = []
    if ordinal and data_cfg["classes"] is None and data_cfg["source"] != "medmnist":
        notes.append(
            f"data.ordinal is true and data.classes is not set: the grades are in sorted name "
            f"order ({', '.join(order)}); if that is not their order, list them in data.classes"
        )
        log.warning("%s", notes[-1])
    positive = data_cfg["positive_class"]
    if len(order) > 2:
        if positive is not None:
            raise ValueError(
                f"data.positive_class: {positive!r} is set, but {len(order)} classes are used "
                f"({', '.join(order)}, found in {where}); a positive class exists for two "
                "classes only. Remove data.positive_class, or keep two classes with data.classes"
            )
        return ClassPlan(list(found), order, None, ordinal, notes)
    positive = str(positive) if positive is not None else order[1]
    if positive not in order:
        among = (
            f"the classes in data.classes ({', '.join(order)})"
            if data_cfg["classes"] is not None
            else f"the classes found in {where} ({', '.join(found)})"
        )
        raise ValueError(
            f"data.positive_class: {positive!r} is not one of {among}; set it to one of them "
            "or leave it null"
        )
    negative = next(c for c in order if c != positive)
    return ClassPlan(list(found), [negative, positive], positive, ordinal, notes)


def source_classes(data_cfg: dict[str, Any]) -> list[str]:
    """The final, ordered class list of a ``data:`` config (label k is the k-th class).

    Takes a ``data:`` section validated by the schema: the one prepare receives (source
    ``folder``, ``manifest`` or ``medmnist`` with ``path``) or the study's own with source
    ``synthetic`` (``synthetic.n_classes``; nothing is read from disk). Cheap: no image is
    opened, torch is not imported. Raises ``ValueError`` naming the key at fault (``data.path``
    missing, no class folder, a single class; ``data.classes`` naming absent classes;
    ``data.positive_class`` with more than two classes or not among them); a ``data.path`` that
    does not exist raises :class:`~biomedclf.data.sources.SourceNotFound`, a ``ValueError`` too.
    """
    found = found_classes(data_cfg)
    if data_cfg["task"] == "multilabel":  # the labels: data.classes, checked by the source
        return _chosen(found, data_cfg, _where(data_cfg))
    return plan_classes(found, data_cfg).class_names


def plan_for_index(index: SourceIndex, data_cfg: dict[str, Any]) -> ClassPlan:
    """The class plan of an indexed source, by the rules :func:`source_classes` applies.

    The classes the index found must be those the cheap listing finds; anything else is a
    bug and raises ``RuntimeError``.
    """
    found = found_classes(data_cfg)
    if found != index.class_names:  # pragma: no cover - internal invariant
        raise RuntimeError(
            f"class listing disagrees with the index of {index.root}: {found} != "
            f"{index.class_names}; please report this"
        )
    return plan_classes(found, data_cfg)


def select_classes(index: SourceIndex, plan: ClassPlan) -> SourceIndex:
    """The index without the images of classes outside ``plan``; they join its rejections."""
    used = set(plan.class_names)
    dropped = [c for c in index.candidates if c.class_name not in used]
    if not dropped:
        return index
    listed = ", ".join(plan.class_names)
    rejected = [
        (c.path, f"{NOT_SELECTED}: class {c.class_name!r} is not in data.classes ({listed})")
        for c in dropped
    ]
    left_out = sorted({c.class_name for c in dropped}, key=plan.found.index)
    note = (
        f"data.classes: {len(dropped)} image(s) of class(es) {', '.join(left_out)} left out "
        "(listed in rejected.csv)"
    )
    log.info("%s", note)
    return dataclasses.replace(
        index,
        candidates=[c for c in index.candidates if c.class_name in used],
        rejected=[*index.rejected, *rejected],
        notes=[*index.notes, note],
    )
