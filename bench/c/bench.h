/* Shared by the C equivalents of the benchmark policies: what a BPF C
 * developer writes by hand for the semantics of a polc program.
 *
 * - The event record starts with polc's 48-byte header (time, rule id,
 *   verdict, program, pid/tid, uid/gid, comm); it is built in a per-CPU
 *   scratch record and sent with bpf_ringbuf_output on a match.
 * - Per-rule match counters and a loss counter (a failed output) live in a
 *   per-CPU array, as in polc.
 * - The run-time settings (scope cgroup, monitor mode, the exempt process)
 *   are read-only globals the loader sets before loading, so the verifier
 *   treats them as constants and removes the code they turn off.
 * - Strings are compared the usual way: the length returned by
 *   bpf_probe_read_*_str first, then a byte loop the compiler unrolls.
 *
 * Every scenario file includes this header, defines N_RULES and its record
 * struct, and calls decide() on the first rule that matches.
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#ifndef N_RULES
#error "a scenario defines N_RULES before including bench.h"
#endif

/* Verdict codes of the event header (polc's abi::Verdict). */
#define V_AUDIT 1
#define V_DENY 2
#define V_KILL 3

#define AF_INET 2
#define AF_INET6 10
#define O_ACCMODE 3
#define SIGKILL 9

/* Set by the loader before the programs load (BPF_F_RDONLY_PROG, frozen). */
const volatile u64 scope_cgroup = 0;
const volatile u32 scope_level = 0;
const volatile u32 monitor = 0;
const volatile u32 exempt_tgid = 0;

struct header {
	u64 time_ns;
	u32 rule_id;
	u8 verdict;
	u8 pad;
	u16 program;
	u64 pid_tgid;
	u64 uid_gid;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

/* One per rule, then lost events. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, N_RULES + 1);
	__type(key, u32);
	__type(value, u64);
} counters SEC(".maps");

static __always_inline void count(u32 index)
{
	u64 *counter = bpf_map_lookup_elem(&counters, &index);

	if (counter)
		*counter += 1;
}

/* The per-CPU scratch record `scratch` of a program, of type `record_type`
 * (too large for the 512-byte stack). */
#define SCRATCH_MAP(record_type)                                                          \
	struct {                                                                           \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                                   \
		__uint(max_entries, 1);                                                    \
		__type(key, u32);                                                          \
		__type(value, record_type);                                                \
	} scratch SEC(".maps")

/* Whether the current task is in the scope (every task when unset). */
static __always_inline bool in_scope(void)
{
	return !scope_cgroup || bpf_get_current_ancestor_cgroup_id(scope_level) == scope_cgroup;
}

/* The length without the NUL of a string bpf_probe_read_*_str returned
 * `ret` for; a failed read is the empty string. */
static __always_inline long str_len(long ret, char *buf)
{
	if (ret > 0)
		return ret - 1;
	buf[0] = 0;
	return 0;
}

/* Longest literal the compare loops unroll for. */
#define MAX_LIT 64

static __always_inline bool bytes_eq(const char *s, const char *lit, long n)
{
	for (int i = 0; i < MAX_LIT; i++) {
		if (i >= n)
			break;
		if (s[i] != lit[i])
			return false;
	}
	return true;
}

#define STR_EQ(s, len, lit) ((len) == sizeof(lit) - 1 && bytes_eq(s, lit, sizeof(lit) - 1))
#define STR_PREFIX(s, len, lit) ((len) >= sizeof(lit) - 1 && bytes_eq(s, lit, sizeof(lit) - 1))
/* A 16-byte comm from bpf_get_current_comm, NUL included in the compare. */
#define COMM_EQ(comm, lit) bytes_eq(comm, lit, sizeof(lit))

/* The match of `rule`: count, report, enforce. Returns the verdict. */
static __always_inline int decide(void *record, u32 len, u32 rule, u8 verdict)
{
	struct header *h = record;
	u64 pid_tgid = bpf_get_current_pid_tgid();

	if ((u32)(pid_tgid >> 32) == exempt_tgid)
		return 0;
	count(rule);
	if (monitor && verdict >= V_DENY)
		verdict += 2;
	h->time_ns = bpf_ktime_get_boot_ns();
	h->rule_id = rule;
	h->verdict = verdict;
	h->program = 0;
	h->pid_tgid = pid_tgid;
	h->uid_gid = bpf_get_current_uid_gid();
	bpf_get_current_comm(h->comm, sizeof(h->comm));
	if (bpf_ringbuf_output(&events, record, len, 0))
		count(N_RULES);
	return verdict;
}

/* Enforcement where the hook cannot refuse (tracepoints): SIGKILL. */
static __always_inline int enforce_by_signal(int verdict)
{
	if (verdict == V_DENY || verdict == V_KILL)
		bpf_send_signal(SIGKILL);
	return 0;
}
