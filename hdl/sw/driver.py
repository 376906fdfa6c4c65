"""Register-level driver of the accelerator, generated from hdl/soc/regmap.py.

The bus is two coroutines, ``read32(offset)`` and ``write32(offset, value)``, so the same driver
runs against cocotbext-axi's AxiLiteMaster in the testbenches or any other transport::

    drv = Driver(read32, write32)
    info = await drv.identify()
    status = await drv.run(image)          # image: hdl.sw.image.MemoryImage
"""

from __future__ import annotations

from dataclasses import dataclass

from hdl.soc.regmap import ID_VALUE, REGISTERS, ErrorCode, by_name

__all__ = ["Driver", "Status", "AcceleratorError", "REG"]

REG = {r.name: r.offset for r in REGISTERS}
_REGS = by_name()


class AcceleratorError(RuntimeError):
    """The accelerator reported an error, or did not answer as the register map says."""


@dataclass
class Status:
    busy: bool
    done: bool
    error: bool
    code: ErrorCode
    start_ignored: bool = False
    cycles: int = 0
    busy_cycles: int = 0
    stall_cycles: int = 0

    @classmethod
    def decode(cls, word: int) -> "Status":
        f = {fl.name: (word & fl.mask) >> fl.lsb for fl in _REGS["STATUS"].fields}
        try:
            code = ErrorCode(f["ERR_CODE"])
        except ValueError:
            raise AcceleratorError(f"STATUS 0x{word:08x} holds an unknown error code") from None
        return cls(bool(f["BUSY"]), bool(f["DONE"]), bool(f["ERROR"]), code,
                   bool(f["START_IGNORED"]))


def field_value(reg: str, **fields) -> int:
    word = 0
    for fl in _REGS[reg].fields:
        if fl.name in fields:
            v = int(fields.pop(fl.name))
            if v >> fl.width:
                raise ValueError(f"{reg}.{fl.name} = {v} does not fit {fl.width} bits")
            word |= v << fl.lsb
    if fields:
        raise ValueError(f"{reg} has no fields {sorted(fields)}")
    return word


class Driver:
    def __init__(self, read32, write32):
        self.read32 = read32
        self.write32 = write32

    async def read(self, name: str) -> int:
        return await self.read32(REG[name])

    async def write(self, name: str, value: int) -> None:
        if _REGS[name].access == "ro":
            raise ValueError(f"{name} is read-only")
        await self.write32(REG[name], int(value) & 0xFFFFFFFF)

    async def identify(self) -> dict:
        ident = await self.read("ID")
        if ident != ID_VALUE:
            raise AcceleratorError(f"ID reads 0x{ident:08x}, expected 0x{ID_VALUE:08x}")
        geo = await self.read("GEOMETRY")
        caps = await self.read("CAPS")
        info = {"rows": geo & 0xFFFF, "cols": geo >> 16, "max_m": await self.read("MAX_M"),
                "max_k": await self.read("MAX_K"), "max_n": await self.read("MAX_N")}
        for fl in _REGS["CAPS"].fields:
            info[fl.name.lower()] = (caps & fl.mask) >> fl.lsb
        return info

    async def status(self, counters: bool = False) -> Status:
        st = Status.decode(await self.read("STATUS"))
        if counters:
            st.cycles = await self.read("CYCLES")
            st.busy_cycles = await self.read("BUSY_CYCLES")
            st.stall_cycles = await self.read("STALL_CYCLES")
        return st

    async def clear(self) -> None:
        await self.write("CTRL", field_value("CTRL", CLEAR=1))

    async def program(self, registers: dict[str, int], irq: bool = True) -> None:
        for name, value in registers.items():
            await self.write(name, value)
        await self.write("IRQ_ENABLE", field_value("IRQ_ENABLE", DONE=int(irq)))

    async def start(self) -> None:
        await self.write("CTRL", field_value("CTRL", START=1))

    async def wait(self, *, irq_event=None, max_polls: int = 1_000_000) -> Status:
        """Wait for STATUS.DONE: on ``irq_event`` (an awaitable factory) if given, else polling."""
        if irq_event is not None:
            await irq_event()
        for _ in range(max_polls):
            st = await self.status()
            if st.done:
                return await self.status(counters=True)
        raise AcceleratorError(f"no DONE after {max_polls} status reads")

    async def run(self, image, *, irq_event=None, check: bool = True) -> Status:
        """Program the job of ``image`` (hdl.sw.image.MemoryImage), start it, wait for DONE."""
        await self.clear()
        await self.program(image.registers(), irq=True)
        await self.start()
        st = await self.wait(irq_event=irq_event)
        if check and st.error:
            raise AcceleratorError(f"job failed: {st.code.name} (STATUS error code {int(st.code)})")
        return st
