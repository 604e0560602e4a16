"""What the homework notebooks need beyond the library: stubs that fail in one line.

The student edition (``scripts/course.py student``) hands out ``kl_nmf`` and
``component`` as stubs that ``raise NotImplementedError()``. The experiments
of Tasks 1 to 3 run the student's own functions, so until they are written
every experiment cell would end in a traceback from the stub. The notebooks'
first cell calls :func:`friendly_stubs`, and such a cell then fails with one
line that says what to write and where. Used by notebooks 1, 2 and 3.
"""

from __future__ import annotations

__all__ = ["friendly_stubs", "not_written_message"]


def not_written_message(name: str) -> str:
    """The one line a cell shows when it calls the stub ``name`` (a function not yet written)."""
    return (
        f"{name} is not written yet: write {name} in its cell under 'Your part', run that"
        " cell, then run this one again"
    )


def _one_line(shell, etype, value, tb, tb_offset=None) -> list[str]:
    """IPython's handler for NotImplementedError: the innermost function's name, one line.

    IPython leaves showing the error to a custom handler: it is shown here, as
    a kernel shows any error (``_showtraceback``, the method kernels override).
    """
    name, frame = None, tb
    while frame is not None:
        name = frame.tb_frame.f_code.co_name
        frame = frame.tb_next
    if name is None or name.startswith("<"):  # raised by a cell, not by a stub
        lines = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
    else:
        lines = [f"NotImplementedError: {not_written_message(name)}"]
    shell._showtraceback(etype, value, lines)
    return lines


def friendly_stubs() -> bool:
    """In IPython, show a call of a stub as one line instead of a traceback.

    Returns
    -------
    bool
        Whether it is in effect (False outside IPython, where nothing changes).

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> nh.friendly_stubs()  # in a plain Python session: nothing to do
    False
    >>> nh.not_written_message("kl_nmf").split(":")[0]
    'kl_nmf is not written yet'
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.set_custom_exc((NotImplementedError,), _one_line)
    return True
