"""2-D convolution (cross-correlation, as in deep learning) of NCHW input with (O, C/groups, kh,
kw) weights, any stride, dilation, zero padding (top, bottom, left, right) and groups:
im2col + BLAS GEMM, col2im for the input gradient.

im2col reads only the taps the output needs: column ``q = i*Wo + j`` of image b holds, in row
``(c*kh + di)*kw + dj``, the input pixel (i*sh + di*dh - top, j*sw + dj*dw - left) or 0 when
that falls in the padding. So a strided convolution costs its own output's arithmetic (the
previous version computed the stride-1 result and sampled it: sh*sw times the work), and
padding is never materialised. Group g is the GEMM of its weight rows with its block of rows.

Work is split over ``tinygrad_nn.threads``: a task is a fixed run of images; each thread runs
single-threaded GEMMs on its images (BLAS is held to one thread meanwhile; see threads.py for
why not BLAS's own threads). The GEMMs call numpy's BLAS from inside the kernels
(``blas.matmul_into``: no GIL, no operand copies), the weight gradient in its transposed
orientation ``dw^T = cols @ g^T``, which measured 1.4-1.8x faster than ``g @ cols^T`` here. Small images (fewer than ``MIN_COLUMNS`` output pixels) are
batched ``B`` at a time into one wider GEMM, which keeps BLAS efficient on 7x7 maps. The weight
gradient is summed per task and the task sums are added in task order; tasks depend only on
the shapes, so results are the same bit for bit at any thread count.

Short im2col matrices (few taps on small maps: a first layer, a strided one) go image by image
on exact matrices instead (``ROW_TAPS``, ``ROW_PIXELS``): the forward GEMM writes straight into
the output, and the weight gradient is taken from the pixel-major transpose of the matrix with
the gradient array read in place.

Copies are explicit loops (Numba's slice assignment measured 6x slower than a plain loop); big
outputs are allocated by numpy, which asks for transparent huge pages (fewer page faults).
"""
import numpy as np
from . import njit  # numba.njit with a cache that degrades safely

from .. import threads as T
from .._validation import check_kernel_arrays, check_same_shape
from .blas import gemm_function, matmul_into

