"""Weight-stationary PE array with double-buffered weights, broadcast rows and adder-tree columns."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .config import ArrayConfig, ArrayKind, signed_width
from .mac_pe import MacPE
from .temporal_pe import TemporalPE
from .temporal_pe_r2 import TemporalPE2

__all__ = ["PEArray", "TREE_GROUP", "w_layout", "x_layout", "y_layout"]

TREE_GROUP = 4  # rows summed by the first (registered) adder-tree stage: two adder levels


def w_layout(config: ArrayConfig, kind: ArrayKind, load_width: int) -> data.StructLayout:
    """Payload of the array's weight stream: ``load_width`` weights and the tile's masks."""
    return data.StructLayout({
        "data": data.ArrayLayout(signed(config.weight_bits(kind)), load_width),
        "rows": config.rows, "cols": config.cols,  # 1 = a real weight, 0 = padding (loaded as 0)
    })


def x_layout(config: ArrayConfig) -> data.StructLayout:
    """Payload of the activation stream: one vector, ``last`` on a tile's final one."""
    return data.StructLayout({"data": data.ArrayLayout(signed(config.act_width), config.rows),
                              "last": 1})


def y_layout(config: ArrayConfig) -> data.StructLayout:
    """Payload of the result stream: one column sum per column."""
    return data.StructLayout({"data": data.ArrayLayout(signed(config.acc_width), config.cols),
                              "last": 1})


