"""The architecture grid shared by the neural-tangents fixture script and the parity test.

Each case is a declarative description of one network: a list of layer specs `[name, kwargs]`, where
`name` is neural-tangents' `stax` name and `kwargs` its keyword arguments (JSON values only). Combinators
nest: `["serial", {"layers": [...]}]`, `["parallel", {"layers": [...]}]`, `["repeat", {"layer": spec,
"n": k}]`. `ElementwiseNumerical` names its function (`"fn": "tanh"`). The fixture script
(`make_nt_arch_fixtures.py`, run in the pinned neural-tangents venv) turns the specs into `stax` layers;
`tests/nn/test_nt_parity.py` turns the same specs into `lazyrich.nn` layers. Neither side may edit a
case without regenerating the fixtures: the script stores this table's JSON in the fixture file and the
test checks that it is unchanged.

Inputs: `N1` and `N2` examples of a per-example shape named by the case's `input` key (`INPUT_SHAPES`);
every case is evaluated with `x2 = None` (`sym`) and with `x2 != x1` (`cross`).
"""

N1, N2 = 3, 2
INPUT_SHAPES = {"vec": (5,), "seq": (6, 3), "img": (5, 5, 2), "img8": (8, 8, 1)}
WIDTH = 7  # finite width: enters the standard-parameterization NTK only


def dense(w=1.5, b=0.1, out=WIDTH, param="ntk"):
    kw = {"out_dim": out, "W_std": w, "b_std": b}
    if param != "ntk":
        kw["parameterization"] = param
    return ["Dense", kw]


def conv(filt=(3, 3), strides=None, padding="SAME", w=1.3, b=0.2, out=WIDTH, param="ntk"):
    kw = {"out_chan": out, "filter_shape": list(filt), "padding": padding, "W_std": w, "b_std": b}
    if strides is not None:
        kw["strides"] = list(strides)
    if param != "ntk":
        kw["parameterization"] = param
    return ["Conv", kw]


def act(name, **kw):
    return [name, kw]


def serial(*layers):
    return ["serial", {"layers": list(layers)}]


def parallel(*layers):
    return ["parallel", {"layers": list(layers)}]


READOUT = dense(1.0, 0.05, out=1)
RELU = act("Relu")

# Every elementwise activation of neural-tangents' set (and tanh through quadrature), with parameters.
ACTIVATIONS = {
    "relu": act("Relu"),
    "leaky_relu": act("LeakyRelu", alpha=0.1),
    "ab_relu": act("ABRelu", a=-0.4, b=1.3),
    "abs": act("Abs"),
    "erf": act("Erf"),
    "erf_abc": act("Erf", a=0.7, b=1.4, c=0.3),
    "gelu": act("Gelu", approximate=False),
    "sign": act("Sign"),
    "sin": act("Sin"),
    "sin_abc": act("Sin", a=1.2, b=0.7, c=0.4),
    "cos": act("Cos", a=0.9, b=1.1, c=0.2),
    "rbf": act("Rbf", gamma=0.6),
    "exp": act("Exp", a=0.8, b=0.5),
    "gaussian": act("Gaussian", a=1.1, b=-0.7),
    "monomial0": act("Monomial", degree=0),
    "monomial1": act("Monomial", degree=1),
    "monomial2": act("Monomial", degree=2),
    "monomial3": act("Monomial", degree=3),
    "rectified_monomial0": act("RectifiedMonomial", degree=0),
    "rectified_monomial1": act("RectifiedMonomial", degree=1),
    "rectified_monomial2": act("RectifiedMonomial", degree=2),
    "rectified_monomial3": act("RectifiedMonomial", degree=3),
    "polynomial": act("Polynomial", coef=[0.1, -0.5, 0.3, 0.2]),
    "sigmoid_like": act("Sigmoid_like"),
    "identity": act("Identity"),
    "tanh": act("ElementwiseNumerical", fn="tanh", deg=400),  # 100 nodes: 3e-4 off; 400 = 800
}


