"""Shared pieces of the dashboard pages, one concept per module (``from dashboard.common.X import ...``).

``dashboard/app.py`` puts the repository root on ``sys.path``, so every page can import this
package. No numerics live here: models, methods, metrics and data sets come from
``saliency_core``; these modules only load, cache, lock and draw.

``photos``        where the demo photos are: ``data_status()``, ``require_data()``
``demo_sets``     the cached demo sets: ``DemoSet``, ``demo_images``, ``quadrant_set``,
                  ``occlusion_pairs`` (built by ``saliency_core.data.quadrants``)
``models``        the shared zoo models: ``load_zoo_model``, ``zoo_names``, ``zoo_or_none``,
                  ``require_models``, ``predict``/``predict_set``, ``model_fingerprint``, titles
``locks``         one lock per shared model, one pass at a time: ``lock_of(model)``, ``explain_locked(model, ...)``
``explanations``  cached maps: ``saliency_map`` (one image by key), ``batch_maps`` (by content)
``user_models``   users' own model files: ``UserModel``, ``load_user_model``
``uploads``       users' images: ``validate_image``, ``unique_names``
``audit_cache``   the Dataset audit page's precomputed report: ``load_report``, ``zoo_fingerprint``
``messages``      shared texts: ``NO_DATA_MESSAGE``, ``ZOO_HELP``, ``plain_error``
``occlusion``     the Occlusion page's grids and cached sweeps
``diskcache``     ``cached_frame``: a DataFrame kept as Parquet between servers
``render``        pictures for the browser: ``overlay``, ``upscale``, ``draw_box``, ``data_uri``…
``palette``, ``chips``, ``gallery``, ``widgets``  the cat→dog colours, prediction chips,
                  thumbnail galleries, the image strip and the legend
``sidebar``       ``render()``: data status and kernel backend; called by ``app.py``
"""
