"""Run many tiny numeric steps on one thread.

Head training and the classic peers do thousands of small operations; splitting each across
cores costs more in synchronisation than it saves (measured: a 384x128 MLP step took 2 ms on
one thread and 36 ms on two, on a loaded 2-core machine). Encoding keeps every core.
"""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def single_thread():
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(before)
