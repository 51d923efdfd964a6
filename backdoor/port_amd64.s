//go:build linux && amd64

#include "textflag.h"

// Regs layout: AX 0, BX 8, CX 16, DX 24, SI 32, DI 40, BP 48.
// BP is the frame pointer; it is saved in R9 around the call.

// func inout(r *Regs)
TEXT ·inout(SB), NOSPLIT, $0-8
	MOVQ r+0(FP), R8
	MOVQ BP, R9
	MOVQ 0(R8), AX
	MOVQ 8(R8), BX
	MOVQ 16(R8), CX
	MOVQ 24(R8), DX
	MOVQ 32(R8), SI
	MOVQ 40(R8), DI
	MOVQ 48(R8), BP
	INL
	MOVQ AX, 0(R8)
	MOVQ BX, 8(R8)
	MOVQ CX, 16(R8)
	MOVQ DX, 24(R8)
	MOVQ SI, 32(R8)
	MOVQ DI, 40(R8)
	MOVQ BP, 48(R8)
	MOVQ R9, BP
	RET

// func hbout(r *Regs)
TEXT ·hbout(SB), NOSPLIT, $0-8
	MOVQ r+0(FP), R8
	MOVQ BP, R9
	MOVQ 0(R8), AX
	MOVQ 8(R8), BX
	MOVQ 16(R8), CX
	MOVQ 24(R8), DX
	MOVQ 32(R8), SI
	MOVQ 40(R8), DI
	MOVQ 48(R8), BP
	CLD
	REP; OUTSB
	MOVQ AX, 0(R8)
	MOVQ BX, 8(R8)
	MOVQ CX, 16(R8)
	MOVQ DX, 24(R8)
	MOVQ SI, 32(R8)
	MOVQ DI, 40(R8)
	MOVQ BP, 48(R8)
	MOVQ R9, BP
	RET

// func hbin(r *Regs)
TEXT ·hbin(SB), NOSPLIT, $0-8
	MOVQ r+0(FP), R8
	MOVQ BP, R9
	MOVQ 0(R8), AX
	MOVQ 8(R8), BX
	MOVQ 16(R8), CX
	MOVQ 24(R8), DX
	MOVQ 32(R8), SI
	MOVQ 40(R8), DI
	MOVQ 48(R8), BP
	CLD
	REP; INSB
	MOVQ AX, 0(R8)
	MOVQ BX, 8(R8)
	MOVQ CX, 16(R8)
	MOVQ DX, 24(R8)
	MOVQ SI, 32(R8)
	MOVQ DI, 40(R8)
	MOVQ BP, 48(R8)
	MOVQ R9, BP
	RET

// func cpuid(leaf, sub uint32) (a, b, c, d uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL leaf+0(FP), AX
	MOVL sub+4(FP), CX
	CPUID
	MOVL AX, a+8(FP)
	MOVL BX, b+12(FP)
	MOVL CX, c+16(FP)
	MOVL DX, d+20(FP)
	RET
