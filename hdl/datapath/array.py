"""Weight-stationary systolic array, with temporal-coding PEs (FineQ) or multiply-accumulate PEs."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from .config import ArrayConfig, ArrayKind
from .mac_pe import MacPE
from .skew import Skew
from .temporal_pe import TemporalPE

__all__ = ["SystolicArray", "State"]


class State(enum.Enum, shape=1):
    LOAD = 0  # accepting `cols` weight beats (once the pipeline has drained)
    COMPUTE = 1  # accepting activation vectors until one carries `last`


class SystolicArray(wiring.Component):
    """A ``rows x cols`` weight-stationary array computing exact partial sums of a GEMM tile.

    PE ``(r, c)`` holds the weight ``q[n0 + c, k0 + r]``. Activation vector ``x[m, k0:k0+rows]``
    enters row ``r`` skewed by ``r`` beats and moves right one column per beat; partial sums move
    down one row per beat; column ``c`` is de-skewed by ``cols-1-c`` beats so that one output beat
    carries ``y[m, c] = sum_r x[m, k0 + r] * q[n0 + c, k0 + r]`` for every column, exactly (each
    row's psum register is sized to its bound, the output is sign-extended to ``acc_width``).

    Streams (all with ``valid``/``ready``; see docs/hdl.md for the flattened Verilog ports):

    - ``w``: one array column per beat, ``w.payload[r] = q[n0 + c, k0 + r]``, columns in order
      ``c = 0 .. cols-1``. Accepted only in the LOAD state and once no activation is in flight.
    - ``x``: ``{data: rows x signed(act_width), last}``; ``last`` on the final vector of the tile
      sends the array back to LOAD, so the next ``w`` beats replace the weights once it drains.
    - ``y``: ``{data: cols x signed(acc_width), last}``, one beat per ``x`` beat, in order, with
      the ``last`` of its ``x`` beat.

    Schedule. A *beat* is ``P`` cycles: ``P = 1`` for the MAC arrays; for FineQ
    ``P = max(1, max |q|)`` over the loaded weights (``adaptive_phases``) or ``code_length``.
    Within a beat the array broadcasts a phase counter ``P-1 .. 0`` and every PE pulses ``|q|``
    times. All PEs advance in lockstep under one enable that drops when ``y`` is full and not
    being read (back-pressure) or nothing is in flight or arriving (idle).

    Latency: the result of an ``x`` beat taken in cycle ``t`` is valid on ``y`` from cycle
    ``t + (rows + cols - 1) * P + 2`` without stalls. Throughput: one vector per ``P`` cycles
    (``rows * cols / P`` multiply-accumulates per cycle). Loading takes ``cols`` cycles.

    Parameters
    ----------
    config : ArrayConfig
        Sizes and widths.
    kind : ArrayKind
        ``FINEQ`` (temporal PEs, 3-bit weights), ``MAC8X8`` or ``MAC8X3`` (multipliers).
    """

    def __init__(self, config: ArrayConfig, kind: ArrayKind = ArrayKind.FINEQ):
        if not isinstance(config, ArrayConfig):
            raise TypeError(f"config must be an ArrayConfig, not {config!r}")
        if not isinstance(kind, ArrayKind):
            raise TypeError(f"kind must be an ArrayKind, not {kind!r}")
        self.config = config
        self.kind = kind
        rows, cols = config.rows, config.cols
        self.w_layout = data.ArrayLayout(signed(config.weight_bits(kind)), rows)
        self.x_layout = data.StructLayout({
            "data": data.ArrayLayout(signed(config.act_width), rows),
            "last": 1,
        })
        self.y_layout = data.StructLayout({
            "data": data.ArrayLayout(signed(config.acc_width), cols),
            "last": 1,
        })
        super().__init__({
            "w": In(stream.Signature(self.w_layout)),
            "x": In(stream.Signature(self.x_layout)),
            "y": Out(stream.Signature(self.y_layout)),
            # Beat length P of the loaded tile (status for performance counters; 1 for MAC).
            "phases": Out(unsigned(config.phase_width)),
        })

    def _make_pe(self, row):
        cfg, kind = self.config, self.kind
        if kind.temporal:
            return TemporalPE(
                act_width=cfg.act_width,
                psum_width=cfg.psum_width(kind, row),
                phase_width=cfg.phase_width,
            )
        return MacPE(
            act_width=cfg.act_width,
            weight_width=cfg.weight_bits(kind),
            psum_width=cfg.psum_width(kind, row),
        )

    def elaborate(self, platform):
        m = Module()
        cfg, kind = self.config, self.kind
        rows, cols = cfg.rows, cfg.cols
        depth = rows + cols  # beats from acceptance to the output register

        state = Signal(State)
        col = Signal(range(cols))
        valid = Signal(depth)  # valid[k]: a vector is k beats into the array
        lasts = Signal(depth)
        # Control terms are named signals, not Python expressions: an expression connected to
        # every PE would be copied into the netlist once per PE.
        in_flight = Signal()
        first, last = Signal(), Signal()
        stall, run, advance, boundary = Signal(), Signal(), Signal(), Signal()
        accept, step, capture = Signal(), Signal(), Signal()
        m.d.comb += in_flight.eq(valid.any())

        # Beat control. `first`/`last` mark the first and last cycle of a beat.
        if kind.temporal:
            phases = Signal(unsigned(cfg.phase_width), init=cfg.code_length)
            phase = Signal(unsigned(cfg.phase_width))  # counts P-1 down to 0
            m.d.comb += [
                first.eq(phase == phases - 1),
                last.eq(phase == 0),
            ]
        else:
            phases = Const(1, unsigned(cfg.phase_width))
            phase = Const(0, unsigned(cfg.phase_width))
            m.d.comb += [first.eq(1), last.eq(1)]
        m.d.comb += self.phases.eq(phases)

        m.d.comb += [
            # A first cycle overwrites the output register: it waits while y is full and unread.
            stall.eq(first & self.y.valid & ~self.y.ready),
            run.eq(((state == State.COMPUTE) & self.x.valid) | in_flight),
            advance.eq(run & ~stall),
            # A vector may enter at the end of a beat, or at once when the array is empty.
            boundary.eq(last | ~in_flight),
            self.x.ready.eq((state == State.COMPUTE) & boundary & ~stall),
            accept.eq(self.x.valid & self.x.ready),
            step.eq(advance & boundary),  # activations and valid bits move
            capture.eq(advance & first),  # partial sums leave the bottom row
        ]

        if kind.temporal:
            with m.If(step):
                m.d.sync += phase.eq(phases - 1)
            with m.Elif(advance):
                m.d.sync += phase.eq(phase - 1)

        with m.If(step):
            m.d.sync += [
                valid.eq(Cat(accept, valid[:-1])),
                lasts.eq(Cat(accept & self.x.payload.last, lasts[:-1])),
            ]
        with m.If(accept & self.x.payload.last):
            m.d.sync += state.eq(State.LOAD)

        # Input skew: row r waits r beats; a bubble enters as zeros (fewer toggles than garbage).
        m.submodules.input_skew = iskew = Skew(
            shape=signed(cfg.act_width), delays=range(rows))
        m.d.comb += iskew.en.eq(step)
        for r in range(rows):
            m.d.comb += iskew.i[r].eq(Mux(accept, self.x.payload.data[r], 0))

        # Weight loading: a column chain fed at the right edge, so beat c ends in column c.
        load = Signal()
        m.d.comb += [
            self.w.ready.eq((state == State.LOAD) & ~in_flight),
            load.eq(self.w.valid & self.w.ready),
        ]
        with m.If(load):
            m.d.sync += col.eq(Mux(col == cols - 1, 0, col + 1))
            with m.If(col == cols - 1):
                m.d.sync += state.eq(State.COMPUTE)

        if kind.temporal:
            self._beat_length(m, load, col, phases)

        # The PE grid.
        pes = [[self._make_pe(r) for c in range(cols)] for r in range(rows)]
        for r in range(rows):
            for c in range(cols):
                pe = pes[r][c]
                m.submodules[f"pe_{r}_{c}"] = pe
                m.d.comb += [
                    pe.w_in.eq(self.w.payload[r] if c == cols - 1 else pes[r][c + 1].w_out),
                    pe.w_load.eq(load),
                    pe.x_in.eq(iskew.o[r] if c == 0 else pes[r][c - 1].x_out),
                    pe.x_shift.eq(step),
                    pe.psum_in.eq(0 if r == 0 else pes[r - 1][c].psum_out),
                    pe.en.eq(advance),
                ]
                if kind.temporal:
                    m.d.comb += [pe.first.eq(first), pe.phase.eq(phase)]

        # Output de-skew and output register.
        out_shape = signed(cfg.psum_width(kind, rows - 1))
        m.submodules.output_deskew = oskew = Skew(
            shape=out_shape, delays=[cols - 1 - c for c in range(cols)])
        m.d.comb += oskew.en.eq(capture)
        y_data = [Signal(out_shape, name=f"y_data_{c}", reset_less=True) for c in range(cols)]
        y_last = Signal()
        for c in range(cols):
            m.d.comb += [
                oskew.i[c].eq(pes[rows - 1][c].psum_out),
                self.y.payload.data[c].eq(y_data[c]),  # sign-extends to acc_width
            ]
        m.d.comb += self.y.payload.last.eq(y_last)
        with m.If(self.y.ready):
            m.d.sync += self.y.valid.eq(0)
        with m.If(capture):
            m.d.sync += [
                self.y.valid.eq(valid[-1]),
                y_last.eq(lasts[-1]),
            ]
            m.d.sync += [y_data[c].eq(oskew.o[c]) for c in range(cols)]
        return m

    def _beat_length(self, m, load, col, phases):
        """Track the largest |q| of the weights being loaded and set the beat length from it."""
        cfg = self.config
        if not cfg.adaptive_phases:
            with m.If(load & (col == cfg.cols - 1)):
                m.d.sync += phases.eq(cfg.code_length)
            return
        # Thermometer code of |q| (bit k-1: |q| >= k), ORed over the tile: cheaper than a max tree.
        longest = 1 << (cfg.weight_width - 1)
        seen = Signal(longest)
        beat = []
        for r in range(cfg.rows):
            q = self.w.payload[r]
            magnitude = Mux(q < 0, -q, q).as_unsigned()
            beat.append(Cat(*(magnitude >= k for k in range(1, longest + 1))))
        beat_seen = 0
        for b in beat:
            beat_seen = beat_seen | b
        now = Signal(longest)
        m.d.comb += now.eq(Mux(col == 0, 0, seen) | beat_seen)
        with m.If(load):
            m.d.sync += seen.eq(now)
            with m.If(col == cfg.cols - 1):
                length = 1
                for k in range(2, longest + 1):
                    length = Mux(now[k - 1], k, length)
                m.d.sync += phases.eq(length)
