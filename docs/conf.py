"""Sphinx configuration for the tinygrad_nn API reference (``make docs``)."""
import tinygrad_nn

project = "tinygrad_nn"
author = "tinygrad_nn contributors"
copyright = "2026, tinygrad_nn contributors"
release = getattr(tinygrad_nn, "__version__", "0.1.0")

extensions = ["sphinx.ext.autodoc", "numpydoc"]

# autodoc imports the package; nothing in it compiles a Numba kernel at import time
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"            # signatures as written; types live in the docstrings
autoclass_content = "class"
numpydoc_show_class_members = False  # methods are documented by autodoc under each class
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

default_role = "py:obj"
nitpicky = False
suppress_warnings = []



def _skip_foreign_members(app, what, name, obj, skip, options):
    """Leave out what scikit-learn adds to our estimators (``set_fit_request`` and the like):
    it is documented by scikit-learn, in words that refer to its own glossary."""
    if (getattr(obj, "__module__", None) or "").startswith("sklearn"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)


html_theme = "alabaster"
html_static_path = []
exclude_patterns = ["_build"]
