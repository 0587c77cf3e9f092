"""Page 7, Dataset audit: the bias statistics of whole test sets, not single images.

For each photo set (the built-in photos, or the cats-vs-dogs ones ``SALIENCY_DATA`` points at)
the report is precomputed in ``dashboard/data/demo_audit/<set>/`` (see
``dashboard/data/build_demo_cache.py``) so the page opens instantly. When there is none, or it
was made with other zoo weights or other photos, the page computes it with a progress bar and
saves it under ``saliency_core.data.cache_dir()`` (``demo_audit/<set>/``), where it survives a
restart.

A user's own test set (a zip of class folders with optional masks, or a folder on the server) is
audited with any model of the session, zoo or uploaded (:mod:`dashboard.common.dataset_upload`);
its results stay in the session. Every number comes from ``saliency_core``.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboard.common.audit_cache import (
    AUDIT_MODELS,
    BUILTIN_SET,
    REPORT_VERSION,
    SET_TITLES,
    computed_dir,
    is_fresh,
    photo_set,
    report_fingerprint,
    save_report,
    stored_reports,
)
from dashboard.common.dataset_upload import (
    LAYOUT,
    LIMITS_TEXT,
    UPLOAD_MB,
    audit_dataset,
    forget_zip,
    frame_key,
    zip_dataset,
)
from dashboard.common.downloads import csv_download
from dashboard.common.locks import explain_locked
from dashboard.common.messages import NO_DATA_MESSAGE, ZOO_HELP, plain_error
from dashboard.common.models import METHOD_LABELS, title, zoo_names, zoo_or_none
from dashboard.common.palette import CLASS_COLOURS
from dashboard.common.photos import data_status
from dashboard.common.session_models import model_choices, preprocess_of
from saliency_core import audit
from saliency_core.audit.report import AUDIT_METHOD, AuditReport, build_report, demo_audit_data
from saliency_core.checks import parse_box
from saliency_core.data.archive import MASKS, ArchiveError
from saliency_core.data.files import shown_name
from saliency_core.data.frame import FRAME
from saliency_core.data.loaders import ImageSet
from saliency_core.data.mask_folders import load_dataset
from saliency_core.data.preprocess import Preprocess

STATISTICS = {
    "share": "share of the top-0.5% salient pixels inside the watermark box",
    "n": "peak saliency n: share of the top-1% pixels inside the box (Pfau et al.)",
    "m": "mean saliency m inside the box (Pfau et al.; unnormalised, compare within a model)",
}


@st.cache_resource
def _computed() -> tuple[threading.Lock, dict[str, Any]]:
    """Reports computed by this server, by fingerprint (shared: every session reuses them)."""
    return threading.Lock(), {}


def compute_demo_report(fingerprint: str, root: Path) -> tuple[AuditReport, dict[str, Any]]:
    """The report of the installed zoo on the photos at ``root``, computed once per server with a
    progress bar, and saved to :func:`computed_dir` so that a restarted server finds it."""
    lock, store = _computed()
    with lock:  # a second session waits for the first one's result instead of recomputing
        if fingerprint not in store:
            bar = st.progress(0.0, text="Preparing the demo test set…")
            models = {n: model for n in AUDIT_MODELS if (model := zoo_or_none(n)) is not None}
            random_model = zoo_or_none("random-labels")
            start = time.monotonic()
            data = demo_audit_data(root)

            def progress(fraction: float, text: str) -> None:
                bar.progress(min(fraction, 1.0), text=f"{text} ({time.monotonic() - start:.0f} s so far; "
                                                       f"{len(data.ids)} images × {len(models)} models)")

            report = build_report(models, data, explain=explain_locked, random_model=random_model,
                                  progress=progress)
            bar.empty()
            meta = {"version": REPORT_VERSION, "fingerprint": fingerprint, "photo_set": photo_set(root),
                    "created": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()) + ", computed on this server",
                    "models": list(models), "method": AUDIT_METHOD, "images": len(data.ids),
                    "random_labels_model": random_model is not None,
                    "seconds": round(time.monotonic() - start, 1)}
            try:
                save_report(report, computed_dir() / photo_set(root), meta)
            except OSError:
                pass  # a read-only cache folder only costs a recomputation after a restart
            store[fingerprint] = (report, meta)
    return store[fingerprint]


# -------------------------------------------------------------------------------------- charts
def class_bars(rows: pd.DataFrame, value: str) -> go.Figure:
    """Bars per model, one colour per true class, with the rows' ci_low/ci_high as error bars."""
    fig = go.Figure()
    for cls, part in rows.groupby("class", sort=True):
        fig.add_bar(x=[title(m) for m in part["model"]], y=part[value], name=str(cls),
                    marker_color=CLASS_COLOURS.get(str(cls), "#888"),
                    error_y={"type": "data", "array": part["ci_high"] - part[value],
                             "arrayminus": part[value] - part["ci_low"], "thickness": 1.5})
    return fig


