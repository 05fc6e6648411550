//! BPF instruction level: the assembler over `bpf-ins` (labels, relocations,
//! worst-case path length, disassembly). Knows nothing of policies or ELF.

pub mod asm;