class PEArray(wiring.Component):
    """A ``rows x cols`` weight-stationary array computing exact partial sums of GEMM tiles.

    PE ``(r, c)`` holds the weight ``q[n0 + c, k0 + r]``. Activation ``x[m, k0 + r]`` is
    broadcast to every PE of row ``r``; each column sums its PEs' products with a two-stage
    adder tree, so one output beat carries ``y[m, c] = sum_r x[m, k0 + r] * q[n0 + c, k0 + r]``
    for every column, exactly. Every PE works on the same vector in the same beat, so nothing
    is skewed and a tile switch costs no fill or drain.

    Double buffering: every PE has an active and a shadow weight register. The next tile's
    weights stream into the shadow registers while the current tile computes; the vector after
    one flagged ``last`` swaps them in (the swap travels with that vector: it happens in the
    cycle the vector is taken), so tiles follow each other back to back, whatever their beat
    lengths.

    Streams:

    - ``w``: one load beat carries ``load_width`` weights in column-major order (weight ``i`` of
      a tile is row ``i % rows`` of column ``i // rows``), ``rows * cols / load_width`` beats per
      tile, plus the tile's ``rows``/``cols`` masks (the same on every beat of a tile): a weight
      whose row or column mask bit is 0 is loaded as 0, so padding can never lengthen a beat.
      Accepted while the shadow registers are free (and in the cycle they are swapped in).
    - ``x``: ``{data: rows x signed(act_width), last}``; ``last`` marks the tile's final
      vector. The first vector (after reset or after a ``last``) waits until a whole tile has
      been loaded and swaps it in.
    - ``y``: ``{data: cols x signed(acc_width), last}``, one beat per ``x`` beat, in order.

    Schedule. A vector's *beat* is ``P`` cycles: ``P = 1`` for the MAC arrays; for FineQ
    ``P = max(1, max |q|)`` over the tile (``adaptive_phases``) or ``code_length``; for the
    radix-2 FineQ array (``FINEQ_R2``) ``P = max(1, ceil(max |q| / 2))`` or
    ``ceil(code_length / 2)`` (``ArrayConfig.beat_length``). The array broadcasts a phase
    counter ``P-1 .. 0`` and every PE pulses ``|q|`` times (radix 2: ``ceil(|q| / 2)``). Everything
    advances under one enable that drops only while ``y`` holds a result nobody takes.

    Latency: a vector taken in cycle ``t`` gives a ``y`` beat valid from cycle ``t + P + 3``
    (``P`` cycles of pulses, the two tree stages, the output register). Throughput: one vector
    per ``P`` cycles (``rows * cols / P`` multiply-accumulates per cycle). Loading a tile takes
    ``rows * cols / load_width`` cycles and overlaps the previous tile's vectors.

    Parameters
    ----------
    config : ArrayConfig
        Sizes and widths.
    kind : ArrayKind
        ``FINEQ`` (temporal PEs, 3-bit weights), ``FINEQ_R2`` (radix-2 temporal PEs, the same
        weights), ``MAC8X8`` or ``MAC8X3`` (multipliers).
    load_width : int, optional
        Weights per ``w`` beat; must divide ``rows * cols``. Default: one column (``rows``).
    """

    def __init__(self, config: ArrayConfig, kind: ArrayKind = ArrayKind.FINEQ, *,
                 load_width: int | None = None):
        if not isinstance(config, ArrayConfig):
            raise TypeError(f"config must be an ArrayConfig, not {config!r}")
        if not isinstance(kind, ArrayKind):
            raise TypeError(f"kind must be an ArrayKind, not {kind!r}")
        rows, cols = config.rows, config.cols
        load_width = rows if load_width is None else load_width
        if not isinstance(load_width, int) or isinstance(load_width, bool):
            raise TypeError(f"load_width must be an integer, not {load_width!r}")
        if load_width < 1 or (rows * cols) % load_width:
            raise ValueError(f"load_width must divide rows * cols = {rows * cols}, not {load_width}")
        self.config, self.kind, self.load_width = config, kind, load_width
        self.load_beats = rows * cols // load_width
        self.w_layout = w_layout(config, kind, load_width)
        self.x_layout = x_layout(config)
        self.y_layout = y_layout(config)
        super().__init__({
            "w": In(stream.Signature(self.w_layout)),
            "x": In(stream.Signature(self.x_layout)),
            "y": Out(stream.Signature(self.y_layout)),
            "phases": Out(unsigned(config.phase_width)),  # beat length P of the active tile
            "computing": Out(1),  # a vector is in its beat (for the performance counters)
        })

    def _make_pe(self):
        cfg = self.config
        if self.kind.temporal:
            pe = TemporalPE2 if self.kind is ArrayKind.FINEQ_R2 else TemporalPE
            return pe(act_width=cfg.act_width, phase_width=cfg.phase_width)
        return MacPE(act_width=cfg.act_width, weight_width=cfg.weight_bits(self.kind))

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        rows, cols = cfg.rows, cfg.cols
        # Control terms are named signals, not Python expressions: an expression connected to
        # every PE would be copied into the netlist once per PE.
        en, swap, load, accept = Signal(), Signal(), Signal(), Signal()
        pes = [[self._make_pe() for _ in range(cols)] for _ in range(rows)]
        for r in range(rows):
            for c in range(cols):
                m.submodules[f"pe_{r}_{c}"] = pes[r][c]

        p_shadow = self._load(m, pes, load, swap)
        first, phase = self._beats(m, pes, en, swap, accept, p_shadow)
        self._tree(m, pes, en)
        for row in pes:
            for pe in row:
                m.d.comb += [pe.swap.eq(swap), pe.en.eq(en & self.computing)]
                if self.kind.temporal:
                    m.d.comb += [pe.first.eq(first), pe.phase.eq(phase)]
        return m

    def _load(self, m, pes, load, swap):
        """Shadow-register loading: beat counter, masks, and the tile's beat length."""
        cfg, rows, cols = self.config, self.config.rows, self.config.cols
        beat = Signal(range(max(2, self.load_beats)))  # (a 1-beat tile: a 1-bit counter, not 0)
        loaded = Signal()  # the shadow registers hold a whole tile
        last_beat = beat == self.load_beats - 1
        m.d.comb += [self.w.ready.eq(~loaded | swap), load.eq(self.w.valid & self.w.ready)]
        with m.If(load):
            m.d.sync += beat.eq(Mux(last_beat, 0, beat + 1))
        m.d.sync += loaded.eq((loaded & ~swap) | (load & last_beat))
        payload = self.w.payload
        for r in range(rows):
            for c in range(cols):
                i = c * rows + r
                keep = payload.rows[r] & payload.cols[c]
                m.d.comb += [
                    pes[r][c].w_in.eq(Mux(keep, payload.data[i % self.load_width], 0)),
                    pes[r][c].w_load.eq(load & (beat == i // self.load_width)),
                ]
        self._loaded = loaded
        if not self.kind.temporal:
            return Const(1, unsigned(cfg.phase_width))
        p_shadow = Signal(unsigned(cfg.phase_width), init=cfg.beat_length(self.kind, cfg.code_length))
        if not cfg.adaptive_phases:
            return Const(cfg.beat_length(self.kind, cfg.code_length), unsigned(cfg.phase_width))
        # Thermometer code of |q| (bit k-1: |q| >= k), ORed over the tile: cheaper than a max.
        longest = 1 << (cfg.weight_width - 1)
        seen = Signal(longest)
        now = Signal(longest)
        beat_seen = 0
        for lane in range(self.load_width):
            # a lane feeds one PE per beat: padding (masked) weights must not count
            keep = 0
            for b in range(self.load_beats):
                r, c = (b * self.load_width + lane) % rows, (b * self.load_width + lane) // rows
                keep = keep | ((beat == b) & payload.rows[r] & payload.cols[c])
            q = payload.data[lane]
            # a signal, not an expression: Amaranth would copy the expression into each compare
            magnitude = Signal(cfg.weight_width, name=f"magnitude_{lane}")
            m.d.comb += magnitude.eq(Mux(keep, Mux(q < 0, -q, q).as_unsigned(), 0))
            beat_seen = beat_seen | Cat(*(magnitude >= k for k in range(1, longest + 1)))
        m.d.comb += now.eq(Mux(beat == 0, 0, seen) | beat_seen)
        with m.If(load):
            m.d.sync += seen.eq(now)
            with m.If(last_beat):
                length = 1
                for k in range(2, longest + 1):  # radix 2: |q| of 3 or 4 is a beat of 2
                    if cfg.beat_length(self.kind, k) > cfg.beat_length(self.kind, k - 1):
                        length = Mux(now[k - 1], cfg.beat_length(self.kind, k), length)
                m.d.sync += p_shadow.eq(length)
        return p_shadow

    def _beats(self, m, pes, en, swap, accept, p_shadow):
        """Vector intake, the beat's phase counter and the swap of the weight registers."""
        cfg, rows = self.config, self.config.rows
        busy = self.computing
        need_swap = Signal(init=1)  # the next vector starts a new tile
        p_active = Signal(unsigned(cfg.phase_width), init=1)
        phase = Signal(unsigned(cfg.phase_width))
        first = Signal()  # first cycle of the current beat
        cur_last, pend, pend_last = Signal(), Signal(), Signal()
        x_reg = [Signal(signed(cfg.act_width), name=f"x_row{r}", reset_less=True)
                 for r in range(rows)]
        # busy & (phase == 0), known a cycle ahead: x.ready, and through it the swap and the
        # shadow loads of every PE, then start at flip-flops, not at a compare of the counter
        last_cycle = Signal()
        m.d.comb += [
            en.eq(~(self.y.valid & ~self.y.ready)),
            self.x.ready.eq(en & (~busy | last_cycle) & (~need_swap | self._loaded)),
            accept.eq(self.x.valid & self.x.ready),
            swap.eq(accept & need_swap),
            self.phases.eq(p_active),
        ]
        for r in range(rows):
            for pe in pes[r]:
                m.d.comb += pe.x.eq(x_reg[r])
        with m.If(en):
            m.d.sync += [first.eq(0), pend.eq(last_cycle), pend_last.eq(cur_last),
                         last_cycle.eq(busy & (phase == 1))]
            with m.If(busy):
                m.d.sync += phase.eq(phase - 1)
            with m.If(last_cycle):
                m.d.sync += busy.eq(0)
        with m.If(accept):
            m.d.sync += [x_reg[r].eq(self.x.payload.data[r]) for r in range(rows)]
            m.d.sync += [busy.eq(1), first.eq(1), cur_last.eq(self.x.payload.last),
                         need_swap.eq(self.x.payload.last)]
            beat_length = Mux(need_swap, p_shadow, p_active)
            m.d.sync += [phase.eq(beat_length - 1), last_cycle.eq(beat_length == 1)]
            with m.If(need_swap):
                m.d.sync += p_active.eq(p_shadow)
        self._pend, self._pend_last = pend, pend_last
        self._last_cycle, self._phase = last_cycle, phase  # (the tests check the first against the second)
        return first, phase

    def _tree(self, m, pes, en):
        """Column sums in two registered stages: groups of TREE_GROUP rows, then the total."""
        cfg, kind, rows, cols = self.config, self.kind, self.config.rows, self.config.cols
        groups = [range(g, min(g + TREE_GROUP, rows)) for g in range(0, rows, TREE_GROUP)]
        product_bound = cfg.psum_bound(kind, 1)
        valid1, last1 = Signal(), Signal()
        part = [[Signal(signed(signed_width(product_bound * len(g))), name=f"part_{i}_{c}",
                        reset_less=True) for i, g in enumerate(groups)] for c in range(cols)]
        total_shape = signed(signed_width(product_bound * rows))
        y_data = [Signal(total_shape, name=f"y_data_{c}", reset_less=True) for c in range(cols)]
        y_last = Signal()
        with m.If(en):
            m.d.sync += [valid1.eq(self._pend), last1.eq(self._pend_last)]
        with m.If(en & self._pend):
            for c in range(cols):
                for i, g in enumerate(groups):
                    m.d.sync += part[c][i].eq(sum(pes[r][c].product for r in g))
        with m.If(self.y.ready):
            m.d.sync += self.y.valid.eq(0)
        with m.If(en & valid1):
            m.d.sync += [self.y.valid.eq(1), y_last.eq(last1)]
            m.d.sync += [y_data[c].eq(sum(part[c])) for c in range(cols)]
        m.d.comb += self.y.payload.last.eq(y_last)
        for c in range(cols):
            m.d.comb += self.y.payload.data[c].eq(y_data[c])  # sign-extends to acc_width
