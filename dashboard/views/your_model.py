"""Page 6, Your model & images: saliency maps and a suspect-region metric for your own files.

Upload images (their content is validated, each bad file gets its own error and the rest still
run), pick zoo models or upload one (TorchScript, ``.pt2`` or safetensors + an architecture name;
``saliency_core.load_model`` never unpickles), type a suspect box in the 128×128 model frame, and
get every chosen method's maps plus the share of the top-0.5% salient pixels inside the box.
Maps download as PNG, the table as CSV. Needs no data directory.

An uploaded model runs in a process of its own with a time limit per forward pass (section 2):
a model stuck in a loop is stopped, the page stays usable, and a Cancel button (or any other
click, which reruns the page) stops a computation in progress.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st
import torch
from streamlit.delta_generator import DeltaGenerator

from dashboard.common.chips import chip_for
from dashboard.common.explanations import Maps, digest_of, zoo_batch_maps
from dashboard.common.messages import ZOO_HELP, plain_error
from dashboard.common.models import CLASSES, METHOD_LABELS, title, zoo_names, zoo_or_none
from dashboard.common.render import draw_box, overlay, png_bytes, to_uint8
from dashboard.common.uploads import IMAGE_TYPES, Upload, unique_names, validate_image
from dashboard.common.user_models import (
    CANCELLED_KEY,
    MODEL_TYPES,
    UserModel,
    WaitCallback,
    architectures,
    cancel_run,
    default_time_limit,
    load_user_model,
    release_user_model,
    run_again,
    run_signature,
    user_maps,
)
from saliency_core.checks import Box, check_box
from saliency_core.data.frame import FRAME
from saliency_core.metrics import top_percent_share
from saliency_core.zoo.model_process import TimeLimitExceeded

PERCENT = 0.5  # the explorable's metric: share of the top-0.5% salient pixels inside the box
DEFAULT_BOX = (0, 104, 64, 128)  # bottom-left corner, around the demo watermark
DEFAULT_METHODS = ["gradient_squared", "vanilla_gradient"]


@dataclass(frozen=True)
class Choice:
    """One model to explain: a zoo name or a user's model (then ``user`` is set)."""

    label: str
    classes: tuple[str, ...]
    zoo: str | None = None
    user: UserModel | None = None

    @property
    def key(self) -> str:
        return self.user.key if self.user is not None else f"zoo:{self.zoo}"

    def maps(self, images: torch.Tensor, method: str, on_wait: WaitCallback | None = None) -> Maps:
        """An uploaded model's maps come from its process (``on_wait`` is called while it computes)."""
        if self.user is not None:
            return user_maps(self.user, images, method, on_wait)
        assert self.zoo is not None
        return zoo_batch_maps(self.zoo, images, method)


def class_names(choice: Choice, outputs: int) -> tuple[str, ...]:
    """The choice's class names, or "class k" when their number does not match the model's outputs."""
    if len(choice.classes) == outputs:
        return choice.classes
    return tuple(f"class {k}" for k in range(outputs))


st.title("Your model & images")
st.markdown(
    "Bring your own photos and, if you like, your own model. Mark the region you suspect a model "
    "of cheating on (a watermark, a logo, a ruler…) and see how much of its saliency lands there."
)

# ------------------------------------------------------------------------------------- 1. images
st.subheader("1. Images")
files = st.file_uploader("Upload images (PNG, JPEG, WebP, …)", type=IMAGE_TYPES,
                         accept_multiple_files=True, key="ym_images",
                         help="Each image is resized (shorter side 128) and centre-cropped to the "
                              "128×128 model frame.")
uploads: list[Upload] = []
names = unique_names([file.name for file in files or []])  # two "img.png" must not share results
if names != [file.name for file in files or []]:
    st.warning("Some files have the same name; the repeats are numbered ("
               + ", ".join(f"**{n}**" for n, f in zip(names, files or []) if n != f.name) + ").",
               icon=":material/content_copy:")