def global_saliency_chart(table: pd.DataFrame, statistic: str) -> go.Figure:
    fig = class_bars(table[table["statistic"] == statistic], "mean")
    fig.update_layout(barmode="group", height=380, margin={"t": 30, "b": 10},
                      yaxis_title=statistic, legend_title="true class",
                      title="Global saliency on the watermark, per class (95% bootstrap CI)")
    return fig


def response_chart(curve: pd.DataFrame) -> go.Figure:
    fig = px.line(curve.assign(model=curve["model"].map(title)), x="response_rate", y="accuracy",
                  color="model", line_shape="hv",
                  labels={"response_rate": "response rate (share of images answered)",
                          "accuracy": "accuracy on the answered images"})
    fig.update_layout(height=380, margin={"t": 30, "b": 10},
                      title="Refusing images with most saliency on the watermark")
    return fig


def sanity_chart(sanity: pd.DataFrame) -> go.Figure:
    cascade = sanity[sanity["test"] == "cascading"]
    long = cascade.melt(id_vars=["step", "layer"], value_vars=["spearman", "spearman_abs", "ssim", "hog"],
                        var_name="similarity", value_name="value")
    fig = px.line(long, x="layer", y="value", color="similarity", markers=True,
                  labels={"layer": "randomised down to layer (top first)", "value": "similarity to the original maps"})
    fig.update_layout(height=380, margin={"t": 30, "b": 10}, yaxis_range=[-0.2, 1.05],
                      title="Cascading randomisation: the maps should decorrelate")
    return fig


def core_spurious_chart(core: pd.DataFrame) -> go.Figure:
    fig = px.line(core.assign(model=core["model"].map(title)), x="sigma", y="accuracy", color="model",
                  line_dash="region", markers=True,
                  labels={"sigma": "noise σ", "region": "noise on"})
    fig.update_layout(height=400, margin={"t": 30, "b": 10}, yaxis_range=[0, 1.02],
                      title="Accuracy with noise on the watermark box (spurious) vs everywhere else (core)")
    return fig


def flip_chart(flips: pd.DataFrame, transform: str) -> go.Figure:
    fig = class_bars(flips[flips["transform"] == transform], "rate")
    fig.update_layout(barmode="group", height=380, margin={"t": 30, "b": 10}, yaxis_range=[0, 1.02],
                      yaxis_title="share of predictions that flip", legend_title="true class",
                      title=f"Counterfactual: {transform} (95% Wilson CI)")
    return fig


REGION_COLOURS = {"animal": "#2a9d8f", "watermark": "#e76f51", "background": "#b0b0b0"}


def pet_share_chart(pet: pd.DataFrame) -> go.Figure:
    """Stacked bars: the share of each model's saliency on the animal, the mark and the background,
    on the clean and on the watermarked photos (all classes)."""
    rows = pet[(pet["class"] == "all") & pet["statistic"].isin(list(REGION_COLOURS))].copy()
    rows["photos"] = rows["watermarked"].map(lambda m: "watermarked" if str(m) == "True" else "clean")
    rows["model"] = rows["model"].map(title)
    fig = px.bar(rows, x="model", y="mean", color="statistic", facet_col="photos", barmode="stack",
                 color_discrete_map=REGION_COLOURS, category_orders={"statistic": list(REGION_COLOURS),
                                                                     "photos": ["clean", "watermarked"]},
                 labels={"mean": "share of the saliency", "statistic": "region", "model": ""})
    fig.update_layout(height=420, margin={"t": 50, "b": 10}, yaxis_range=[0, 1.0],
                      title="Where the saliency goes: the animal (its mask), the watermark, the background")
    return fig


