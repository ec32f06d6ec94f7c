"""Read a jupytext percent-format tutorial as a notebook with a Python kernelspec.

Sphinx highlights a notebook's code cells by its kernel language; tutorials without a
``kernelspec`` header would otherwise produce "No source code lexer found" warnings.
"""
import jupytext


def read_py_percent(text: str, **kwargs):
    notebook = jupytext.reads(text, fmt="py:percent")
    notebook.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    notebook.metadata.setdefault("language_info", {"name": "python"})
    return notebook
