/* C equivalent of bench/pol/open_small.pol on tp_btf/sys_exit (the program
 * polc's file.open tp_btf backend runs): an open that returned a file, the
 * path as the kernel resolved it, written to when the file is open for
 * writing (f_mode). */
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

SEC("tp_btf/sys_exit")
int BPF_PROG(file_open, struct pt_regs *regs, long ret)
{
	struct file *file;
	u32 zero = 0;
	struct record *r;
	long len;

	if (ret < 0 || !is_open_call(regs->orig_ax))
		return 0;
	if (!in_scope())
		return 0;
	file = fd_file(ret);
	if (!file)
		return 0;
	r = bpf_map_lookup_elem(&scratch, &zero);
	if (!r)
		return 0;
	len = str_len(resolve_path(file, r->path) + 1, r->path);
	r->flags = BPF_CORE_READ(file, f_flags);

	if (is_secret(r->path, len)) {
		char comm[16];

		bpf_get_current_comm(comm, sizeof(comm));
		if (!is_trusted(comm))
			return enforce_by_signal(decide(r, sizeof(*r), 0, V_AUDIT));
	}
	if ((BPF_CORE_READ(file, f_mode) & FMODE_WRITE) && STR_PREFIX(r->path, len, "/etc/"))
		return enforce_by_signal(decide(r, sizeof(*r), 1, V_AUDIT));
	return 0;
}