def pet_share_sentence(pet: pd.DataFrame) -> str:
    """The chart's numbers in words: the most and least animal-focused model on watermarked photos."""
    rows = pet[(pet["class"] == "all") & (pet["watermarked"].astype(str) == "True")]
    table = rows.pivot_table(index="model", columns="statistic", values="mean")
    if table.empty or "animal" not in table:
        return ""
    parts = [f"**{title(m)}** puts {table.loc[m, 'animal']:.0%} of its saliency on the animal, "
             f"{table.loc[m, 'watermark']:.0%} on the watermark and {table.loc[m, 'background']:.0%} on the "
             "background" for m in table.index if m in ("normal", "watermark-100")]
    area = table["animal_area"].mean() if "animal_area" in table else float("nan")
    return ("On the watermarked photos, " + "; ".join(parts)
            + f". The animals cover {area:.0%} of the frame on average: a map that ignored content would "
              "put that much on them.") if parts else ""


def pet_core_chart(core: pd.DataFrame) -> go.Figure:
    fig = px.line(core.assign(model=core["model"].map(title)), x="sigma", y="accuracy", color="model",
                  line_dash="region", markers=True, labels={"sigma": "noise σ", "region": "noise on"})
    fig.update_layout(height=400, margin={"t": 30, "b": 10}, yaxis_range=[0, 1.02],
                      title="Accuracy with noise on the animal (core, its mask) vs the watermark box (spurious)")
    return fig


def pet_core_sentence(core: pd.DataFrame) -> str:
    top = core[core["sigma"] == core["sigma"].max()]
    table = top.pivot_table(index="model", columns="region", values="accuracy")
    parts = [f"**{title(m)}** {table.loc[m, 'core']:.0%} with the animal noised and "
             f"{table.loc[m, 'spurious']:.0%} with the watermark box noised"
             for m in table.index if m in ("normal", "watermark-100") and {"core", "spurious"} <= set(table.columns)]
    return (f"At σ = {top['sigma'].max():g}: " + "; ".join(parts) + ".") if parts else ""


def show_pet_masks(report: AuditReport, meta: dict[str, Any]) -> None:
    """The pet-mask tables: saliency on the animal, and core (animal) vs spurious (mark) noise."""
    pet, core = report.pet_saliency, report.pet_core_spurious
    if pet.empty:
        st.info("The pet masks are not available for this photo set (the cats-vs-dogs photos have none), so "
                "the share of saliency on the animal and the animal-as-core accuracy cannot be measured. "
                "Choose the built-in photos in the sidebar: each comes with its pet mask.",
                icon=":material/pets:")
        return
    st.caption("Each built-in photo comes with a mask of the animal, so the maps can be split into "
               "saliency on the animal, on the watermark and on the background (the share of each "
               "map's total saliency; 95% bootstrap CIs in the table).")
    st.plotly_chart(figure("pet_share", meta, "", lambda: pet_share_chart(pet)), key="audit_pet_share")
    sentence = pet_share_sentence(pet)
    if sentence:
        st.markdown(sentence)
    if not core.empty:
        st.caption("Salient ImageNet with the animal as the core region: Gaussian noise only on the animal "
                   "(its mask, minus the watermark box) or only on the watermark box (spurious). A sound "
                   "model suffers when the animal is noised; a shortcut model when the mark is.")
        st.plotly_chart(figure("pet_core", meta, "", lambda: pet_core_chart(core)), key="audit_pet_core")
        sentence = pet_core_sentence(core)
        if sentence:
            st.markdown(sentence)
    with st.expander("The numbers"):
        st.dataframe(pet.assign(model=pet["model"].map(title)), hide_index=True, width="stretch")
        csv_download("These numbers (CSV)", pet, "audit-animal-vs-background.csv", key="audit_pet_csv")
        if not core.empty:
            csv_download("Core vs spurious on the animal (CSV)", core, "audit-animal-core-vs-spurious.csv",
                         key="audit_pet_core_csv")


# ---------------------------------------------------------------------------------------- report
@st.cache_resource(max_entries=64, show_spinner=False)
def _figure(kind: str, report_id: tuple[Any, ...], option: str, _build: Callable[[], go.Figure]) -> go.Figure:
    return _build()


def figure(kind: str, meta: dict[str, Any], option: str, build: Callable[[], go.Figure]) -> go.Figure:
    """``build()``, once per stored report (its fingerprint and creation time), chart and option:
    plotly takes ~0.1 s per figure. A report without a fingerprint: built."""
    if not meta.get("fingerprint"):
        return build()
    return _figure(kind, (meta.get("photo_set"), meta.get("fingerprint"), meta.get("created")), option, build)


def kept(key: str, default: str) -> str:
    """The last value of the widget ``key`` (Streamlit forgets a widget that a run does not draw,
    as a closed tab's): its default when drawn again."""
    return st.session_state.get(f"_kept_{key}", default)


