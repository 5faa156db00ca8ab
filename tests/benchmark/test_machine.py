"""The machine header of strided bench: CPU model, vector flags, cores, load."""

from strided.benchmark import machine

CPUINFO = """processor\t: 0
model name\t: Example CPU 9000
flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512_bf16 amx_tile
processor\t: 1
model name\t: Example CPU 9000
"""


def test_cpu_info_names_the_model_and_only_the_vector_flags_that_matter():
    info = machine.cpu_info(CPUINFO)
    assert info == {"cpu": "Example CPU 9000", "flags": ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16",
                                                         "amx_tile"]}


def test_the_header_has_the_cpu_its_flags_the_cores_and_the_load():
    header = machine.machine_header()
    assert {"cpu", "flags", "cores", "usable_cores", "platform", "load_start"} <= set(header)
    assert header["cpu"] and header["cores"] >= header["usable_cores"] >= 1
    assert len(header["load_start"]) == 3
