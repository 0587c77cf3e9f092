"""Page 6, Your model & images: saliency maps and a suspect-region metric for your own files.

Upload images (their content is validated, each bad file gets its own error and the rest still
run), pick zoo models or upload one (TorchScript, ``.pt2`` or safetensors + an architecture name;
``saliency_core.load_model`` never unpickles), choose a suspect region on the first photo (drag or
type a box in its own pixels, the watermark box, or a mask file: ``region_picker``), and get every
chosen method's maps plus the share of the top-0.5% salient pixels inside the region, measured in
the same place of every image's frame (a mask as the mask, not its box). Maps download as PNG, the
table as CSV. Needs no data directory.

An uploaded model runs in a process of its own with a time limit per forward pass (section 2):
a model stuck in a loop is stopped, the page stays usable, and a Cancel button (or any other
click, which reruns the page) stops a computation in progress.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
import torch

from dashboard.common.chips import chip_for
from dashboard.common.explanations import Maps, digest_of, zoo_batch_maps
from dashboard.common.messages import ZOO_HELP, plain_error
from dashboard.common.models import CLASSES, METHOD_LABELS, title, zoo_names, zoo_or_none
from dashboard.common.region_picker import RegionChoice, region_picker
from dashboard.common.render import BOX_COLOUR, draw_box, overlay, png_bytes, to_uint8
from dashboard.common.uploads import IMAGE_TYPES, Upload, unique_names, validate_image
from dashboard.common.session_models import waiting
from dashboard.common.user_models import (
    CANCELLED_KEY,
    MODEL_TYPES,
    UserModel,
    WaitCallback,
    architectures,
    cancel_run,
    current_user_model,
    default_time_limit,
    load_user_model,
    release_user_model,
    run_again,
    run_signature,
    user_maps,
)
from saliency_core.checks import Box
from saliency_core.data.frame import FRAME, MAX_FRAME
from saliency_core.data.image_file import read_image
from saliency_core.data.preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocess, parse_normalize
from saliency_core.metrics import top_percent_share
from saliency_core.render import resize
from saliency_core.render.overlay import blend
from saliency_core.zoo.model_process import TimeLimitExceeded

PERCENT = 0.5  # the explorable's metric: share of the top-0.5% salient pixels inside the region
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

    @property
    def preprocess(self) -> Preprocess:
        """How photos are framed for this model: the zoo's 128-px crop, or the upload's settings."""
        return self.user.preprocess if self.user is not None else Preprocess()

    def frames(self, uploads: list[Upload], photos: dict[str, bytes]) -> torch.Tensor:
        """The images as this model sees them: the 128-px frames for the zoo; framed again from the
        uploaded photos at an uploaded model's input size and resize policy."""
        if (self.preprocess.size, self.preprocess.resize) == (FRAME, "crop"):  # the zoo's frame
            return torch.stack([u.image for u in uploads])
        return torch.stack([self.preprocess.frame(read_image(photos[u.name], name=u.name)) for u in uploads])

    def region(self, region: RegionChoice) -> Box | np.ndarray:
        """The suspect region (chosen on the first photo) in this model's frame: a frame box, or a
        mask's frame mask (bool [size, size]); a ValueError when the model's crop cuts it off."""
        return region.frame_region(self.preprocess)

    def maps(self, images: torch.Tensor, method: str, on_wait: WaitCallback | None = None) -> Maps:
        """An uploaded model's maps come from its process (``on_wait`` is called while it computes)."""
        if self.user is not None:
            return user_maps(self.user, images, method, on_wait)
        assert self.zoo is not None
        return zoo_batch_maps(self.zoo, images, method)


def draw_region(picture: np.ndarray, region: Box | np.ndarray | None) -> np.ndarray:
    """A model's frame (or a map on it) enlarged to about 256 px, hard pixels, with the region in
    that frame's pixels on it: a box outlined, a mask washed in the box colour."""
    scale = max(1, round(2 * FRAME / picture.shape[0]))
    if not isinstance(region, np.ndarray):
        return draw_box(picture, region, scale=scale)
    shown = draw_box(picture, None, scale=scale)
    inside = resize(region.astype(np.uint8), shown.shape[:2], nearest=True) > 0
    return blend(shown, np.where(inside[..., None], np.array(BOX_COLOUR, np.uint8), shown), 0.35)