def keep(key: str, value: Any) -> Any:
    st.session_state[f"_kept_{key}"] = value
    return value


def global_tab(report: AuditReport, meta: dict[str, Any]) -> None:
    """Global saliency over the watermark box, by statistic."""
    statistic = keep("audit_statistic", st.segmented_control(
        "Statistic", list(STATISTICS), default=kept("audit_statistic", "share"), key="audit_statistic"))
    statistic = statistic or "share"
    st.caption(f"On the watermarked test photos: {STATISTICS[statistic]}. The watermark models "
               "put more of their saliency on the mark as the share of watermarked training cats "
               "grows; the normal model (and the colour model) barely look at it.")
    st.plotly_chart(figure("global", meta, statistic, lambda: global_saliency_chart(report.global_saliency, statistic)),
                    key="audit_global")
    csv_download("Global saliency, every statistic (CSV)", report.global_saliency, "audit-global-saliency.csv",
                 key="audit_global_csv")


def failure_tab(report: AuditReport, meta: dict[str, Any]) -> None:
    """Failure prediction: the response-rate curve and AURRAC."""
    st.caption("Sort the watermarked photos by how much saliency falls on the watermark and let the "
               "model answer only those below a threshold. If looking at the watermark predicts "
               "mistakes, accuracy rises as the response rate falls. AURRAC is the area under "
               "the curve (equal to the accuracy when saliency tells nothing).")
    left, right = st.columns([3, 1])
    left.plotly_chart(figure("response", meta, "", lambda: response_chart(report.response_curve)),
                      key="audit_response")
    areas = report.aurrac.assign(model=report.aurrac["model"].map(title))
    right.dataframe(areas, hide_index=True, width="stretch",
                    column_config={"aurrac": st.column_config.NumberColumn("AURRAC", format="%.3f"),
                                   "accuracy": st.column_config.NumberColumn(format="percent")})
    with right:
        csv_download("AURRAC (CSV)", report.aurrac, "audit-aurrac.csv", key="audit_aurrac_csv")
        csv_download("The curves (CSV)", report.response_curve, "audit-response-curves.csv",
                     key="audit_response_csv")


def sanity_tab(report: AuditReport, meta: dict[str, Any]) -> None:
    """Adebayo et al.'s sanity checks."""
    st.caption("Adebayo et al.'s model-randomisation test on the normal model: re-initialise its "
               "layers from the top down. A saliency method that explains the *model* must give "
               "different maps once the weights are random; maps that stay similar only "
               "reflect the image.")
    left, right = st.columns([3, 2])
    left.plotly_chart(figure("sanity", meta, "", lambda: sanity_chart(report.sanity)), key="audit_sanity")
    right.dataframe(report.sanity, hide_index=True, width="stretch")
    with right:
        csv_download("Sanity checks (CSV)", report.sanity, "audit-sanity-checks.csv", key="audit_sanity_csv")
    data_test = report.sanity[report.sanity["test"] == "data"]
    if len(data_test):
        row = data_test.iloc[0]
        st.caption(f"Data randomisation (maps of the normal model vs a model trained on permuted "
                   f"labels): Spearman {row['spearman']:.2f}, |Spearman| {row['spearman_abs']:.2f}, "
                   f"SSIM {row['ssim']:.2f}, HOG {row['hog']:.2f}. Low values are the pass.")


def core_tab(report: AuditReport, meta: dict[str, Any]) -> None:
    """Core vs spurious accuracy (Salient ImageNet)."""
    st.caption("Salient-ImageNet-style test on the explorable's test set (watermarked cats, clean "
               "dogs): Gaussian noise only inside the watermark box (spurious) or only outside "
               "it (core). A shortcut model collapses when the spurious region is noised and "
               "shrugs off noise on the animal; a sound model does the opposite.")
    st.plotly_chart(figure("core", meta, "", lambda: core_spurious_chart(report.core_spurious)), key="audit_core")
    csv_download("Core vs spurious (CSV)", report.core_spurious, "audit-core-vs-spurious.csv",
                 key="audit_core_csv")