_JIT = dict(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
# Sums may be reassociated, so that they vectorise (one running total measured 10x slower): the
# order is fixed by the compiled code and the shapes, so the bits still do not depend on the
# thread count.
_JIT_SUM = dict(_JIT, fastmath={"contract", "reassoc"})

MIN_COLUMNS = 256       # batch images into one GEMM until it has this many columns
MAX_TASKS = 16          # images are split into at most this many tasks
PARTIAL_BYTES = 1 << 26  # memory for the per-task weight-gradient sums (64 MB)
SERIAL_WORK = 1 << 21   # below this many multiply-adds a call stays on the calling thread
# A convolution with at most ROW_TAPS rows (K = C*kh*kw) and ROW_PIXELS columns (output pixels
# P) in an image's im2col matrix -- a first layer on small or strided maps -- runs image by image
# on exact matrices (no dropped columns): the forward GEMM writes straight into the output, and
# the weight gradient comes from pixel-major rows (``_im2row``) with the gradient array read in
# place, since OpenBLAS runs the (K, P) @ (P, O) product up to 2x faster as (O, P) @ (P, K) when
# both K and P are short (3->64 channels, stride 2, 16x16 outputs: 1.21 -> 0.62 ms for 64
# images). Measured side by side: with 9 taps on 28x28 maps the backward was 28% slower this
# way, with 288 taps on 7x7 maps no faster.
ROW_TAPS = 64
ROW_PIXELS = 256

# geo: one int64 array of the geometry, so a kernel call type-checks one argument, not fifteen.
KH, KW, SH, SW, PT, PL, DH, DW, HO, WO, GROUPS, BATCH, HQ, WQ, SPAN = range(15)
GEO_SIZE = SPAN + 1


@njit(**_JIT)
def _copy(src, dst):
    """dst[:] = src for 1-D views (a plain loop on fresh slices: LLVM vectorises it, where the
    same loop on offset indices into larger arrays measured 5x slower)."""
    for q in range(src.size):
        dst[q] = src[q]


@njit(**_JIT)
def _fill(dst, value):
    for q in range(dst.size):
        dst[q] = value


@njit(**_JIT)
def _add(src, dst):
    for q in range(src.size):
        dst[q] += src[q]


@njit(**_JIT)
def _copy_plus(src, dst, value):
    for q in range(src.size):
        dst[q] = src[q] + value


@njit(**_JIT_SUM)
def _copy_sum(src, dst):
    """dst[:] = src, returning the sum of src."""
    total = src.dtype.type(0)
    for q in range(src.size):
        dst[q] = src[q]
        total += src[q]
    return total


@njit(**_JIT)
def _every_second(src, dst):
    """dst[t] = src[2*t]: with the step a constant LLVM vectorises the gather (splitting 64
    images of 3x32x32 into phase planes: 0.21 -> 0.14 ms)."""
    for t in range(dst.size):
        dst[t] = src[2 * t]


@njit(**_JIT)
def _phase_run(b, sw, pl, W, base, plane):
    """A padded row's pixels in column phase b (of sw): (first source column j0, how many,
    where they start in the phase planes); source columns j0, j0 + sw, ... land contiguously."""
    j0 = (b - pl) % sw
    count = max(0, (W - 1 - j0) // sw + 1)
    return j0, count, base + b * plane + (j0 + pl) // sw


@njit(**_JIT)
def _split(x, n, geo, xq):
    """Image n of x, zero-padded, into its sh*sw phase planes: xq[c, (a*sw + b)*Hq*Wq + u*Wq + v]
    = padded[c, u*sh + a, v*sw + b]. Only the image's own pixels are written: the rest of xq
    (the padding) is zeroed once by the caller and never changes."""
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    sh, sw, pt, pl, Hq, Wq = geo[SH], geo[SW], geo[PT], geo[PL], geo[HQ], geo[WQ]
    plane = Hq * Wq
    for c in range(C):
        src_c, dst_c = x[n, c], xq[c]
        if sw == 1:
            for y in range(H):
                yp = y + pt
                at = (yp % sh) * plane + (yp // sh) * Wq + pl
                _copy(src_c[y], dst_c[at:at + W])
            continue
        for b in range(sw):  # each row's pixels of column phase b: a stride-sw run of the row
            j0, count, start = _phase_run(b, sw, pl, W, 0, plane)
            a, u = pt % sh, pt // sh  # padded row y + pt is row u of row phase a (no division
            for y in range(H):        # per row: two of them took a third of the time)
                src, dst = src_c[y], dst_c[start + a * sw * plane + u * Wq:]
                if sw == 2:
                    _every_second(src[j0:], dst[:count])
                else:
                    for t in range(count):
                        dst[t] = src[j0 + t * sw]
                a += 1
                if a == sh:
                    a, u = 0, u + 1


@njit(**_JIT)
def _unsplit(dxq, n, geo, dx):
    """The adjoint of ``_split``: dx[n] = the image's own pixels of the phase planes dxq."""
    C, H, W = dx.shape[1], dx.shape[2], dx.shape[3]
    sh, sw, pt, pl, Hq, Wq = geo[SH], geo[SW], geo[PT], geo[PL], geo[HQ], geo[WQ]
    plane = Hq * Wq
    for c in range(C):
        src_c, dst_c = dxq[c], dx[n, c]
        for y in range(H):
            yp = y + pt
            dst = dst_c[y]
            base = (yp % sh) * sw * plane + (yp // sh) * Wq
            if sw == 1:
                _copy(src_c[base + pl:base + pl + W], dst)
                continue
            for b in range(sw):
                j0, count, at = _phase_run(b, sw, pl, W, base, plane)
                src = src_c[at:at + count]
                for t in range(count):
                    dst[j0 + t * sw] = src[t]


@njit(**_JIT)
def _tap_offset(geo, di, dj):
    """Where tap (di, dj) starts in a channel's phase planes: every output pixel (i, j) reads
    the tap at offset + i*Wq + j."""
    sh, sw, dh, dw = geo[SH], geo[SW], geo[DH], geo[DW]
    a, e, b, f = (di * dh) % sh, (di * dh) // sh, (dj * dw) % sw, (dj * dw) // sw
    return (a * sw + b) * geo[HQ] * geo[WQ] + e * geo[WQ] + f


@njit(**_JIT)
def _im2col(xq, nb, geo, cols):
    """cols[(c*kh + di)*kw + dj, b*span + q] = xq[b, c, offset(di, dj) + q] for q < span: one
    contiguous run per row and image (columns i*Wq + j with j >= Wo are computed and dropped)."""
    C, kh, kw, span = xq.shape[1], geo[KH], geo[KW], geo[SPAN]
    for c in range(C):
        for di in range(kh):
            for dj in range(kw):
                row = cols[(c * kh + di) * kw + dj]
                off = _tap_offset(geo, di, dj)
                for b in range(nb):
                    _copy(xq[b, c, off:off + span], row[b * span:(b + 1) * span])


@njit(**_JIT)
def _tap_offsets(C, planes, geo):
    """Where each im2col row (c, di, dj) starts in an image's flattened phase planes."""
    kh, kw = geo[KH], geo[KW]
    offs = np.empty(C * kh * kw, np.int64)
    for c in range(C):
        for di in range(kh):
            for dj in range(kw):
                offs[(c * kh + di) * kw + dj] = c * planes + _tap_offset(geo, di, dj)
    return offs


@njit(**_JIT)
def _im2row(xq, offs, geo, rows):
    """The transposed im2col matrix of one image, without dropped columns: rows[i*Wo + j, k] =
    the phase planes xq (flattened) at offs[k] + i*Wq + j."""
    Ho, Wo, Wq = geo[HO], geo[WO], geo[WQ]
    for i in range(Ho):
        for j in range(Wo):
            base, row = i * Wq + j, rows[i * Wo + j]
            for k in range(offs.size):
                row[k] = xq[offs[k] + base]


@njit(**_JIT)
def _im2col_exact(xq, offs, geo, cols):
    """The im2col matrix of one image without dropped columns: cols[k, i*Wo + j] = the phase
    planes xq (flattened) at offs[k] + i*Wq + j."""
    Ho, Wo, Wq = geo[HO], geo[WO], geo[WQ]
    for k in range(offs.size):
        row = cols[k]
        for i in range(Ho):
            at = offs[k] + i * Wq
            _copy(xq[at:at + Wo], row[i * Wo:(i + 1) * Wo])


@njit(**_JIT)
def _col2im(cols, nb, geo, dxq):
    """The adjoint of ``_im2col``: dxq = 0, then every column entry added back where it was read."""
    C, kh, kw, span = dxq.shape[1], geo[KH], geo[KW], geo[SPAN]
    flat = dxq[:nb].reshape(-1)
    for q in range(flat.size):
        flat[q] = 0
    for c in range(C):
        for di in range(kh):
            for dj in range(kw):
                row = cols[(c * kh + di) * kw + dj]
                off = _tap_offset(geo, di, dj)
                for b in range(nb):
                    _add(row[b * span:(b + 1) * span], dxq[b, c, off:off + span])


@njit(**_JIT)
def _gather(x, s, nb, geo, xq, cols):
    """cols (K, nb*span): the im2col matrix of images s..s+nb-1 (each split into its phase
    planes xq[b] first; xq's padding stays zero from the caller)."""
    for b in range(nb):
        _split(x, s + b, geo, xq[b])
    _im2col(xq, nb, geo, cols)


@njit(**_JIT)
def _scatter_out(acc, s, nb, geo, bias, out):
    """out[s + b, o] = the GEMM result acc (O, nb*span) of image b, dropped columns skipped,
    plus bias[o]."""
    O, Ho, Wo, Wq, span = out.shape[1], geo[HO], geo[WO], geo[WQ], geo[SPAN]
    for b in range(nb):
        for o in range(O):
            src, dst, bo = acc[o], out[s + b, o], bias[o]
            for i in range(Ho):
                at = b * span + i * Wq
                _copy_plus(src[at:at + Wo], dst[i], bo)


@njit(**_JIT)
def _gather_grad(grad, s, nb, geo, gm, db):
    """gm (O, nb*span) = the output gradient of images s..s+nb-1 laid out as the GEMM's
    columns (dropped columns stay 0 from the caller); db[o] += its sums."""
    O, Ho, Wo, Wq, span = grad.shape[1], geo[HO], geo[WO], geo[WQ], geo[SPAN]
    for b in range(nb):
        for o in range(O):
            src, dst = grad[s + b, o], gm[o]
            for i in range(Ho):
                at = b * span + i * Wq
                db[o] += _copy_sum(src[i], dst[at:at + Wo])


@njit(**_JIT_SUM)
def _sum(src):
    total = src.dtype.type(0)
    for q in range(src.size):
        total += src[q]
    return total


@njit(**_JIT)
def _sum_grad(grad, s, nb, db):
    """db[o] += the sums of the output gradient of images s..s+nb-1."""
    for b in range(nb):
        for o in range(grad.shape[1]):
            db[o] += _sum(grad[s + b, o].reshape(-1))


@njit(**_JIT)
def _scatter_dx(cols, s, nb, geo, dxq, dx):
    """dx[s + b] from the gradient of the im2col matrix: col2im into the phase planes dxq,
    then each image's own pixels out of them."""
    _col2im(cols, nb, geo, dxq)
    for b in range(nb):
        _unsplit(dxq[b], s + b, geo, dx)


def output_size(size, kernel, stride, before, after, dilation):
    """Output length along one axis: floor((size + before + after - dilation*(kernel-1) - 1)
    / stride) + 1 (may be <= 0 when the kernel does not fit)."""
    return (size + before + after - dilation * (kernel - 1) - 1) // stride + 1


def _plan(x, w, stride, padding, dilation, groups, owner):
    """Check the shapes, then (geo, tasks as (n0, n1) image runs, width)."""
    check_kernel_arrays(owner, ndim=4, x=x)
    check_kernel_arrays(owner, ndim=4, shape=w.shape, dtype=x.dtype, w=w)
    N, C, H, W = x.shape
    O, Cg, kh, kw = w.shape
    (sh, sw), (pt, pb, pl, pr), (dh, dw) = stride, padding, dilation
    if groups < 1 or C != Cg * groups or O % groups or min(sh, sw, dh, dw) < 1 or min(padding) < 0:
        raise ValueError(f"{owner}: inconsistent arguments x {x.shape}, w {w.shape}, stride "
                         f"{stride}, padding {padding}, dilation {dilation}, groups {groups}")
    Ho = output_size(H, kh, sh, pt, pb, dh)
    Wo = output_size(W, kw, sw, pl, pr, dw)
    if Ho < 1 or Wo < 1:
        raise ValueError(f"{owner}: the dilated kernel of w {w.shape} does not fit in x "
                         f"{x.shape} with padding {padding}")
    Hq, Wq = -(-(H + pt + pb) // sh), -(-(W + pl + pr) // sw)  # phase-plane size
    span = (Ho - 1) * Wq + Wo
    B = max(1, min(N, -(-MIN_COLUMNS // span)))
    steps = -(-N // B)  # GEMM batches
    ntasks = max(1, min(steps, MAX_TASKS))
    edges = [min(N, B * (steps * t // ntasks)) for t in range(ntasks + 1)]
    tasks = [(edges[t], edges[t + 1]) for t in range(ntasks)]
    work = N * O * Cg * kh * kw * Ho * Wo
    width = 1 if work < SERIAL_WORK else min(T.get_num_threads(), ntasks)
    geo = np.array([kh, kw, sh, sw, pt, pl, dh, dw, Ho, Wo, groups, B, Hq, Wq, span],
                   dtype=np.int64)
    return geo, tasks, width


def _small_image_offsets(x, w, geo, xq):
    """For a convolution whose im2col matrices are small (``ROW_TAPS``, ``ROW_PIXELS``),
    where each of their rows starts in an image's phase planes (``_tap_offsets``); otherwise
    an empty array (batched GEMMs over dropped columns are faster there)."""
    if x.shape[1] * w.shape[2] * w.shape[3] > ROW_TAPS or int(geo[HO] * geo[WO]) > ROW_PIXELS:
        return np.empty(0, np.int64)
    return _tap_offsets(x.shape[1], xq.shape[-1], geo)


def _scratch(x, w, geo, width):
    """Per-thread buffers: phase planes (width, B, C, sh*sw*Hq*Wq), zeroed (their padding is
    never written again), and im2col matrices (width, K, B*span)."""
    B, span = int(geo[BATCH]), int(geo[SPAN])
    planes = int(geo[SH] * geo[SW] * geo[HQ] * geo[WQ])
    xq = np.zeros((width, B, x.shape[1], planes), dtype=x.dtype)
    cols = np.empty((width, x.shape[1] * w.shape[2] * w.shape[3], B * span), dtype=x.dtype)
    return xq, cols


@njit(**_JIT)
def _forward(gemm, x, wm, bias, geo, n0, n1, offs, xq, cols, acc, out):
    """out[n0:n1] for the images n0..n1-1, ``geo[BATCH]`` images per GEMM; with ``offs``
    (small im2col matrices, see ``ROW_TAPS``) one image per GEMM, written straight into
    ``out`` (no dropped columns to skip)."""
    O, Kg = wm.shape
    G, B, span = geo[GROUPS], geo[BATCH], geo[SPAN]
    Og = O // G
    if offs.size > 0:
        pixels = geo[HO] * geo[WO]
        for n in range(n0, n1):
            _split(x, n, geo, xq[0])
            _im2col_exact(xq[0].reshape(-1), offs, geo, cols)
            om = out[n].reshape(O, pixels)
            for o in range(O):
                _fill(om[o], bias[o])
            for g in range(G):
                matmul_into(gemm, wm[g * Og:(g + 1) * Og], cols[g * Kg:(g + 1) * Kg, :pixels],
                            om[g * Og:(g + 1) * Og], 1.0)
        return
    for s in range(n0, n1, B):
        nb = min(B, n1 - s)
        q = nb * span  # the GEMM's columns: the first q of the (C-contiguous) buffers
        _gather(x, s, nb, geo, xq, cols)
        for g in range(G):
            matmul_into(gemm, wm[g * Og:(g + 1) * Og], cols[g * Kg:(g + 1) * Kg, :q],
                        acc[g * Og:(g + 1) * Og, :q], 0.0)
        _scatter_out(acc, s, nb, geo, bias, out)


@njit(**_JIT)
def _backward(gemm, x, wm, grad, geo, n0, n1, need_dx, need_dw, offs, xq, dxq, cols, rows, gbuf,
              dw_part, db_part, dx):
    """Images n0..n1-1: their weight and bias gradient sums added into dw_part (Kg, O: the
    transposed weight matrix) and db_part (O,), their input gradient into dx[n0:n1] when
    ``need_dx``. With ``offs`` (small im2col matrices, see ``ROW_TAPS``) the weight gradient is
    taken image by image from pixel-major rows and the gradient array in place.

    A batch's matrices are the first nb*span columns of full-width buffers, so the dropped
    columns of the gradient matrix gbuf sit at the same places in every batch and stay 0 (the
    copy loops get the whole buffers: C-contiguous rows, which Numba vectorises)."""
    O, Kg = wm.shape
    G, B, span = geo[GROUPS], geo[BATCH], geo[SPAN]
    Og, by_rows = O // G, offs.size > 0
    for s in range(n0, n1, B):
        nb = min(B, n1 - s)
        q = nb * span  # the GEMMs' columns: the first q of the (C-contiguous) buffers
        if need_dx or (need_dw and not by_rows):
            _gather_grad(grad, s, nb, geo, gbuf, db_part)
        else:
            _sum_grad(grad, s, nb, db_part)
        if need_dw and by_rows:
            for b in range(nb):
                _split(x, s + b, geo, xq[0])
                _im2row(xq[0].reshape(-1), offs, geo, rows)
                gm = grad[s + b].reshape(O, -1)
                for g in range(G):  # dw^T = rows^T @ gm^T
                    matmul_into(gemm, rows[:, g * Kg:(g + 1) * Kg].T, gm[g * Og:(g + 1) * Og].T,
                                dw_part[:, g * Og:(g + 1) * Og], 1.0)
        elif need_dw:
            _gather(x, s, nb, geo, xq, cols)
            for g in range(G):  # dw^T = cols @ gm^T: the faster orientation (K >> O)
                matmul_into(gemm, cols[g * Kg:(g + 1) * Kg, :q], gbuf[g * Og:(g + 1) * Og, :q].T,
                            dw_part[:, g * Og:(g + 1) * Og], 1.0)
        if need_dx:  # cols now receives the gradient of the im2col matrix
            for g in range(G):
                matmul_into(gemm, wm[g * Og:(g + 1) * Og].T, gbuf[g * Og:(g + 1) * Og, :q],
                            cols[g * Kg:(g + 1) * Kg, :q], 0.0)
            _scatter_dx(cols, s, nb, geo, dxq, dx)


def conv2d_forward(x, w, b, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    """Output (N, O, Ho, Wo) of x (N, C, H, W) with w (O, C/groups, kh, kw) and bias b (O,),
    all C-contiguous of one float dtype; ``padding`` is (top, bottom, left, right)."""
    geo, tasks, width = _plan(x, w, stride, padding, dilation, groups, "conv2d_forward")
    O = w.shape[0]
    check_kernel_arrays("conv2d_forward", shape=(O,), dtype=x.dtype, b=b)
    out = np.empty((x.shape[0], O, int(geo[HO]), int(geo[WO])), dtype=x.dtype)
    xq, cols = _scratch(x, w, geo, width)
    offs = _small_image_offsets(x, w, geo, xq)
    acc = np.empty((width, O, 0 if offs.size else int(geo[BATCH] * geo[SPAN])), dtype=x.dtype)
    wm, gemm = w.reshape(O, -1), gemm_function(x.dtype)

    def task(t, slot):
        _forward(gemm, x, wm, b, geo, tasks[t][0], tasks[t][1], offs, xq[slot], cols[slot],
                 acc[slot], out)

    with T.single_threaded_blas("numpy"):
        T.parallel_for(task, len(tasks), width)
    return out


def conv2d_backward(x, w, grad, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1,
                    need_dx=True, need_dw=True):
    """(dx, dw, db) for the gradient ``grad`` of ``conv2d_forward``'s output; dx is None unless
    ``need_dx`` (a network's first layer skips a third of the work), dw is None unless
    ``need_dw``."""
    geo, tasks, width = _plan(x, w, stride, padding, dilation, groups, "conv2d_backward")
    O, Kg = w.shape[0], w[0].size
    check_same_shape("conv2d_backward", "grad", grad.shape,
                     (x.shape[0], O, int(geo[HO]), int(geo[WO])))
    check_kernel_arrays("conv2d_backward", dtype=x.dtype, grad=grad)
    if PARTIAL_BYTES < len(tasks) * O * Kg * x.itemsize:  # huge weights: fewer, larger tasks
        tasks = _merge(tasks, max(1, PARTIAL_BYTES // (O * Kg * x.itemsize)))
        width = min(width, len(tasks))
    wm, gemm = w.reshape(O, Kg), gemm_function(x.dtype)
    dx = np.empty(x.shape if need_dx else (0,) + x.shape[1:], dtype=x.dtype)
    xq, cols = _scratch(x, w, geo, width)
    dxq = np.empty_like(xq) if need_dx else xq
    offs = _small_image_offsets(x, w, geo, xq) if need_dw else np.empty(0, np.int64)
    rows = np.empty((width, int(geo[HO] * geo[WO]) if offs.size else 0, offs.size), dtype=x.dtype)
    copies_grad = need_dx or not offs.size  # the row path alone reads the gradient in place
    gbuf = np.zeros((width, O, int(geo[BATCH] * geo[SPAN]) if copies_grad else 0), dtype=x.dtype)
    dw_part = np.zeros((len(tasks), Kg, O), dtype=x.dtype)
    db_part = np.zeros((len(tasks), O), dtype=x.dtype)

    def task(t, slot):
        _backward(gemm, x, wm, grad, geo, tasks[t][0], tasks[t][1], need_dx, need_dw, offs,
                  xq[slot], dxq[slot], cols[slot], rows[slot], gbuf[slot], dw_part[t], db_part[t],
                  dx)

    with T.single_threaded_blas("numpy"):
        T.parallel_for(task, len(tasks), width)
    dw = dw_part.sum(axis=0).T.reshape(w.shape) if need_dw else None
    return (dx if need_dx else None), dw, db_part.sum(axis=0)


def _merge(tasks, count):
    """``tasks`` (consecutive (n0, n1) runs) regrouped into ``count`` runs."""
    count = min(count, len(tasks))
    edges = [tasks[len(tasks) * t // count][0] for t in range(count)] + [tasks[-1][1]]
    return [(edges[t], edges[t + 1]) for t in range(count)]