def region_shares(maps: np.ndarray, region: Box | np.ndarray | None) -> list[float]:
    """Per map [B, S, S]: the share of its top-0.5% pixels in ``region`` (the same box or mask, in
    the maps' frame, for every image); NaN without a region."""
    if region is None:
        return [float("nan")] * len(maps)
    if isinstance(region, np.ndarray):
        where = torch.from_numpy(region)[None].repeat(len(maps), 1, 1)
    else:
        where = torch.tensor([region], dtype=torch.float32).repeat(len(maps), 1)
    return top_percent_share(torch.from_numpy(maps), where, percent=PERCENT).tolist()


def class_names(choice: Choice, outputs: int) -> tuple[str, ...]:
    """The choice's class names, or "class k" when their number does not match the model's outputs."""
    if len(choice.classes) == outputs:
        return choice.classes
    return tuple(f"class {k}" for k in range(outputs))


NORMALISATIONS = {"none": "None", "imagenet": "ImageNet mean and std", "custom": "Custom mean and std"}
RESIZES = {"crop": "Shorter side to the input size, centre crop", "stretch": "Stretch to a square"}
PREDICTION = "the predicted class"  # the class-of-interest choice meaning "each image's prediction"


def _model_file_changed() -> None:
    """The upload widget changed: a removed file removes the session's model (and ends its process)."""
    if st.session_state.get("ym_model_file") is None:
        release_user_model()


def settings_of(user: UserModel) -> dict[str, object]:
    """The page's widget values that load ``user`` as it is (restored after a visit to another page)."""
    p = user.preprocess
    norm = "none" if p.mean is None else "imagenet" if (p.mean, p.std) == (IMAGENET_MEAN, IMAGENET_STD) else "custom"
    values: dict[str, object] = {"ym_size": p.size, "ym_resize": p.resize, "ym_normalize": norm,
                                 "ym_classes": ", ".join(user.classes),
                                 "ym_target": PREDICTION if p.target is None else p.class_name(int(p.target))}
    if norm == "custom":
        values["ym_mean"] = ", ".join(f"{v:g}" for v in p.mean or ())
        values["ym_std"] = ", ".join(f"{v:g}" for v in p.std or ())
    if user.architecture is not None:
        values["ym_architecture"] = user.architecture
    return values


def preprocessing_inputs(classes: tuple[str, ...]) -> Preprocess | None:
    """The uploaded model's preprocessing as the user sets it (None, with an error shown, when a
    field is not valid). Normalisation is applied outside the model, in its process."""
    with st.expander("Preprocessing: input size, resize, normalisation, class of interest",
                     expanded=st.session_state.get("ym_size", FRAME) != FRAME):
        cols = st.columns(3)
        size = cols[0].number_input("Input size (pixels, square)", 1, MAX_FRAME, FRAME, step=1, key="ym_size",
                                    help="What your model takes, e.g. 224 or 299 (the zoo's is 128).")
        resize = cols[1].radio("Resize", list(RESIZES), format_func=RESIZES.__getitem__, key="ym_resize")
        norm = cols[2].radio("Normalisation", list(NORMALISATIONS), format_func=NORMALISATIONS.__getitem__,
                             key="ym_normalize",
                             help="Applied to the [0, 1] pixels before your model: (pixel − mean) / std.")
        mean_std = None
        if norm == "custom":
            c1, c2 = st.columns(2)
            mean = c1.text_input("Mean (R, G, B; pixels in [0, 1])", "0.5, 0.5, 0.5", key="ym_mean")
            std = c2.text_input("Std (R, G, B)", "0.25, 0.25, 0.25", key="ym_std")
            text = f"{mean}/{std}"
        else:
            text = norm
        target = st.selectbox("Class of interest (explained and plotted on the other pages)",
                              [PREDICTION, *classes], key="ym_target",
                              help="For a model with many outputs: the output whose evidence the maps show. "
                                   "The predicted class of each image by default.")
    try:
        mean_std = parse_normalize(text.replace(" ", ""), "normalisation")
        return Preprocess(size=int(size), resize=resize, mean=None if mean_std is None else mean_std[0],
                          std=None if mean_std is None else mean_std[1], classes=classes or None,
                          target=None if target == PREDICTION or target not in classes else target)
    except ValueError as error:
        st.error(f"The preprocessing is not valid: {plain_error(error)}", icon=":material/error:")
        return None


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
photos: dict[str, bytes] = {}  # by unique name: an uploaded model frames them again at its input size
names = unique_names([file.name for file in files or []])  # two "img.png" must not share results
if names != [file.name for file in files or []]:
    st.warning("Some files have the same name; the repeats are numbered ("
               + ", ".join(f"**{n}**" for n, f in zip(names, files or []) if n != f.name) + ").",
               icon=":material/content_copy:")