def flips_tab(report: AuditReport, meta: dict[str, Any]) -> None:
    """Counterfactual flips per transform."""
    flips = report.counterfactual
    transform = keep("audit_transform", st.segmented_control(
        "Transform", sorted(flips["transform"].unique()), default=kept("audit_transform", "greyscale"),
        key="audit_transform")) or "greyscale"
    st.caption("Change one thing about every clean test photo and count how often the prediction "
               "flips. Saliency maps show *where* a model looks, not *what* it sees there: the "
               "**colour model**'s maps put nothing on the watermark or the bars (see *Global "
               "saliency*), yet greyscale and a hue shift flip many of its predictions. Read it "
               "against the normal model, which sees some colour too; each shortcut model's own "
               "artefact (watermark, cage bars) flips nearly all of its predictions.")
    st.plotly_chart(figure("flips", meta, transform, lambda: flip_chart(flips, transform)), key="audit_flips")
    percent = st.column_config.NumberColumn(format="percent")
    st.dataframe(flips[flips["transform"] == transform].assign(model=lambda d: d["model"].map(title)),
                 hide_index=True, width="stretch",
                 column_order=["model", "class", "n", "flips", "rate", "ci_low", "ci_high"],
                 column_config={"rate": percent, "ci_low": percent, "ci_high": percent})
    csv_download("Flips, every transform (CSV)", flips, "audit-counterfactual-flips.csv", key="audit_flips_csv")


def table_tab(report: AuditReport, meta: dict[str, Any]) -> None:
    """The summary and the audit table."""
    st.caption(f"One row per image × model ({METHOD_LABELS.get(meta.get('method', AUDIT_METHOD), AUDIT_METHOD)}); "
               "the summary groups them by model, true class and watermark.")
    summary = audit.summarize(report.audit, by=("model", "truth", "watermarked"))
    st.dataframe(summary, hide_index=True, width="stretch")
    csv_download("Summary (CSV)", summary, "demo_audit_summary.csv", key="audit_summary_csv")
    st.download_button("Audit table (CSV)", lambda: report.audit.to_csv(index=False).encode(),
                       "demo_audit.csv", "text/csv", key="audit_download", icon=":material/download:")


REPORT_TABS = ("Global saliency", "Animal vs background", "Failure prediction", "Sanity checks",
               "Core vs spurious", "Counterfactual flips", "Table")
REPORT_VIEWS = (global_tab, show_pet_masks, failure_tab, sanity_tab, core_tab, flips_tab, table_tab)


def show_report(report: AuditReport, meta: dict[str, Any]) -> None:
    """The report's views, one tab each. Only the open tab runs (``on_change="rerun"``): the
    browser draws one tab's charts, not seven (drawing them all took ~1 s of every visit)."""
    tabs = st.tabs(list(REPORT_TABS), key="audit_tab", on_change="rerun")
    for tab, view in zip(tabs, REPORT_VIEWS, strict=True):
        if tab.open:
            with tab:
                view(report, meta)


def demo_section() -> None:
    """The stored report of the photo set in use when it matches the installed zoo and the photos;
    otherwise compute it (progress bar) and save it.

    A stale report (other weights or photos) is still shown, with a warning and a button, rather
    than recomputed unasked: on a small CPU the full audit takes minutes.
    """
    status = data_status()
    root = status.path if status.ok else None
    name = BUILTIN_SET if status.builtin else photo_set(root)
    st.caption(f"Photo set: {SET_TITLES[name]}.")
    stored = stored_reports(root) if root is not None or not status.builtin else []
    if root is None and not stored:
        st.info(NO_DATA_MESSAGE, icon=":material/photo_library:")
        return
    fresh = [(where, loaded) for where, loaded in stored if root is not None and is_fresh(loaded[1], root)]
    zoo_ready = zoo_or_none("normal") is not None
    if fresh:
        where, (report, meta) = fresh[0]
        made = "Precomputed report" if where == "committed" else "Report computed earlier on this server"
        st.caption(f"{made} ({meta.get('created', '?')}; {meta.get('images', '?')} images; models: "
                   f"{', '.join(title(m) for m in meta.get('models', []))}).")
        show_report(report, meta)
        return
    available = [n for n in (*AUDIT_MODELS, "random-labels") if n in zoo_names()]
    fingerprint = report_fingerprint(available, root) if root is not None else ""
    _, store = _computed()
    if fingerprint in store and zoo_ready:
        report, meta = store[fingerprint]
        st.caption("Report computed on this server for the installed zoo.")
        show_report(report, meta)
        return
    if stored and (not zoo_ready or root is None):
        report, meta = stored[0][1]
        why = "the zoo is not loadable here" if not zoo_ready else "the photos are not available here"
        st.caption(f"Precomputed report ({meta.get('created', '?')}; models: "
                   f"{', '.join(title(m) for m in meta.get('models', []))}; {why}, so it could not be "
                   "checked against the weights and photos).")
        show_report(report, meta)
        return
    if not zoo_ready:
        st.info(ZOO_HELP, icon=":material/model_training:")
        return
    assert root is not None
    if stored:
        report, meta = stored[0][1]
        st.warning(f"This stored report ({meta.get('created', '?')}) was made with other zoo weights, other "
                   "photos or an older version of the report than the ones installed. Recompute it (a few "
                   "minutes, once: it is saved for later visits and restarts), or rebuild the committed one "
                   "with `dashboard/data/build_demo_cache.py`.", icon=":material/update:")
        if not st.button("Recompute the report", key="audit_recompute", icon=":material/refresh:"):
            show_report(report, meta)
            return
    else:
        st.info("No stored report for this photo set: computing it now (once; it is saved for later).")
    report, meta = compute_demo_report(fingerprint, root)
    show_report(report, meta)


