/* C equivalent of bench/pol/open_small.pol on tracepoint
 * syscalls/sys_enter_openat (the program polc's file.open tracepoint
 * backend runs for openat). */
#define N_RULES 2
#include "bench.h"

struct record {
	struct header h;
	u64 flags;
	char path[256];
};

SCRATCH_MAP(struct record);

static __always_inline bool is_secret(const char *path, long len)
{
	return STR_EQ(path, len, "/etc/shadow") || STR_EQ(path, len, "/etc/gshadow") ||
	       STR_EQ(path, len, "/etc/sudoers") || STR_EQ(path, len, "/tmp/polc-bench/secret");
}

static __always_inline bool is_trusted(const char *comm)
{
	return COMM_EQ(comm, "sshd") || COMM_EQ(comm, "login") || COMM_EQ(comm, "passwd") ||
	       COMM_EQ(comm, "sudo");
}

SEC("tracepoint/syscalls/sys_enter_openat")
int file_open(struct trace_event_raw_sys_enter *ctx)
{
	u32 zero = 0;
	struct record *r;
	long len;

	if (!in_scope())
		return 0;
	r = bpf_map_lookup_elem(&scratch, &zero);
	if (!r)
		return 0;
	len = str_len(bpf_probe_read_user_str(r->path, sizeof(r->path), (const char *)ctx->args[1]),
		      r->path);
	r->flags = (u32)ctx->args[2];

	if (is_secret(r->path, len)) {
		char comm[16];

		bpf_get_current_comm(comm, sizeof(comm));
		if (!is_trusted(comm))
			return enforce_by_signal(decide(r, sizeof(*r), 0, V_AUDIT));
	}
	if ((r->flags & O_ACCMODE) && STR_PREFIX(r->path, len, "/etc/"))
		return enforce_by_signal(decide(r, sizeof(*r), 1, V_AUDIT));
	return 0;
}
