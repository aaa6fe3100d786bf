"""Sphinx configuration of skcrl's documentation."""

import os
import sys
import warnings
from pathlib import Path

import skcrl

# The results pages' tables, from the files the benchmark commands wrote.
sys.path.insert(0, str(Path(__file__).parent))
from _generate import generate

generate()

project = "skcrl"
author = "skcrl developers"
copyright = "2026, skcrl developers"
release = skcrl.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    # docs/spec.md: the specification, a byte copy of the contract, kept in Markdown
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "_generated", "results"]
root_doc = "index"
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}

html_theme = "pydata_sphinx_theme"
html_title = f"skcrl {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": False,
}

autosummary_generate = True
autodoc_default_options = {"inherited-members": False}
autodoc_typehints = "none"
# numpydoc renders the parameter sections; the member lists come from the
# autosummary templates.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# No network on the build machines: intersphinx inventories are not fetched.
intersphinx_mapping = {}

plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 100)]

sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "min_reported_time": 1,
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "doc_module": ("skcrl",),
    "backreferences_dir": "generated/backreferences",
}

# Examples and the plot directive run on CPU with one thread (two busy processes on
# two cores slow torch down tenfold).
os.environ.setdefault("OMP_NUM_THREADS", "1")
warnings.filterwarnings("ignore", category=UserWarning, message=".*Matplotlib.*")
Path(__file__).with_name("_static").mkdir(exist_ok=True)
html_static_path = ["_static"]
