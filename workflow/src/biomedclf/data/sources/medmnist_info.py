"""Class names of the 2D MedMNIST v2 sets, by label index, from the published label tables.

The names are the sets' label texts (medmnist ``INFO[...]["label"]``) in lower_snake_case,
shortened where the text is a sentence: bloodmnist's "immature granulocytes(myelocytes,
metamyelocytes and promyelocytes)" is ``immature_granulocytes``, breastmnist's "normal, benign"
is ``normal_or_benign``, and retinamnist's grades "0".."4" are ``grade_0``..``grade_4``
(ordered: set ``data.ordinal: true``). A file is matched by the start of its stem
(``pathmnist_64.npz`` is pathmnist). chestmnist is multi-label (:data:`MULTI_LABEL_NAMES`,
read with ``data.task: multilabel``).
"""

from __future__ import annotations

_ORGANS = [
    "bladder",
    "femur_left",
    "femur_right",
    "heart",
    "kidney_left",
    "kidney_right",
    "liver",
    "lung_left",
    "lung_right",
    "pancreas",
    "spleen",
]

#: Class names per label index (file stem prefix -> names).
MEDMNIST_CLASS_NAMES: dict[str, list[str]] = {
    "pathmnist": [
        "adipose",
        "background",
        "debris",
        "lymphocytes",
        "mucus",
        "smooth_muscle",
        "normal_colon_mucosa",
        "cancer_associated_stroma",
        "colorectal_adenocarcinoma_epithelium",
    ],
    "dermamnist": [
        "actinic_keratoses_and_intraepithelial_carcinoma",
        "basal_cell_carcinoma",
        "benign_keratosis_like_lesions",
        "dermatofibroma",
        "melanoma",
        "melanocytic_nevi",
        "vascular_lesions",
    ],
    "octmnist": ["choroidal_neovascularization", "diabetic_macular_edema", "drusen", "normal"],
    "pneumoniamnist": ["normal", "pneumonia"],
    "retinamnist": ["grade_0", "grade_1", "grade_2", "grade_3", "grade_4"],
    "breastmnist": ["malignant", "normal_or_benign"],
    "bloodmnist": [
        "basophil",
        "eosinophil",
        "erythroblast",
        "immature_granulocytes",
        "lymphocyte",
        "monocyte",
        "neutrophil",
        "platelet",
    ],
    "tissuemnist": [
        "collecting_duct_connecting_tubule",
        "distal_convoluted_tubule",
        "glomerular_endothelial_cells",
        "interstitial_endothelial_cells",
        "leukocytes",
        "podocytes",
        "proximal_tubule_segments",
        "thick_ascending_limb",
    ],
    "organamnist": _ORGANS,
    "organcmnist": _ORGANS,
    "organsmnist": _ORGANS,
}

#: The labels of the multi-label sets, in column order (MedMNIST v2's INFO).
MULTI_LABEL_NAMES = {
    "chestmnist": [
        "atelectasis",
        "cardiomegaly",
        "effusion",
        "infiltration",
        "mass",
        "nodule",
        "pneumonia",
        "pneumothorax",
        "consolidation",
        "edema",
        "emphysema",
        "fibrosis",
        "pleural",
        "hernia",
    ],
}
#: Sets whose labels are several per image (read with data.task: multilabel).
MULTI_LABEL_SETS = tuple(MULTI_LABEL_NAMES)


def set_of(stem: str) -> str | None:
    """The MedMNIST set a file stem belongs to (``pathmnist_64`` -> ``pathmnist``), or None."""
    stem = stem.lower()
    known = [*MEDMNIST_CLASS_NAMES, *MULTI_LABEL_SETS]
    return next((k for k in sorted(known, key=len, reverse=True) if stem.startswith(k)), None)