for name, file in zip(names, files or []):
    try:
        uploads.append(validate_image(name, file.getvalue()))
        photos[name] = file.getvalue()
    except ValueError as error:
        st.error(f"**{name}** was skipped: {error}.", icon=":material/broken_image:")
    except Exception as error:  # noqa: BLE001 - one bad file never stops the others
        st.error(f"**{name}** was skipped: it could not be read ({plain_error(error)}).",
                 icon=":material/broken_image:")
if uploads:  # the model frames, small: what the models will actually see
    st.image([to_uint8(u.image) for u in uploads], caption=[u.name for u in uploads], width=128)

# ------------------------------------------------------------------------------------- 2. models
st.subheader("2. Model")
held = current_user_model()  # a model uploaded earlier in this session (on this page, before a visit elsewhere)
if held is not None:  # the widgets were reset by leaving the page: show the loaded model's settings again
    st.session_state.setdefault("ym_source", "Upload a model")
    for key, value in settings_of(held).items():
        st.session_state.setdefault(key, value)
source = st.radio("Which model?", ["Built-in zoo models", "Upload a model"], horizontal=True,
                  key="ym_source",
                  help="An uploaded model stays loaded for this session (until you remove it): the Occlusion, "
                       "Gradients and Quadrants pages offer it next to the zoo's.")
choices: list[Choice] = []
if source == "Built-in zoo models":
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
    if held is not None:
        st.caption(f"Your model **{held.file_name}** stays loaded for the other pages (choose *Upload a model* "
                   "to change or remove it).")