# ---------------------------------------------------------------------------- your own dataset
SOURCES = ["Built-in demo", "Upload a zip", "A folder on this server"]
RESULT_KEY = "_audit_dataset_result"  # session state: the last audit of a brought dataset


@dataclass(frozen=True)
class DatasetResult:
    """A brought dataset's audit, kept in this session only (``st.session_state``)."""

    source: str  # which dataset: the zip's digest or the folder's path
    where: str  # its name, for the page
    table: pd.DataFrame
    method: str
    has_region: bool


def _three(value: Any) -> str:
    """A number for a sentence: 3 significant digits (``0.123``, ``1.23e-05``)."""
    return f"{value:.3g}" if isinstance(value, (int, float)) and value == value else "–"


def rounded_columns(table: pd.DataFrame) -> dict[str, Any]:
    """Column settings that show every float column with 3 decimals (never 17 digits of noise)."""
    return {column: st.column_config.NumberColumn(format="%.3f")
            for column in table.columns if pd.api.types.is_float_dtype(table[column])}


def share_chart(table: pd.DataFrame, by: str) -> go.Figure:
    """Box plots of the share of saliency in the region, per class (``by``: truth or prediction)."""
    rows = table.dropna(subset=["share"])
    word = {"truth": "true class", "prediction": "predicted class"}[by]
    fig = px.box(rows, x=by, y="share", color="model_title", points="all",
                 category_orders={by: sorted(rows[by].unique())},
                 labels={by: word, "share": "share of the top-0.5% saliency in the region", "model_title": "model"})
    fig.update_layout(height=400, margin={"t": 40, "b": 10}, yaxis_range=[-0.02, 1.02], boxmode="group",
                      title=f"Where the saliency goes, per {word}")
    return fig


def accuracy_chart(summary: pd.DataFrame) -> go.Figure:
    """Accuracy per true class and model, with Wilson 95% intervals."""
    fig = go.Figure()
    for model, part in summary.groupby("model_title", sort=False):
        fig.add_bar(x=part["truth"], y=part["accuracy"], name=str(model),
                    error_y={"type": "data", "array": part["accuracy_ci_high"] - part["accuracy"],
                             "arrayminus": part["accuracy"] - part["accuracy_ci_low"], "thickness": 1.5})
    fig.update_layout(barmode="group", height=380, margin={"t": 40, "b": 10}, yaxis_range=[0, 1.02],
                      xaxis_title="true class", yaxis_title="accuracy", legend_title="model",
                      title="Accuracy per class (95% Wilson CI)")
    return fig


def flip_rates_chart(summary: pd.DataFrame) -> go.Figure:
    """How often each transform flips the prediction, per true class and model."""
    columns = [c for c in summary.columns if c.startswith("flip_")]
    long = summary.melt(id_vars=["model_title", "truth"], value_vars=columns, var_name="transform", value_name="rate")
    long["transform"] = long["transform"].str.removeprefix("flip_")
    fig = px.bar(long, x="truth", y="rate", color="model_title", facet_col="transform", barmode="group",
                 labels={"truth": "true class", "rate": "share of predictions that flip", "model_title": "model"})
    fig.update_layout(height=380, margin={"t": 60, "b": 10}, yaxis_range=[0, 1.02],
                      title="Counterfactual flips: change one thing, count changed predictions")
    return fig