def _cases():
    cases = {}

    def add(case_id, net, input="vec"):
        assert case_id not in cases, case_id
        cases[case_id] = {"input": input, "net": net}

    # Activations: a depth-2 MLP each; two depths for a few; one convolutional use each for some.
    # RectifiedMonomial: depth 1 only (neural-tangents returns NaN for an input with itself, cos = 1,
    # which a second layer spreads to every entry).
    for name, a in ACTIVATIONS.items():
        if name.startswith("rectified_monomial"):
            add(f"act/{name}/d1", [dense(), a, READOUT])
        else:
            add(f"act/{name}/d2", [dense(), a, dense(1.2, 0.3), a, READOUT])
    for name in ("relu", "erf", "gelu", "abs", "tanh", "sign"):
        a = ACTIVATIONS[name]
        add(f"act/{name}/d1", [dense(), a, READOUT])
        add(f"act/{name}/d4", [dense(), a] * 4 + [READOUT])
        add(
            f"act/{name}/conv",
            [conv(), a, conv((2, 2), padding="VALID"), a, ["Flatten", {}], READOUT],
            input="img",
        )
    # Hermite assumes unit-variance inputs: LayerNorm first (exact on Gaussian inputs).
    for degree in (1, 2, 3):
        ln = ["LayerNorm", {"axis": -1}]
        add(
            f"act/hermite{degree}/d2",
            [
                dense(),
                ln,
                act("Hermite", degree=degree),
                dense(1.2, 0.3),
                ln,
                act("Hermite", degree=degree),
                READOUT,
            ],
        )

    # Dense: scales, no bias, depths, both parameterizations.
    for w, b in ((1.0, None), (0.7, 0.0), (2.0, 0.5)):
        add(f"dense/w{w}/b{b}", [dense(w, b), RELU, dense(w, b), RELU, dense(w, b, out=1)])
    for depth in (1, 3):
        for b in (0.2, None):
            add(
                f"dense/standard/d{depth}/b{b}",
                [x for _ in range(depth) for x in (dense(1.3, b, param="standard"), RELU)]
                + [dense(1.0, b, out=1, param="standard")],
            )
    add("dense/on_seq", [dense(), RELU, ["Flatten", {}], READOUT], input="seq")
    add("dense/on_img", [dense(), RELU, ["GlobalAvgPool", {}], READOUT], input="img")

    # Conv 2-D: paddings x strides x readouts; non-square filters; depths; standard parameterization.
    for padding in ("SAME", "VALID", "CIRCULAR"):
        for strides in ((1, 1), (2, 2), (2, 1)):
            s = "x".join(map(str, strides))
            add(
                f"conv2d/{padding}/s{s}/flatten",
                [
                    conv(strides=strides, padding=padding),
                    RELU,
                    conv((2, 2), padding=padding),
                    RELU,
                    ["Flatten", {}],
                    READOUT,
                ],
                input="img",
            )
            add(
                f"conv2d/{padding}/s{s}/gap",
                [
                    conv(strides=strides, padding=padding),
                    RELU,
                    conv((2, 2), padding=padding),
                    RELU,
                    ["GlobalAvgPool", {}],
                    READOUT,
                ],
                input="img",
            )
    add(
        "conv2d/filter2x3/flatten",
        [conv((2, 3), padding="VALID"), RELU, conv((3, 2)), RELU, ["Flatten", {}], READOUT],
        input="img",
    )
    add("conv2d/filter1x1/gap", [conv((1, 1)), RELU, ["GlobalSumPool", {}], READOUT], input="img")
    for depth in (1, 3):
        add(
            f"conv2d/depth{depth}/gap",
            [x for _ in range(depth) for x in (conv(), RELU)] + [["GlobalAvgPool", {}], READOUT],
            input="img",
        )
    for b in (0.2, None):
        add(
            f"conv2d/standard/b{b}",
            [
                conv(b=b, param="standard"),
                RELU,
                conv(b=b, param="standard", strides=(2, 2)),
                RELU,
                ["GlobalAvgPool", {}],
                dense(1.0, b, out=1, param="standard"),
            ],
            input="img",
        )
    add(
        "conv2d/standard/flatten",
        [conv(param="standard"), RELU, ["Flatten", {}], dense(1.0, 0.1, out=1, param="standard")],
        input="img",
    )

    # Conv 1-D.
    for padding in ("SAME", "VALID", "CIRCULAR"):
        for stride in (1, 2):
            add(
                f"conv1d/{padding}/s{stride}/flatten",
                [
                    conv((3,), strides=(stride,), padding=padding),
                    RELU,
                    conv((2,), padding=padding),
                    RELU,
                    ["Flatten", {}],
                    READOUT,
                ],
                input="seq",
            )
            add(
                f"conv1d/{padding}/s{stride}/gap",
                [
                    conv((3,), strides=(stride,), padding=padding),
                    RELU,
                    conv((2,), padding=padding),
                    RELU,
                    ["GlobalAvgPool", {}],
                    READOUT,
                ],
                input="seq",
            )
    add(
        "conv1d/standard/gap",
        [
            conv((3,), param="standard"),
            ACTIVATIONS["erf"],
            ["GlobalSumPool", {}],
            dense(1.0, 0.1, out=1, param="standard"),
        ],
        input="seq",
    )

    # Local pooling.
    for pool in ("AvgPool", "SumPool"):
        for window, strides, padding in (
            ((2, 2), (2, 2), "VALID"),
            ((3, 3), (1, 1), "SAME"),
            ((2, 2), (1, 1), "VALID"),
            ((3, 2), (2, 1), "SAME"),
        ):
            tag = f"w{window[0]}x{window[1]}/s{strides[0]}x{strides[1]}/{padding}"
            add(
                f"pool/{pool}/{tag}",
                [
                    conv(),
                    RELU,
                    [
                        pool,
                        {
                            "window_shape": list(window),
                            "strides": list(strides),
                            "padding": padding,
                        },
                    ],
                    conv(),
                    RELU,
                    ["Flatten", {}],
                    READOUT,
                ],
                input="img",
            )
        add(
            f"pool/{pool}/1d",
            [
                conv((2,)),
                RELU,
                [pool, {"window_shape": [2], "strides": [2], "padding": "VALID"}],
                ["GlobalAvgPool", {}],
                READOUT,
            ],
            input="seq",
        )
    add(
        "pool/AvgPool/normalize_edges",
        [
            conv(),
            RELU,
            [
                "AvgPool",
                {
                    "window_shape": [3, 3],
                    "strides": [1, 1],
                    "padding": "SAME",
                    "normalize_edges": True,
                },
            ],
            ["Flatten", {}],
            READOUT,
        ],
        input="img",
    )
    add(
        "pool/AvgPool/on_input",
        [
            ["AvgPool", {"window_shape": [2, 2], "strides": [1, 1], "padding": "VALID"}],
            conv(),
            RELU,
            ["GlobalAvgPool", {}],
            READOUT,
        ],
        input="img",
    )

    # Global pooling and Flatten directly on the input; both global pools on 1-D.
    for pool in ("GlobalAvgPool", "GlobalSumPool"):
        add(f"global/{pool}/img", [conv(), RELU, conv(), RELU, [pool, {}], READOUT], input="img")
        add(f"global/{pool}/seq", [conv((3,)), RELU, [pool, {}], READOUT], input="seq")
        add(f"global/{pool}/on_input", [[pool, {}], dense(), RELU, READOUT], input="img")
    add("flatten/on_input/img", [["Flatten", {}], dense(), RELU, READOUT], input="img")
    add(
        "flatten/on_input/seq", [["Flatten", {}], dense(), ACTIVATIONS["erf"], READOUT], input="seq"
    )

    # Myrtle-style CNN (3x3 SAME convs, ReLU, 2x2 average pools, global pool, linear readout).
    add(
        "myrtle5/img8",
        [
            conv(),
            RELU,
            conv(),
            RELU,
            ["AvgPool", {"window_shape": [2, 2], "strides": [2, 2]}],
            conv(),
            RELU,
            ["AvgPool", {"window_shape": [2, 2], "strides": [2, 2]}],
            conv(),
            RELU,
            ["GlobalAvgPool", {}],
            READOUT,
        ],
        input="img8",
    )

    # LayerNorm (NT's rule assumes Gaussian inputs: used after Dense/Conv only).
    add(
        "layernorm/vec",
        [dense(), ["LayerNorm", {"axis": -1}], RELU, dense(), ["LayerNorm", {}], READOUT],
    )
    add(
        "layernorm/eps", [dense(0.01, 0.0), ["LayerNorm", {"axis": -1, "eps": 1e-4}], RELU, READOUT]
    )
    add(
        "layernorm/img/channel",
        [conv(), ["LayerNorm", {"axis": -1}], RELU, ["Flatten", {}], READOUT],
        input="img",
    )
    add(
        "layernorm/img/all",
        [conv(), ["LayerNorm", {"axis": [1, 2, 3]}], RELU, ["GlobalAvgPool", {}], READOUT],
        input="img",
    )
    add(
        "layernorm/seq/all",
        [conv((3,)), ["LayerNorm", {"axis": [1, 2]}], ACTIVATIONS["erf"], ["Flatten", {}], READOUT],
        input="seq",
    )

    # Identity.
    add("identity/vec", [dense(), ["Identity", {}], RELU, ["Identity", {}], READOUT])
    add(
        "identity/img",
        [["Identity", {}], conv(), RELU, ["Identity", {}], ["GlobalAvgPool", {}], READOUT],
        input="img",
    )

    # Dropout (NT's rule: the same-example diagonal is scaled by 1/rate; keep rate `rate`).
    for rate in (0.5, 0.9):
        add(
            f"dropout/train/r{rate}",
            [dense(), RELU, ["Dropout", {"rate": rate}], dense(), RELU, READOUT],
        )
    add("dropout/test", [dense(), RELU, ["Dropout", {"rate": 0.5, "mode": "test"}], READOUT])
    add(
        "dropout/img/gap",
        [conv(), RELU, ["Dropout", {"rate": 0.7}], conv(), RELU, ["GlobalAvgPool", {}], READOUT],
        input="img",
    )
    add(
        "dropout/img/flatten",
        [conv(), RELU, ["Dropout", {"rate": 0.7}], ["Flatten", {}], READOUT],
        input="img",
    )

    # Global self-attention (NT's conventions; linear scaling = tied keys and queries).
    def attn(**kw):
        base = {"n_chan_out": WIDTH, "n_chan_key": WIDTH, "n_chan_val": WIDTH, "n_heads": 2}
        return ["GlobalSelfAttention", {**base, **kw}]

    for mech in ("SOFTMAX", "IDENTITY", "ABS", "RELU"):
        add(
            f"attention/{mech}/seq",
            [conv((1,)), attn(attention_mechanism=mech), RELU, ["GlobalAvgPool", {}], READOUT],
            input="seq",
        )
    add(
        "attention/SOFTMAX/img/stds",
        [
            conv(),
            RELU,
            attn(W_key_std=1.3, W_query_std=0.8, W_value_std=1.2, W_out_std=0.9, b_std=0.2),
            ["GlobalAvgPool", {}],
            READOUT,
        ],
        input="img",
    )
    add("attention/SOFTMAX/on_input", [attn(b_std=0.1), ["Flatten", {}], READOUT], input="seq")
    add(
        "attention/SOFTMAX/flatten",
        [
            conv((2,)),
            ACTIVATIONS["erf"],
            attn(attention_mechanism="SOFTMAX"),
            ["Flatten", {}],
            READOUT,
        ],
        input="seq",
    )
    add(
        "attention/IDENTITY/sqrt_scaling",
        [
            conv((1,)),
            attn(attention_mechanism="IDENTITY", linear_scaling=False, W_key_std=0.9, b_std=0.1),
            RELU,
            ["GlobalAvgPool", {}],
            READOUT,
        ],
        input="seq",
    )
    add(
        "attention/two_layers",
        [
            conv((1,)),
            attn(),
            RELU,
            attn(attention_mechanism="RELU"),
            ["GlobalAvgPool", {}],
            READOUT,
        ],
        input="seq",
    )

    # Combinators and residual blocks (neural-tangents' FanInSum needs Gaussian branches: the blocks
    # take pre-activations).
    block = serial(
        ["FanOut", {"num": 2}],
        parallel(serial(conv(), RELU, conv(w=1.0, b=0.0)), ["Identity", {}]),
        ["FanInSum", {}],
    )
    add(
        "residual/conv/gap",
        [conv(), block, block, RELU, ["GlobalAvgPool", {}], READOUT],
        input="img",
    )
    add("residual/conv/flatten", [conv(), block, ["Flatten", {}], READOUT], input="img")
    add(
        "repeat/residual",
        [conv(), ["repeat", {"layer": block, "n": 3}], ["GlobalAvgPool", {}], READOUT],
        input="img",
    )
    add("repeat/mlp", [dense(), ["repeat", {"layer": serial(RELU, dense()), "n": 3}], READOUT])
    mlp_block = serial(
        ["FanOut", {"num": 2}],
        parallel(serial(dense(), RELU, dense()), ["Identity", {}]),
        ["FanInSum", {}],
    )
    add("residual/mlp", [dense(), mlp_block, mlp_block, RELU, READOUT])
    add(
        "fanout3/sum",
        [
            dense(),
            ["FanOut", {"num": 3}],
            parallel(dense(), dense(0.8, 0.1), ["Identity", {}]),
            ["FanInSum", {}],
            RELU,
            READOUT,
        ],
    )
    add(
        "concat/channels/vec",
        [
            dense(),
            ["FanOut", {"num": 2}],
            parallel(RELU, dense()),
            ["FanInConcat", {"axis": -1}],
            dense(),
            RELU,
            READOUT,
        ],
    )
    add(
        "concat/channels/img",
        [
            conv(),
            ["FanOut", {"num": 2}],
            parallel(serial(RELU, conv()), conv((1, 1))),
            ["FanInConcat", {}],
            conv(),
            RELU,
            ["GlobalAvgPool", {}],
            READOUT,
        ],
        input="img",
    )
    add(
        "concat/spatial/seq",
        [
            conv((3,)),
            ["FanOut", {"num": 2}],
            parallel(conv((2,)), dense(0.8, 0.3)),
            ["FanInConcat", {"axis": 1}],
            conv((2,)),
            RELU,
            ["GlobalAvgPool", {}],
            READOUT,
        ],
        input="seq",
    )
    add(
        "prod/vec",
        [
            dense(),
            ["FanOut", {"num": 2}],
            parallel(dense(), dense(0.7, 0.3)),
            ["FanInProd", {}],
            dense(),
            RELU,
            READOUT,
        ],
    )
    add(
        "prod/three",
        [
            dense(),
            ["FanOut", {"num": 3}],
            parallel(serial(RELU, dense()), dense(), serial(ACTIVATIONS["erf"], dense(1.1, 0.0))),
            ["FanInProd", {}],
            READOUT,
        ],
    )
    add(
        "prod/img",
        [
            conv(),
            ["FanOut", {"num": 2}],
            parallel(conv(), serial(RELU, conv())),
            ["FanInProd", {}],
            ["GlobalAvgPool", {}],
            READOUT,
        ],
        input="img",
    )
    add(
        "parallel/standard",
        [
            dense(param="standard"),
            ["FanOut", {"num": 2}],
            parallel(serial(RELU, dense(param="standard")), dense(0.9, None, param="standard")),
            ["FanInSum", {}],
            RELU,
            dense(1.0, 0.1, out=1, param="standard"),
        ],
    )
    return cases


CASES = _cases()


def walk(spec):
    """Yield every layer spec `[name, kwargs]` of a (possibly nested) spec, outer first."""
    name, kw = spec
    yield spec
    if name in ("serial", "parallel"):
        for s in kw["layers"]:
            yield from walk(s)
    elif name == "repeat":
        yield from walk(kw["layer"])
