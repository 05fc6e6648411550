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
 *   bpf_probe_read_*_str (or the path walk below) first, then a byte loop
 *   the compiler unrolls.
 *
 * Every scenario file includes this header, defines N_RULES and its record
 * struct, and calls decide() on the first rule that matches.
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
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
#define FMODE_READ 0x1
#define FMODE_WRITE 0x2
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
/* A suffix of a string in a 256-byte buffer (a string longer than the
 * buffer ends outside it: no match). */
#define STR_SUFFIX(s, len, lit)                                                           \
	((len) >= sizeof(lit) - 1 && (len) <= 255 &&                                        \
	 bytes_eq((s) + ((len) - (sizeof(lit) - 1)), lit, sizeof(lit) - 1))
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

/* Paths as the kernel resolved them. tp_btf programs cannot call bpf_d_path
 * (the kernel allows it on a few LSM and fentry hooks only), so the path is
 * rendered the way d_path does it: from the file's dentry up to the root,
 * crossing mounts, each name copied right to left into a render buffer; a
 * bounded loop of PATH_DEPTH steps (polc's MAX_PATH_DEPTH). */
#define PATH_DEPTH 64
#define RENDER_LEN 4096
#define NAME_MAX_LEN 255

struct render {
	char buf[RENDER_LEN + NAME_MAX_LEN + 1];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct render);
} render SEC(".maps");

/* The path of `file` into `out` (its first 255 bytes and a NUL); returns
 * its length, or -1 when it is deeper than PATH_DEPTH components or longer
 * than RENDER_LEN - 1 bytes (then out is empty). */
static __always_inline long resolve_path(struct file *file, char out[256])
{
	u32 zero = 0;
	struct render *rb = bpf_map_lookup_elem(&render, &zero);
	struct dentry *d, *parent;
	struct vfsmount *vfsmnt;
	struct mount *mnt, *mnt_parent;
	u32 off = RENDER_LEN - 1, len;

	out[0] = 0;
	if (!rb)
		return -1;
	d = BPF_CORE_READ(file, f_path.dentry);
	vfsmnt = BPF_CORE_READ(file, f_path.mnt);
	mnt = container_of(vfsmnt, struct mount, mnt);
	rb->buf[RENDER_LEN - 1] = 0;
	for (int i = 0; i < PATH_DEPTH; i++) {
		struct qstr name;

		if (d == BPF_CORE_READ(mnt, mnt.mnt_root)) {
			mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
			if (mnt_parent == mnt)
				goto done;
			d = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			continue;
		}
		parent = BPF_CORE_READ(d, d_parent);
		if (parent == d)
			goto done;
		name = BPF_CORE_READ(d, d_name);
		len = name.len & NAME_MAX_LEN;
		if (len + 1 > off)
			return -1;
		off = (off - len - 1) & (RENDER_LEN - 1);
		bpf_probe_read_kernel(&rb->buf[off + 1], len, name.name);
		rb->buf[off] = '/';
		d = parent;
	}
	return -1;
done:
	if (off == RENDER_LEN - 1) {
		off = RENDER_LEN - 2;
		rb->buf[off] = '/';
	}
	off &= RENDER_LEN - 1;
	bpf_probe_read_kernel(out, 256, &rb->buf[off]);
	out[255] = 0;
	return RENDER_LEN - 1 - off;
}

/* The file open as descriptor `fd` in the current task (NULL if none). */
static __always_inline struct file *fd_file(long fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;

	if (fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	return file;
}

/* Whether system call `nr` (x86-64) opens a file. */
static __always_inline bool is_open_call(long nr)
{
	return nr == 2 /* open */ || nr == 257 /* openat */ || nr == 437 /* openat2 */ ||
	       nr == 85 /* creat */ || nr == 304 /* open_by_handle_at */;
}