def show_dataset_result(result: DatasetResult) -> None:
    """Charts, the summary and the table of a brought dataset's audit, with downloads."""
    table = result.table
    models = list(dict.fromkeys(table["model_title"]))
    summary = audit.summarize(table, by=("model_title", "truth"))
    st.success(f"Audited {table['id'].nunique()} images with {len(models)} model(s) "
               f"({', '.join(models)}; {METHOD_LABELS.get(result.method, result.method)}) from {result.where}.")
    tabs = st.tabs(["Saliency in the region", "Accuracy", "Counterfactual flips", "Table"])
    with tabs[0]:
        if result.has_region and table["share"].notna().any():
            st.caption("The share of each image's top-0.5% salient pixels that fall inside its region (mask or "
                       "box): one point per image. A model that looks at the region puts most of it there.")
            st.plotly_chart(share_chart(table, "truth"), key="audit_ds_share_truth")
            st.plotly_chart(share_chart(table, "prediction"), key="audit_ds_share_prediction")
        else:
            st.info(f"No region to measure: add masks (`{MASKS}/<class>/<name>.png`) to the zip, or give a suspect "
                    "region, to see where the saliency goes.", icon=":material/crop_free:")
    with tabs[1]:
        st.plotly_chart(accuracy_chart(summary), key="audit_ds_accuracy")
        worst = summary.loc[summary["accuracy"].idxmin()] if len(summary) else None
        if worst is not None:
            st.caption(f"Lowest: {worst['model_title']} on {worst['truth']}, accuracy {_three(worst['accuracy'])} "
                       f"({int(worst['n'])} images).")
    with tabs[2]:
        st.caption("Greyscale and a 180° hue shift of every image: how often the prediction changes. A model "
                   "that relies on colour flips often, whatever its saliency maps show.")
        st.plotly_chart(flip_rates_chart(summary), key="audit_ds_flips")
    with tabs[3]:
        shown = summary.rename(columns={"model_title": "model", "truth": "class"})
        st.dataframe(shown, hide_index=True, width="stretch", column_config=rounded_columns(shown))
        with st.expander("One row per image and model"):
            st.dataframe(table, hide_index=True, width="stretch", column_config=rounded_columns(table))
    left, right = st.columns(2)
    left.download_button("Audit table (CSV)", table.to_csv(index=False, float_format="%.6g").encode(), "audit.csv",
                         "text/csv", key="audit_folder_download", icon=":material/download:")
    right.download_button("Audit table (Parquet)", parquet_bytes(table), "audit.parquet",
                          "application/vnd.apache.parquet", key="audit_parquet_download", icon=":material/download:")