else:
    model_file = st.file_uploader(
        "Model file: TorchScript (`.pt`/`.ts`), `torch.export` (`.pt2`) or safetensors weights",
        type=MODEL_TYPES, key="ym_model_file", on_change=_model_file_changed,
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
    preprocess = preprocessing_inputs(classes)
    if model_file is not None:
        data, file_name = model_file.getvalue(), model_file.name
    elif held is not None:  # uploaded earlier (the upload widget was reset by a visit to another page)
        data, file_name = held.data, held.file_name
        kept = st.columns([4, 1], vertical_alignment="center")
        kept[0].caption(f":material/check_circle: **{held.file_name}** is loaded (uploaded earlier in this "
                        "session). Upload another file to replace it.")
        kept[1].button("Remove", key="ym_remove_model", on_click=release_user_model, icon=":material/delete:")
    else:
        data, file_name = None, ""
    if data is not None and preprocess is not None:
        suffix = Path(file_name).suffix.lower()
        loading = st.empty()
        shown = [-1]

        def loading_for(seconds: float) -> None:  # also where a click interrupts the loading
            if int(seconds) != shown[0]:
                shown[0] = int(seconds)
                loading.caption(f":material/hourglass_top: Loading **{file_name}** in its own process… "
                                f"{int(seconds)} s")

        try:
            user = load_user_model(data, file_name, architecture if suffix == ".safetensors" else None,
                                   classes, float(time_limit), on_wait=loading_for, preprocess=preprocess)
        except Exception as error:  # noqa: BLE001 - a bad model file is bad input, never a traceback
            st.error(f"**{file_name}** could not be loaded as a model: {plain_error(error)}",
                     icon=":material/error:")
        else:
            choices.append(Choice(Path(file_name).stem, user.classes, user=user))
        finally:
            loading.empty()

# ------------------------------------------------------------------------------ 3. region, methods
st.subheader("3. Suspect region and methods")
region_col, method_col = st.columns([3, 2])
with region_col:
    use_box = st.checkbox("Measure a suspect region", value=True, key="ym_use_box")
    region: RegionChoice | None = None
    if use_box and uploads:
        first = uploads[0].name
        st.caption(f"Drag, type (in **{first}**'s own pixels) or pick the region; every image is measured in "
                   "the same place of its frame.")
        region = region_picker(Preprocess.photo(read_image(photos[first], name=first)), key="ym_region",
                               preprocess=choices[0].preprocess if choices else None)
    elif use_box:
        st.caption("Upload an image to choose the region on it.")
with method_col:
    methods = st.multiselect("Saliency methods", list(METHOD_LABELS), default=DEFAULT_METHODS,
                             format_func=METHOD_LABELS.__getitem__, key="ym_methods")
    alpha = st.slider("Overlay opacity", 0.0, 1.0, 0.7, 0.05, key="ym_alpha")


# ------------------------------------------------------------------------------------- 4. results
@st.fragment
def results(uploads: list[Upload], photos: dict[str, bytes], choices: list[Choice], methods: list[str],
            region: RegionChoice | None, alpha: float) -> None:
    """Maps, metric table and downloads; a download choice reruns only this panel. Each model sees
    (and its maps are shown on) the photos framed for it: an uploaded model at its input size; the
    region (chosen on the first photo) is measured in the same place of every image's frame."""
    frames = {c.label: c.frames(uploads, photos) for c in choices}
    regions: dict[str, Box | np.ndarray | None] = {}  # per model, in its frame: a box or a mask
    for choice in choices:
        try:
            regions[choice.label] = None if region is None else choice.region(region)
        except ValueError as error:
            regions[choice.label] = None
            st.error(f"The region can't be measured for **{choice.label}**: {plain_error(error)}",
                     icon=":material/crop_free:")
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
            computed[(choice.label, method)] = choice.maps(frames[choice.label], method, on_wait)
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
    by_label = {c.label: c for c in choices}
    warned: set[str] = set()
    for (label, method), result in computed.items():
        classes = class_names(by_label[label], result.probabilities.shape[1])
        if classes != by_label[label].classes and label not in warned:
            warned.add(label)
            st.warning(f"**{label}** has {len(classes)} outputs but {len(by_label[label].classes)} class "
                       "names were given; showing them as class 0, class 1, …")
        shares = region_shares(result.maps, regions[label])
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
        first = choices[0].label  # the zoo's frame, or the uploaded model's (the page runs one or the other)
        cells[0].image(draw_region(to_uint8(frames[first][i]), regions[first]),
                       caption="input" + (" + region" if regions[first] is not None else ""), width="stretch")
        for j, ((label, method), result) in enumerate(computed.items(), start=1):
            picture = overlay(frames[label][i], result.maps[i], alpha=alpha)
            pictures[f"{stems[i]}__{label}__{method}.png"] = png_bytes(picture)
            share = table[(table.image == upload.name) & (table.model == label)
                          & (table.method == method)]["share_top_0.5%_in_box"].iloc[0]
            with cells[j % len(cells)]:
                st.image(draw_region(picture, regions[label]), caption=f"{label} · {METHOD_LABELS[method]}",
                         width="stretch")
                classes = class_names(by_label[label], result.probabilities.shape[1])
                st.markdown(chip_for(result.probabilities[i], classes), unsafe_allow_html=True)
                if regions[label] is not None:
                    st.caption(f"top-0.5% in region: **{100 * share:.0f}%**")

    st.subheader("Results")
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={
                     "confidence": st.column_config.NumberColumn(format="percent"),
                     "share_top_0.5%_in_box": st.column_config.ProgressColumn(
                         "share of top-0.5% in region", format="percent", min_value=0.0, max_value=1.0),
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
        results(uploads, photos, choices, methods, region, alpha)
        controls.empty()
