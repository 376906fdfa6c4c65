"""Accumulator: adds the array's tile sums over K into INT32 lines, two blocks at a time."""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..datapath.array import y_layout
from .accel_config import AcceleratorConfig
from .arith import SPLITS, add_chunked, carry_select, minus_one, named, pending_word, product_carry_save, sign_extend

__all__ = ["Accumulator"]

LINE_BITS = 32 + len(SPLITS)  # a stored line: its 32-bit word and the carries pending into SPLITS


class Accumulator(wiring.Component):
    """``acc[m, c] = sum over the K tiles t of y_t[m, c]`` for every block of ``cols`` channels.

    The array's ``y`` beats arrive in the order block ``b`` (across chunks: every block of
    every chunk), K tile ``t < kt``, token ``m < mc`` (``mc = chunk_m``, or ``last_m`` in the
    last of ``chunks`` chunks). Blocks alternate between two sets of ``chunk_m`` lines (double
    buffering): while the write-back drains one set, the next block accumulates into the other.
    A block's first tile writes its lines, the others read, add and write. Two stages, so that
    no cycle holds both the group factor's product and the 32-bit add (together they limited the
    whole accelerator's clock, ASIC and ECP5): a taken beat's addends (the product, in
    carry-save form) are registered with its line, set and first-tile flag; the next cycle adds
    them to the line read in the cycle the beat was taken (transparent to the write, so the same
    line may be updated every cycle) in up to two carry-save levels and three adds of 11 bits. A line
    is stored as its 32-bit word and the carries pending into bits 11 and 22 (``arith.SPLITS``;
    the value is the word plus the carries at their bits, modulo 2**32), so that no cycle
    propagates a carry through more than a chunk: the line's 32-bit add, behind the first-tile
    multiplexer's fan-out, limited the whole accelerator's clock (ASIC), and so did a 16-bit
    chunk. ``rd_data`` adds the pending carries on the way out. The sizes
    (``kt``, ``nb``, ``chunks``, ``last_m``) and ``grouped``, ``group_log2`` must be stable
    from the cycle of ``go``.

    fineq-v2 (``grouped``): the first beat of every group of ``2**group_log2`` K tiles takes
    the group's factor line from ``scales`` (one unsigned byte per column), and every beat of
    the group adds ``e[c] * y[c]`` instead of ``y[c]`` (a small multiplier per column: the tile
    sum's exact width times 8 bits).

    ``full[s]`` says set ``s`` holds a finished block; the write-back reads it through
    ``rd_set``/``rd_line``/``rd_data`` (2 cycles latency) and frees it with a pulse on
    ``release[s]``. A block waits (``i.ready`` low) until its set is free.

    Throughput: one beat per cycle. Latency: a line is final 2 cycles after its last beat is
    taken (``full`` rises with it).
    """

    def __init__(self, config: AcceleratorConfig):
        if not isinstance(config, AcceleratorConfig):
            raise TypeError(f"config must be an AcceleratorConfig, not {config!r}")
        self.config = config
        self.line_layout = data.ArrayLayout(signed(32), config.cols)
        self.stored_layout = data.ArrayLayout(LINE_BITS, config.cols)  # word and pending carry
        super().__init__({
            "go": In(1),
            "kt": In(16), "nb": In(16), "chunks": In(16), "last_m": In(16),
            "grouped": In(1), "group_log2": In(4),
            "i": In(stream.Signature(y_layout(config.array))),
            "scales": In(stream.Signature(8 * config.cols)),
            "full": Out(2), "release": In(2),
            "rd_set": In(1), "rd_line": In(range(config.chunk_m)),
            "rd_data": Out(self.line_layout),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        tok, t, b, chunk = Signal(range(cfg.chunk_m)), Signal(16), Signal(16), Signal(16)
        s = Signal()  # set of the block being accumulated
        busy = Signal(2)  # set accumulating or full (not free)
        kt_m1, nb_m1, chunks_m1, last_m_m1 = (minus_one(m, n, getattr(self, n)) for n in ("kt", "nb", "chunks", "last_m"))
        # the counters' "at the last value" flags and the chunk's last token are registers, each
        # set from the counter's next value: the compares and the chunk's multiplexer, in series
        # before the counters' enables, limited the whole top on ECP5 (16.0 ns, 13.4 of routing)
        mc_m1 = Signal(range(cfg.chunk_m))
        last_tok, last_t, last_b = Signal(), Signal(), Signal()
        mc_m1_next = Mux(chunk + 1 == chunks_m1, last_m_m1, cfg.chunk_m - 1)
        # registered flags (tok == 0, t == 0, a group's first beat), so that the paths into the
        # group factor's multiplier and out through ``i.ready`` to every PE's enable start at a
        # flip-flop: decoding the group mask there limited the whole top on ECP5 (19.0 ns), and
        # then the AND with the sequencer's ``grouped`` (15.1 ns, 12.9 of routing)
        tok_zero, t_zero, new_group = Signal(init=1), Signal(init=1), Signal()
        starting = tok_zero & t_zero
        grouped = self.grouped if cfg.group_scales else 0
        m.d.comb += self.i.ready.eq((~starting | ~busy.bit_select(s, 1))
                                    & (~new_group | self.scales.valid))
        take = self.i.valid & self.i.ready
        m.d.comb += self.scales.ready.eq(take & new_group)
        next_tok = Mux(last_tok, 0, tok + 1)
        addends = self._scaled(m, new_group)
        done_block = take & last_tok & last_t

        # stage 2: the beat taken in the cycle before, with its addends
        p_valid, p_first, p_set, p_done = Signal(), Signal(), Signal(), Signal()
        p_tok = Signal(range(cfg.chunk_m))
        p_add = [[Signal.like(a, name=f"p_add_{c}_{j}") for j, a in enumerate(words)]
                 for c, words in enumerate(addends)]
        m.d.sync += [p_valid.eq(take), p_first.eq(t_zero), p_set.eq(s), p_done.eq(done_block),
                     p_tok.eq(tok), *(p.eq(a) for ps, words in zip(p_add, addends, strict=True)
                                      for p, a in zip(ps, words, strict=True))]

        mems = [Memory(shape=self.stored_layout, depth=cfg.chunk_m, init=[]) for _ in range(2)]
        olds = []
        for k, mem in enumerate(mems):
            m.submodules[f"set{k}"] = mem
            wr = mem.write_port()
            rmw = mem.read_port(transparent_for=(wr,))
            out = mem.read_port()
            # the line of the beat at the input, read for its add in the next cycle
            m.d.comb += [rmw.addr.eq(tok), wr.addr.eq(p_tok),
                         wr.en.eq(p_valid & (p_set == k)), out.addr.eq(self.rd_line)]
            for c in range(cfg.cols):
                line = named(m, f"set{k}_{c}_line", LINE_BITS, Mux(p_first, 0, rmw.data[c]))
                ops = [line[:32], pending_word(line[32:], SPLITS, 32)] + [sign_extend(p, 32) for p in p_add[c]]
                word, carries = add_chunked(m, f"set{k}_{c}", ops, SPLITS, 32)
                m.d.comb += wr.data[c].eq(Cat(word, carries))
            olds.append(out.data)
        stored = named(m, "rd_stored", LINE_BITS * cfg.cols, Mux(self.rd_set, olds[1].as_value(), olds[0].as_value()))
        lines = [stored[LINE_BITS * c:LINE_BITS * (c + 1)] for c in range(cfg.cols)]
        # the pending carries added on the way out, into a register: the set multiplexer (its
        # select fans out to every bit of a line) and this add, in series with the write-back's
        # column multiplexer into the vector unit's input register, limited the whole top (ASIC,
        # and ECP5 once the array's stall chain was cut: 12.6 ns)
        m.d.sync += self.rd_data.eq(Cat(*(carry_select(v[:32], pending_word(v[32:], SPLITS, 32), 0, 32, SPLITS[0])[0] for v in lines)))

        with m.If(take):
            next_chunk = last_t & last_b  # with last_tok: the chunk's last beat
            m.d.sync += [tok.eq(next_tok), tok_zero.eq(last_tok), new_group.eq(0),
                         last_tok.eq(Mux(last_tok, Mux(next_chunk, mc_m1_next, mc_m1) == 0, tok + 1 == mc_m1))]
            with m.If(last_tok):
                next_t = Mux(last_t, 0, t + 1)
                m.d.sync += [t.eq(next_t), t_zero.eq(last_t), last_t.eq(Mux(last_t, kt_m1 == 0, t + 1 == kt_m1)),
                             new_group.eq(grouped & ((next_t & ((1 << self.group_log2) - 1)) == 0))]
            with m.If(done_block):
                m.d.sync += [s.eq(~s), b.eq(Mux(last_b, 0, b + 1)), last_b.eq(Mux(last_b, nb_m1 == 0, b + 1 == nb_m1))]
                with m.If(last_b):
                    m.d.sync += [chunk.eq(chunk + 1), mc_m1.eq(mc_m1_next)]
        set_busy = Mux(take & starting, 1 << s, 0)
        set_full = Mux(p_valid & p_done, 1 << p_set, 0)
        m.d.sync += [busy.eq((busy | set_busy) & ~self.release),
                     self.full.eq((self.full | set_full) & ~self.release)]
        with m.If(self.go):
            first_mc_m1 = Mux(self.chunks == 1, self.last_m - 1, cfg.chunk_m - 1)  # from the sizes: go's cycle
            m.d.sync += [tok.eq(0), t.eq(0), b.eq(0), chunk.eq(0), s.eq(0), busy.eq(0),
                         self.full.eq(0), p_valid.eq(0), tok_zero.eq(1), t_zero.eq(1), new_group.eq(grouped),
                         mc_m1.eq(first_mc_m1), last_tok.eq(first_mc_m1 == 0),
                         last_t.eq(self.kt == 1), last_b.eq(self.nb == 1)]
        return m

    def _scaled(self, m, new_group):
        """The beat's sums, times the group factor of each column where the build has them: for
        each column, the words whose sum is its addend (the product in carry-save form, modulo
        2**32, so that the next stage adds it with the line in one carry-propagate add)."""
        cfg = self.config
        width = cfg.array.sum_width(cfg.kind, cfg.rows)  # the tile sum's exact width
        sums = [self.i.payload.data[c][:width].as_signed() for c in range(cfg.cols)]
        if not cfg.group_scales:
            return [[v] for v in sums]
        factors = Signal(8 * cfg.cols, init=int("01" * cfg.cols, 16))
        with m.If(self.scales.valid & self.scales.ready):
            m.d.sync += factors.eq(self.scales.payload)
        with m.If(self.go):
            m.d.sync += factors.eq(int("01" * cfg.cols, 16))
        now = Mux(new_group, self.scales.payload, factors)
        out = []
        for c in range(cfg.cols):
            e = now[8 * c:8 * c + 8]  # 1 through a job without groups: ``factors`` from go
            if cfg.dsp_products:  # one word, for a DSP block
                out.append([named(m, f"mul_{c}", signed(32), sums[c] * e)])
            else:
                out.append(product_carry_save(m, f"mul_{c}", sums[c], e, 32))
        return out