def parquet_bytes(table: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    return buffer.getvalue()


def dataset_source(source: str) -> tuple[Path, str, str] | None:
    """The dataset's folder, its identity and its name for the page (None: nothing to audit yet)."""
    if source == "Upload a zip":
        st.markdown(f"**Layout.** {LAYOUT}")
        st.caption(LIMITS_TEXT)
        upload = st.file_uploader("Your dataset (.zip)", type=["zip"], key="audit_zip", max_upload_size=UPLOAD_MB)
        if upload is None:
            forget_zip()
            return None
        try:
            dataset = zip_dataset(upload.name, upload.getvalue())
        except ArchiveError as error:
            st.error(f"`{upload.name.replace('`', chr(39))}` cannot be audited: {plain_error(error)}")
            return None
        found = dataset.extracted
        classes = ", ".join(f"{name} ({n})" for name, n in found.images.items())
        skipped = f"; {len(found.skipped)} other file(s) skipped" if found.skipped else ""
        st.caption(f"{found.count} images in {len(found.images)} classes: {classes}; {found.masks} mask(s){skipped}.")
        return dataset.root, dataset.digest, f"`{upload.name.replace('`', chr(39))}`"
    path = st.text_input("Folder on this server", key="audit_folder",
                         placeholder="/data/my-test-set (one subfolder per class)")
    st.caption(f"Class folders as in a zip (with `{MASKS}/` for masks), a folder with a MANIFEST.csv, or the "
               "Oxford-IIIT Pet layout.")
    return (Path(path).expanduser(), f"folder:{path}", f"`{path.replace('`', chr(39))}`") if path else None


def load_images(root: Path, preprocess: Preprocess) -> ImageSet | None:
    """The photos at ``root`` in the model's frame, the skipped files named (None: none readable)."""
    try:
        with st.spinner("Reading the images…"):
            images = load_dataset(root, preprocess)
    except Exception as error:  # noqa: BLE001 - an unreadable folder is bad input
        st.error(f"Could not read images from `{root}`: {plain_error(error)}")
        return None
    if images.skipped or images.problems:  # corrupt files and masks: say which, never drop them silently
        shown = ", ".join(f"`{shown_name(name).replace('`', chr(39))}`" for name in images.skipped[:10])
        more = f" and {len(images.skipped) - 10} more" if len(images.skipped) > 10 else ""
        masks = len(images.problems) - len(images.skipped)
        st.warning(f"Skipped {len(images.skipped)} unreadable or corrupt image(s){': ' if shown else ''}{shown}{more}"
                   + (f"; {masks} mask(s) not used" if masks else "") + ".", icon=":material/warning:")
        with st.expander(f"Why each was skipped ({len(images.problems)})"):
            st.code("\n".join(images.problems), language=None)
    if len(images) == 0:
        st.error(f"`{root}` holds no readable images, so there is nothing to audit.")
        return None
    return images


def bring_section(source: str) -> None:
    """Audit the user's dataset (a zip, or a folder on the server) with any model of the session."""
    found = dataset_source(source)
    choices = {choice.key: choice for choice in model_choices()}
    if not choices:
        st.info(ZOO_HELP, icon=":material/model_training:")
        return
    picked = st.multiselect("Models", list(choices),
                            default=[n for n in ("normal", "watermark-100") if n in choices],
                            format_func=lambda key: choices[key].title, key="audit_folder_models",
                            help="The zoo models, and the model you uploaded on the Your-model page.")
    method = st.selectbox("Saliency method", list(METHOD_LABELS)[:-1], index=1,
                          format_func=METHOD_LABELS.__getitem__, key="audit_folder_method")
    box_text = st.text_input(f"Suspect region x0,y0,x1,y1 in the {FRAME}×{FRAME} frame (optional; replaces the masks, "
                             "scaled to each model's input)", key="audit_folder_box")
    clicked = st.button("Run the audit", type="primary", key="audit_folder_run", disabled=not (found and picked))
    held = st.session_state.get(RESULT_KEY)
    if not clicked:
        if found is not None and held is not None and held.source == found[1]:
            show_dataset_result(held)
        return
    assert found is not None
    root, identity, where = found
    if not root.is_dir():
        st.error(f"`{root}` is not a folder on this server.")
        return
    box = None
    if box_text.strip():
        try:
            box = parse_box(box_text.strip(), width=FRAME, height=FRAME, integers=False)
        except ValueError:
            st.error(f"The region `{box_text.strip()[:80].replace('`', '')}` is not usable: it must be four numbers "
                     f"x0,y0,x1,y1 inside the {FRAME}×{FRAME} frame (0 ≤ x0 < x1 ≤ {FRAME}, "
                     f"0 ≤ y0 < y1 ≤ {FRAME}).")
            return
    chosen = [choices[key] for key in picked]
    try:
        frames = {frame_key(preprocess_of(choice)): preprocess_of(choice) for choice in chosen}
    except ValueError as error:  # an upload that is no longer loaded
        st.error(plain_error(error))
        return
    image_sets: dict[tuple[int, str], ImageSet] = {}
    for key, preprocess in frames.items():
        images = load_images(root, preprocess)
        if images is None:
            return
        image_sets[key] = images
    bar = st.progress(0.0, text="Auditing…")
    start = time.monotonic()

    def progress(done: int, total: int, model: str) -> None:
        bar.progress(min(done / max(total, 1), 1.0),
                     text=f"Auditing with {model}: {done} of {total} images × models "
                          f"({time.monotonic() - start:.0f} s so far)…")

    try:
        table = audit_dataset(image_sets, chosen, method, box, progress)
    except Exception as error:  # noqa: BLE001 - bad input (classes, images, a model's time limit) is a message
        bar.empty()
        st.error(f"The audit of {where} failed: {plain_error(error)}")
        return
    bar.empty()
    has_region = box is not None or any(images.masks is not None for images in image_sets.values())
    result = DatasetResult(identity, where, table, method, has_region)
    st.session_state[RESULT_KEY] = result
    show_dataset_result(result)


st.title("Dataset audit")
st.markdown(
    "Single maps can mislead; statistics over a whole test set are harder to fool. This page runs "
    "the audit pipeline (`saliency_core.audit`) over a test set and shows where the models' saliency "
    "goes, whether it predicts their mistakes, whether the maps pass a sanity check, and the "
    "counterfactual tests that catch what maps miss. Bring your own test set too: a zip of class "
    "folders (with masks of the region to measure, if you have them) or a folder on this server, "
    "audited with the zoo models or the model you uploaded."
)
source = st.radio("Test set", SOURCES, horizontal=True, key="audit_source")
if source == "Built-in demo":
    demo_section()
else:
    bring_section(source)