for name, file in zip(names, files or []):
    try:
        uploads.append(validate_image(name, file.getvalue()))
    except ValueError as error:
        st.error(f"**{name}** was skipped: {error}.", icon=":material/broken_image:")
    except Exception as error:  # noqa: BLE001 - one bad file never stops the others
        st.error(f"**{name}** was skipped: it could not be read ({plain_error(error)}).",
                 icon=":material/broken_image:")
if uploads:  # the model frames, small: what the models will actually see
    st.image([to_uint8(u.image) for u in uploads], caption=[u.name for u in uploads], width=128)

# ------------------------------------------------------------------------------------- 2. models
st.subheader("2. Model")
source = st.radio("Which model?", ["Built-in zoo models", "Upload a model"], horizontal=True,
                  key="ym_source")
choices: list[Choice] = []
if source == "Built-in zoo models":
    release_user_model()  # the upload widget is gone, and its file with it
    names = zoo_names()
    if not names:
        st.info(ZOO_HELP, icon=":material/model_training:")
    else:
        default = [n for n in ("normal", "watermark-100") if n in names] or names[:1]
        picked = st.multiselect("Zoo models", names, default=default, key="ym_zoo_models",
                                format_func=title)
        for name in picked:
            if zoo_or_none(name) is None:
                st.warning(f"The zoo model `{name}` could not be loaded. {ZOO_HELP}")
            else:
                choices.append(Choice(title(name), CLASSES, zoo=name))
else:
    model_file = st.file_uploader(
        "Model file: TorchScript (`.pt`/`.ts`), `torch.export` (`.pt2`) or safetensors weights",
        type=MODEL_TYPES, key="ym_model_file",
        help="Pickled checkpoints are never loaded: a file you upload cannot run code here.")
    left, middle, right = st.columns(3)
    architecture = left.selectbox("Architecture (for safetensors weights)", architectures(),
                                  key="ym_architecture")
    class_text = middle.text_input("Class names, in output order", "cat, dog", key="ym_classes")
    classes = tuple(c.strip() for c in class_text.split(",") if c.strip())
    time_limit = right.number_input(
        "Time limit per forward pass (seconds)", min_value=1, max_value=3600,
        value=max(1, min(3600, round(default_time_limit()))), step=10, key="ym_time_limit",
        help="Your model runs in a process of its own. A forward pass that takes longer than this "
             "is stopped (a model stuck in a loop cannot hang the page); raise it for a slow model.")
    if model_file is None:
        release_user_model()
    else:
        data = model_file.getvalue()
        suffix = Path(model_file.name).suffix.lower()
        loading = st.empty()
        shown = [-1]

        def loading_for(seconds: float) -> None:  # also where a click interrupts the loading
            if int(seconds) != shown[0]:
                shown[0] = int(seconds)
                loading.caption(f":material/hourglass_top: Loading **{model_file.name}** in its own process… "
                                f"{int(seconds)} s")

        try:
            user = load_user_model(data, model_file.name, architecture if suffix == ".safetensors" else None,
                                   classes, float(time_limit), on_wait=loading_for)
        except Exception as error:  # noqa: BLE001 - a bad model file is bad input, never a traceback
            st.error(f"**{model_file.name}** could not be loaded as a model: {plain_error(error)}",
                     icon=":material/error:")
        else:
            choices.append(Choice(Path(model_file.name).stem, user.classes, user=user))
        finally:
            loading.empty()

# ------------------------------------------------------------------------------ 3. region, methods
st.subheader("3. Suspect region and methods")
region_col, method_col = st.columns([3, 2])
with region_col:
    use_box = st.checkbox("Measure a suspect region (x0, y0, x1, y1 in the 128×128 frame; x1, y1 "
                          "exclusive)", value=True, key="ym_use_box")
    coords = st.columns(4)
    box_values = [coords[i].number_input(label, 0, FRAME, DEFAULT_BOX[i], step=1, key=f"ym_{label}",
                                         disabled=not use_box)
                  for i, label in enumerate(("x0", "y0", "x1", "y1"))]
    box: Box | None = None
    if use_box:
        try:  # the inputs keep each number inside the frame: only an empty box is left to refuse
            box = check_box(box_values, width=FRAME, height=FRAME)
        except ValueError:
            st.error("The box is empty: x1 must be larger than x0 and y1 larger than y0.")
