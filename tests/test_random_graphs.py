"""Random expression DAGs: hypothesis builds graphs from the op set (shared nodes, an input used
twice, broadcasting leaves) and gradcheck compares every leaf's gradient with finite
differences; forward values are compared with the same graph evaluated in numpy."""
import numpy as np
import scipy.special as sp
from hypothesis import given, note
from hypothesis import strategies as st

from tinygrad_nn import Tensor
from tinygrad_nn.testing import broadcastable_shapes, gradcheck

# Smooth ops only: a kink (relu, abs) sits exactly on the zeros that shared nodes make (x - x).
# Every op keeps its operands' shapes broadcastable with every leaf (reductions keep dims), so
# any two nodes can meet in a binary op. Each entry: (Tensor version, numpy version).
UNARY = {
    "neg": (lambda a: -a, lambda a: -a),
    "tanh": (lambda a: a.tanh(), np.tanh),
    "sigmoid": (lambda a: a.sigmoid(), sp.expit),
    "softplus": (lambda a: a.softplus(), lambda a: np.logaddexp(0, a)),
    "elu": (lambda a: a.elu(1.0), lambda a: np.where(a > 0, a, np.expm1(np.minimum(a, 0)))),
    "exp_tanh": (lambda a: a.tanh().exp(), lambda a: np.exp(np.tanh(a))),
    "sqrt_sq1": (lambda a: (a * a + 1).sqrt(), lambda a: np.sqrt(a * a + 1)),
    "log_sq1": (lambda a: (a * a + 1).log(), lambda a: np.log(a * a + 1)),
    "square": (lambda a: a * a, lambda a: a * a),
}
BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / (b * b + 1), lambda a, b: a / (b * b + 1)),
    "pow": (lambda a, b: (a * a + 1) ** b.tanh(), lambda a, b: (a * a + 1) ** np.tanh(b)),
    "maximum": (lambda a, b: a.maximum(b), np.maximum),
}
AXIAL = {  # (Tensor version, numpy version) of f(x, axis), shape kept
    "sum": (lambda a, ax: a.sum(axis=ax, keepdims=True),
            lambda a, ax: a.sum(axis=ax, keepdims=True)),
    "mean": (lambda a, ax: a.mean(axis=ax, keepdims=True),
             lambda a, ax: a.mean(axis=ax, keepdims=True)),
    "max": (lambda a, ax: a.max(axis=ax, keepdims=True),
            lambda a, ax: a.max(axis=ax, keepdims=True)),
    "logsumexp": (lambda a, ax: a.logsumexp(axis=ax, keepdims=True),
                  lambda a, ax: sp.logsumexp(a, axis=ax, keepdims=True)),
    "softmax": (lambda a, ax: a.softmax(axis=ax), lambda a, ax: sp.softmax(a, axis=ax)),
    "log_softmax": (lambda a, ax: a.log_softmax(axis=ax),
                    lambda a, ax: sp.log_softmax(a, axis=ax)),
}


@st.composite
def graphs(draw, max_leaves=3, max_steps=8):
    """(leaf arrays, steps): step k makes node n_leaves + k from earlier nodes (any of them, so
    nodes are shared and an operand may be taken twice)."""
    n_leaves = draw(st.integers(1, max_leaves))
    leaf_shapes = draw(broadcastable_shapes(num_shapes=n_leaves, min_side=1, max_side=3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    leaves = [rng.standard_normal(shape) for shape in leaf_shapes]
    ndims = [len(s) for s in leaf_shapes]
    steps = []
    for _ in range(draw(st.integers(1, max_steps))):
        n = n_leaves + len(steps)
        kind = draw(st.sampled_from(["unary", "binary", "axial"]))
        a = draw(st.integers(0, n - 1))
        if kind == "unary":
            steps.append(("unary", draw(st.sampled_from(sorted(UNARY))), a))
            ndims.append(ndims[a])
        elif kind == "binary":
            b = draw(st.integers(0, n - 1))
            steps.append(("binary", draw(st.sampled_from(sorted(BINARY))), a, b))
            ndims.append(max(ndims[a], ndims[b]))
        else:
            axis = draw(st.integers(-ndims[a], ndims[a] - 1)) if ndims[a] else None
            name = draw(st.sampled_from(sorted(AXIAL)))
            if axis is None and name in ("softmax", "log_softmax"):
                name = "sum"  # no axis to normalise over in a 0-d node
            steps.append(("axial", name, a, axis))
            ndims.append(ndims[a])
    return leaves, steps


def evaluate(steps, leaves, tensor=True):
    """Run the graph; the output sums every node (weights 1, 2, ...) so each one is used."""
    nodes = list(leaves)
    for step in steps:
        kind, name, *args = step
        if kind == "unary":
            fn = UNARY[name][0 if tensor else 1]
            nodes.append(fn(nodes[args[0]]))
        elif kind == "binary":
            fn = BINARY[name][0 if tensor else 1]
            nodes.append(fn(nodes[args[0]], nodes[args[1]]))
        else:
            fn = AXIAL[name][0 if tensor else 1]
            nodes.append(fn(nodes[args[0]], args[1]))
    out = nodes[0]
    for k, node in enumerate(nodes[1:], start=2):
        out = out + node * float(k)
    return out


@given(graph=graphs())
def test_random_graph_gradients_match_finite_differences(graph):
    leaves, steps = graph
    note(f"steps: {steps}; leaf shapes: {[x.shape for x in leaves]}")
    out = evaluate(steps, [Tensor(x) for x in leaves])
    np.testing.assert_allclose(out.data, evaluate(steps, leaves, tensor=False), rtol=1e-10,
                               atol=1e-12)
    gradcheck(lambda *xs: evaluate(steps, xs), *leaves)


@given(graph=graphs())
def test_random_graph_float32_gradients_stay_float32_and_near_float64(graph):
    leaves, steps = graph
    grads = {}
    for dtype in (np.float64, np.float32):
        xs = [Tensor(x.astype(dtype), requires_grad=True) for x in leaves]
        out = evaluate(steps, xs)
        assert out.dtype == dtype
        out.sum().backward()
        assert all(x.grad is not None and x.grad.dtype == dtype and x.grad.shape == x.shape
                   for x in xs)
        grads[dtype] = [x.grad for x in xs]
    for g32, g64 in zip(grads[np.float32], grads[np.float64]):
        scale = max(1.0, float(np.abs(g64).max()))
        np.testing.assert_allclose(g32, g64, rtol=1e-3, atol=1e-3 * scale)


@given(graph=graphs(max_leaves=1))
def test_one_input_passed_twice_gets_both_gradients(graph):
    """The same leaf given for two arguments: the gradients of both uses add up."""
    (x,), steps = graph
    t = Tensor(x, requires_grad=True)
    (evaluate(steps, [t]) + evaluate(steps, [t]) * 0.5).sum().backward()
    once = Tensor(x, requires_grad=True)
    evaluate(steps, [once]).sum().backward()
    np.testing.assert_allclose(t.grad, 1.5 * once.grad, rtol=1e-10, atol=1e-12)


def test_gradients_of_a_0d_tensor_used_twice_stay_arrays():
    """numpy adds two 0-d arrays into a scalar; accumulated gradients must stay ndarrays."""
    t = Tensor(np.array(0.3), requires_grad=True)
    (t.elu().elu() + t.elu().elu() * 0.5).backward()  # the sum reaches elu's kernel
    assert type(t.grad) is np.ndarray and t.grad.shape == ()
    t.tanh().backward()  # accumulating into an existing 0-d .grad
    assert type(t.grad) is np.ndarray and t.grad.shape == ()