with method_col:
    methods = st.multiselect("Saliency methods", list(METHOD_LABELS), default=DEFAULT_METHODS,
                             format_func=METHOD_LABELS.__getitem__, key="ym_methods")
    alpha = st.slider("Overlay opacity", 0.0, 1.0, 0.7, 0.05, key="ym_alpha")
if uploads:
    preview = draw_box(to_uint8(uploads[0].image), box)
    region_col.image(preview, caption=f"Preview on {uploads[0].name}", width=256)


# ------------------------------------------------------------------------------------- 4. results
def waiting(bar: DeltaGenerator, fraction: float, text: str) -> WaitCallback:
    """While an uploaded model computes: the seconds so far on the progress bar, once a second.

    Each update is also where Streamlit stops this run when the user clicks something (Cancel or
    any other widget): the exception it raises ends the model's process.
    """
    shown = [-1]

    def update(seconds: float) -> None:
        if int(seconds) != shown[0]:
            shown[0] = int(seconds)
            bar.progress(fraction, text=f"{text} {int(seconds)} s")

    return update


@st.fragment
def results(uploads: list[Upload], choices: list[Choice], methods: list[str],
            box: Box | None, alpha: float) -> None:
    """Maps, metric table and downloads; a download choice reruns only this panel."""
    images = torch.stack([u.image for u in uploads])
    pairs = [(c, m) for c in choices for m in methods]
    bar = st.progress(0.0, text="Computing saliency maps…")
    computed: dict[tuple[str, str], Maps] = {}
    stopped: set[str] = set()  # models stopped at their time limit: their other methods are skipped
    for step, (choice, method) in enumerate(pairs):
        if choice.label in stopped:
            continue
        text = f"{choice.label}: {METHOD_LABELS[method]}…"
        bar.progress(step / len(pairs), text=text)
        try:
            on_wait = waiting(bar, step / len(pairs), text)
            computed[(choice.label, method)] = choice.maps(images, method, on_wait)
        except TimeLimitExceeded as error:
            stopped.add(choice.label)
            skipped = [METHOD_LABELS[m] for m in methods[methods.index(method) + 1:]]
            st.error(f"{METHOD_LABELS[method]} was stopped on **{choice.label}**: {plain_error(error)}"
                     + (f" ({', '.join(skipped)} skipped.)" if skipped else ""), icon=":material/timer_off:")
        except Exception as error:  # noqa: BLE001 - e.g. a user model with the wrong output shape
            st.error(f"{METHOD_LABELS[method]} failed on **{choice.label}**: {plain_error(error)}")
    bar.empty()
    if not computed:
        st.info("No saliency maps could be computed (see the errors above): try another model or method.",
                icon=":material/block:")
        return

    rows = []
    pictures: dict[str, bytes] = {}
    boxes = torch.tensor([box] * len(uploads), dtype=torch.float32) if box else None
    by_label = {c.label: c for c in choices}
    warned: set[str] = set()
    for (label, method), result in computed.items():
        classes = class_names(by_label[label], result.probabilities.shape[1])
        if classes != by_label[label].classes and label not in warned:
            warned.add(label)
            st.warning(f"**{label}** has {len(classes)} outputs but {len(by_label[label].classes)} class "
                       "names were given; showing them as class 0, class 1, …")
        shares = (top_percent_share(torch.from_numpy(result.maps), boxes, percent=PERCENT).tolist()
                  if boxes is not None else [float("nan")] * len(uploads))
        for i, upload in enumerate(uploads):
            k = int(result.probabilities[i].argmax())
            rows.append({
                "image": upload.name, "model": label, "method": method,
                "prediction": classes[k],
                "confidence": float(result.probabilities[i][k]),
                "share_top_0.5%_in_box": shares[i],
            })
    table = pd.DataFrame(rows)

    # download names: the file's stem, or its whole name when two uploads share a stem (a.png, a.jpg)
    stems = [Path(u.name).stem for u in uploads]
    stems = [stem if stems.count(stem) == 1 else u.name.replace(".", "_") for stem, u in zip(stems, uploads)]
    for i, upload in enumerate(uploads):
        st.markdown(f"##### {upload.name}")
        cells = st.columns(min(1 + len(computed), 6))
        cells[0].image(draw_box(to_uint8(upload.image), box, scale=2),
                       caption="input" + (" + box" if box else ""), width="stretch")
        for j, ((label, method), result) in enumerate(computed.items(), start=1):
            picture = overlay(upload.image, result.maps[i], alpha=alpha)
            pictures[f"{stems[i]}__{label}__{method}.png"] = png_bytes(picture)
            share = table[(table.image == upload.name) & (table.model == label)
                          & (table.method == method)]["share_top_0.5%_in_box"].iloc[0]
            with cells[j % len(cells)]:
                st.image(draw_box(picture, box, scale=2),
                         caption=f"{label} · {METHOD_LABELS[method]}", width="stretch")
                classes = class_names(by_label[label], result.probabilities.shape[1])
                st.markdown(chip_for(result.probabilities[i], classes), unsafe_allow_html=True)
                if box:
                    st.caption(f"top-0.5% in box: **{100 * share:.0f}%**")

    st.subheader("Results")
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={
                     "confidence": st.column_config.NumberColumn(format="percent"),
                     "share_top_0.5%_in_box": st.column_config.ProgressColumn(
                         "share of top-0.5% in box", format="percent", min_value=0.0, max_value=1.0),
                 })
    down = st.columns(3)
    down[0].download_button("Results table (CSV)", table.to_csv(index=False).encode(),
                            "saliency_results.csv", "text/csv", icon=":material/download:",
                            key="ym_download_csv")
    if pictures:
        name = down[1].selectbox("Map", list(pictures), key="ym_map_choice", label_visibility="collapsed")
        down[1].download_button("This map (PNG)", pictures[name], name, "image/png",
                                icon=":material/image:", key="ym_download_png")
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as bundle:
            for file_name, data in pictures.items():
                bundle.writestr(file_name, data)
        down[2].download_button("All maps (ZIP of PNGs)", archive.getvalue(), "saliency_maps.zip",
                                "application/zip", icon=":material/folder_zip:", key="ym_download_zip")


st.subheader("4. Maps and results")
if not uploads:
    st.info("Upload one or more images above to see their saliency maps.", icon=":material/upload:")
elif not choices:
    st.info("Choose a zoo model or upload a model above.", icon=":material/model_training:")
elif not methods:
    st.info("Choose at least one saliency method.", icon=":material/tune:")
else:
    signature = run_signature([digest_of(u.image) for u in uploads], [c.key for c in choices], methods)
    uploaded = [c.user for c in choices if c.user is not None]
    if uploaded and st.session_state.get(CANCELLED_KEY) == signature:
        st.info("Stopped. Change the images, models or methods, or run it again.", icon=":material/stop_circle:")
        st.button("Run again", key="ym_run_again", on_click=run_again, icon=":material/replay:")
    else:
        controls = st.empty()
        if uploaded:  # outside the fragment: a click here stops the run at once
            with controls.container():
                st.button("Cancel", key="ym_cancel", on_click=cancel_run, args=(signature,), icon=":material/stop:")
                st.caption(f"Your model runs in its own process, stopped when a forward pass takes more than "
                           f"{uploaded[0].process.timeout:g} s. **Cancel** stops it now; any other change on "
                           "this page stops it too (and starts again with the change).")
        results(uploads, choices, methods, box, alpha)
        controls.empty()
